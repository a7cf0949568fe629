/**
 * `pinkflow ui`: a local HTTP server (loopback by default) for the lineage explorer — the static
 * app and the JSON API of `Api.ts`, read fresh from the lineage database on every request, so a
 * run in progress shows live.
 */
import { Effect, Exit, Layer, ManagedRuntime } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import * as LineageDb from "../core/Lineage.ts"
import { Lineage } from "../core/Lineage.ts"
import { StatCache } from "../core/StatCache.ts"
import { Store } from "../core/Store.ts"
import { Substitutes } from "../core/Substitute.ts"
import * as Api from "./Api.ts"

export interface Options {
  readonly storeRoot: string
  /** The project directory pipeline paths are relative to. */
  readonly projectRoot: string
  readonly host: string
  readonly port: number
  /** Where index.html, app.js and app.css are. */
  readonly appDir: string
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".jsonl": "text/plain; charset=utf-8",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".svg": "image/svg+xml",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8"
}

class NotFound extends Error {}

const sniff = (file: string, name: string): string => {
  const ext = path.extname(name).toLowerCase()
  if (TYPES[ext] !== undefined) return TYPES[ext]
  const head = Buffer.alloc(8)
  const fd = fs.openSync(file, "r")
  fs.readSync(fd, head, 0, 8, 0)
  fs.closeSync(fd)
  if (head.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]))) return TYPES[".png"]!
  if (head[0] === 0xff && head[1] === 0xd8) return TYPES[".jpg"]!
  return "text/plain; charset=utf-8"
}

/** Starts the server; resolves with its address once listening. Closes when the scope closes. */
export const serve = (o: Options) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: http.Server; readonly url: string }, Error>((resume) => {
      const store = Store.make(o.storeRoot)
      const base = Lineage.make(path.join(o.storeRoot, "lineage.json"))
      // The parsed database is kept while the file is unchanged (10,000 runs are ~35 MB of JSON),
      // for the API's own views and for the engine's status (through the Lineage service below).
      let cached: { readonly sig: string; readonly exit: Promise<Exit.Exit<LineageDb.Database, LineageDb.LineageError>> } | undefined
      const read = Effect.suspend(() => {
        const st = fs.statSync(base.file, { throwIfNoEntry: false })
        const sig = st === undefined ? "none" : `${st.ino}:${st.size}:${st.mtimeMs}`
        if (cached?.sig !== sig) cached = { sig, exit: Effect.runPromiseExit(base.read) }
        return Effect.flatMap(Effect.promise(() => cached!.exit), (exit) => exit)
      })
      const lineage = Lineage.of({ ...base, read })
      const services = Layer.mergeAll(
        Layer.succeed(Store, store),
        Substitutes.none.pipe(Layer.provide(Layer.succeed(Store, store))),
        Layer.succeed(Lineage, lineage),
        StatCache.layer(path.join(o.storeRoot, "statcache.json"))
      )
      const runtime = ManagedRuntime.make(services)
      const db = () => runtime.runPromise(lineage.read)
      const pipelineFile = (q: URLSearchParams) => {
        const p = q.get("pipeline") ?? ""
        const abs = path.resolve(o.projectRoot, p)
        if (p === "" || !abs.startsWith(o.projectRoot + path.sep) || !fs.existsSync(abs)) throw new NotFound(`no pipeline file ${p}`)
        return abs
      }
      const number = (q: URLSearchParams, name: string, fallback: number) => {
        const v = Number(q.get(name) ?? fallback)
        return Number.isFinite(v) && v >= 0 ? v : fallback
      }

      const api = async (route: string, q: URLSearchParams): Promise<unknown> => {
        switch (route) {
          case "/api/overview": {
            const d = await db()
            const onDisk = fs.existsSync(path.join(o.projectRoot, "pipelines"))
              ? fs.readdirSync(path.join(o.projectRoot, "pipelines"), { recursive: true, encoding: "utf8" })
                .filter((f) => /\.(ts|js|mts|mjs)$/.test(f) && !f.includes("node_modules")).map((f) => `pipelines/${f.split(path.sep).join("/")}`).sort()
              : []
            return { store: o.storeRoot, runs: d.runs.length, executions: Object.keys(d.executions).length, pipelines: Api.pipelines(d), files: onDisk }
          }
          case "/api/runs": {
            const sort = (q.get("sort") ?? "startedAt") as keyof Api.RunRow
            return Api.runs(await db(), { offset: number(q, "offset", 0), limit: Math.min(500, number(q, "limit", 50)), filter: q.get("filter") ?? "", sort, descending: q.get("dir") !== "asc" })
          }
          case "/api/run": {
            const r = Api.run(await db(), q.get("id") ?? "")
            if (r === undefined) throw new NotFound(`no run ${q.get("id")}`)
            return r
          }
          case "/api/dag":
            return runtime.runPromise(Api.dag(pipelineFile(q), o.storeRoot, await db()))
          case "/api/stage": {
            const s = await runtime.runPromise(Api.stage(pipelineFile(q), q.get("stage") ?? ""))
            if (s === undefined) throw new NotFound(`no stage ${q.get("stage")}`)
            return s
          }
          case "/api/lineage":
            return Api.lineage(await db(), q.get("digest") ?? "")
          case "/api/compare":
            return runtime.runPromise(Api.compare(await db(), (q.get("runs") ?? "").split(",").filter((x) => x !== "")))
          case "/api/metrics":
            return Api.metrics(await db(), store, q.get("pipeline") ?? "")
          case "/api/curves":
            return Api.curves(await db(), store, q.get("run") ?? "")
          case "/api/gallery":
            return Api.gallery(await db(), store, q.get("key") ?? "", number(q, "limit", 24))
          case "/api/bootstrap":
            return Api.bootstrap(await db(), store, q.get("key") ?? "", number(q, "minIou", 0.5), number(q, "limit", 200))
        }
        throw new NotFound(`no such endpoint ${route}`)
      }

      const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
        const url = new URL(req.url ?? "/", "http://localhost")
        try {
          if (url.pathname.startsWith("/api/blob/") || url.pathname.startsWith("/api/tree/")) {
            const [digest, ...rest] = decodeURIComponent(url.pathname.slice("/api/xxxx/".length)).split("/")
            const file = Api.blobFile(store, digest ?? "", url.pathname.startsWith("/api/tree/") ? rest.join("/") : undefined)
            if (file === undefined) throw new NotFound(`no object ${url.pathname}`)
            res.writeHead(200, { "content-type": sniff(file, rest.join("/")), "cache-control": "max-age=31536000, immutable" })
            fs.createReadStream(file).pipe(res)
            return
          }
          if (url.pathname.startsWith("/api/")) {
            const body = JSON.stringify(await api(url.pathname, url.searchParams))
            res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
            res.end(body)
            return
          }
          const name = url.pathname === "/" ? "index.html" : path.basename(url.pathname)
          const file = path.join(o.appDir, name)
          if (!fs.existsSync(file)) throw new NotFound(`no page ${url.pathname}`)
          res.writeHead(200, { "content-type": TYPES[path.extname(name)] ?? "text/plain" })
          fs.createReadStream(file).pipe(res)
        } catch (e) {
          const notFound = e instanceof NotFound
          const message = e instanceof Error ? e.message : String(e)
          res.writeHead(notFound ? 404 : 500, { "content-type": "application/json" })
          res.end(JSON.stringify({ error: message }))
        }
      }

      const server = http.createServer((req, res) => void handle(req, res))
      server.on("error", (e) => resume(Effect.fail(e)))
      server.listen(o.port, o.host, () => {
        const a = server.address()
        const port = typeof a === "object" && a !== null ? a.port : o.port
        server.on("close", () => void runtime.dispose())
        resume(Effect.succeed({ server, url: `http://${o.host.includes(":") ? `[${o.host}]` : o.host}:${port}/` }))
      })
    }),
    ({ server }) => Effect.callback<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
  )
