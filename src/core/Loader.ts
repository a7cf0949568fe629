/**
 * Loads a pipeline file: bundles it with esbuild (TypeScript, local imports, and Effect itself so
 * that start-up stays fast), imports the bundle and returns its default-exported pipeline together
 * with the import graph from esbuild's metafile, which `Fingerprint` turns into code fingerprints.
 *
 * Bundles are content-addressed under `<root>/.pinkflow/build/` and reused while none of the files
 * that went into them has changed (size, mtime, ctime and inode), so a no-op rerun never starts
 * esbuild. Dynamic `import()`s become separate chunks: a stage body that imports TF.js lazily
 * keeps TF.js out of every run that does not execute that stage.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { PipelineError } from "./Dag.ts"
import * as Digest from "./Digest.ts"
import * as Pipeline from "./Pipeline.ts"
import { MODULE_MARKER } from "./Stage.ts"
import * as Atomic from "./Atomic.ts"

/** One project module of the import graph. */
export interface Module {
  /** Project modules it imports (statically or dynamically), project-relative. */
  readonly imports: ReadonlyArray<string>
  /** Packages it imports, with their installed versions. */
  readonly packages: Readonly<Record<string, string>>
}

export type Graph = Readonly<Record<string, Module>>

export interface Loaded {
  readonly pipeline: Pipeline.Pipeline
  /** The pipeline file, project-relative. */
  readonly file: string
  readonly root: string
  readonly graph: Graph
  /** The bundle's entry module (absolute), which worker processes import. */
  readonly bundle: string
}

/** Packages compiled into pipeline bundles (pure JavaScript, costly to import unbundled). */
const BUNDLED = new Set(["effect", "@effect/platform", "@dagrejs/graphlib"])

const packageName = (specifier: string): string => {
  const parts = specifier.split("/")
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!
}

/** The project root: the nearest directory above `file` with a package.json. */
export const projectRoot = (file: string): string => {
  let dir = path.dirname(path.resolve(file))
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir
    const up = path.dirname(dir)
    if (up === dir) return path.dirname(path.resolve(file))
    dir = up
  }
}

type StatSig = readonly [size: number, mtimeMs: number, ctimeMs: number, ino: number]

const statSig = (file: string): StatSig | undefined => {
  const st = fs.statSync(file, { throwIfNoEntry: false })
  return st === undefined ? undefined : [st.size, st.mtimeMs, st.ctimeMs, st.ino]
}

interface BuildRecord {
  readonly entry: string
  readonly inputs: Readonly<Record<string, StatSig>>
  readonly graph: Graph
}

const findPackageJson = (root: string, fromDir: string, name: string): string | undefined => {
  let dir = fromDir
  for (;;) {
    const candidate = path.join(dir, "node_modules", name, "package.json")
    if (fs.existsSync(candidate)) return candidate
    const up = path.dirname(dir)
    if (up === dir || !up.startsWith(root)) {
      const atRoot = path.join(root, "node_modules", name, "package.json")
      return fs.existsSync(atRoot) ? atRoot : undefined
    }
    dir = up
  }
}

const build = async (root: string, file: string, outdir: string): Promise<BuildRecord> => {
  const esbuild = await import("esbuild")
  const markerPlugin = {
    name: "pinkflow-module-marker",
    setup(b: import("esbuild").PluginBuild) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith("node:") || path.isAbsolute(args.path)) return { external: true }
        return BUNDLED.has(packageName(args.path)) ? undefined : { external: true }
      })
      b.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined
        const rel = path.relative(root, args.path).split(path.sep).join("/")
        const source = await fs.promises.readFile(args.path, "utf8")
        const marker = `globalThis[Symbol.for(${JSON.stringify(MODULE_MARKER.description)})] = ${JSON.stringify(rel)};\n`
        const ext = path.extname(args.path).slice(1)
        const loader = (ext.endsWith("x") ? ext.slice(-3) : ext.replace(/^[cm]/, "")) as "ts" | "js" | "tsx" | "jsx"
        return { contents: marker + source, loader }
      })
    }
  }
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [file],
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outdir,
    entryNames: "[name]-[hash]",
    chunkNames: "chunk-[hash]",
    outExtension: { ".js": ".mjs" },
    metafile: true,
    write: false,
    // Smaller bundles parse faster; identifiers stay readable for stage stack traces.
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: "silent",
    plugins: [markerPlugin]
  })
  for (const out of result.outputFiles) {
    if (!fs.existsSync(out.path)) Atomic.writeFileSync(out.path, out.contents)
  }
  const entry = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint !== undefined)![0]
  const graph: Record<string, { imports: Array<string>; packages: Record<string, string> }> = {}
  const inputs: Record<string, StatSig> = {}
  const versions = new Map<string, string>()
  const versionOf = (importer: string, name: string): string => {
    const key = `${path.dirname(importer)}\0${name}`
    const known = versions.get(key)
    if (known !== undefined) return known
    const pj = findPackageJson(root, path.dirname(path.join(root, importer)), name)
    let version = "missing"
    if (pj !== undefined) {
      version = JSON.parse(fs.readFileSync(pj, "utf8")).version ?? "unknown"
      inputs[path.relative(root, pj)] = statSig(pj)!
    }
    versions.set(key, version)
    return version
  }
  for (const [input, meta] of Object.entries(result.metafile.inputs)) {
    if (input.includes("node_modules/")) continue
    inputs[input] = statSig(path.join(root, input))!
    const imports: Array<string> = []
    const packages: Record<string, string> = {}
    for (const imp of meta.imports) {
      if (imp.path.startsWith("node:") || imp.path.startsWith("<")) continue
      const nm = imp.path.lastIndexOf("node_modules/")
      if (imp.external === true || nm >= 0) {
        const spec = nm >= 0 ? imp.path.slice(nm + "node_modules/".length) : imp.path
        if (path.isAbsolute(spec)) continue
        const name = packageName(spec)
        packages[name] = versionOf(input, name)
      } else {
        imports.push(imp.path)
      }
    }
    graph[input] = { imports: [...new Set(imports)].sort(), packages }
  }
  return { entry: path.relative(outdir, path.join(root, entry)), inputs, graph }
}

const loadError = (file: string, detail: string) => new PipelineError({ reason: "load", file, detail })

const describeBuildFailure = (e: unknown): string => {
  const errors = (e as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } }> }).errors
  const first = errors?.[0]
  if (first === undefined) return e instanceof Error ? e.message : String(e)
  const at = first.location === undefined ? "" : `${first.location.file}:${first.location.line}:${first.location.column + 1}: `
  return `${at}${first.text}`
}

/** Loads and type-checks (at run time) the default export of a pipeline file. */
export const load = Effect.fn("Loader.load")(function*(pipelineFile: string) {
  const abs = path.resolve(pipelineFile)
  const root = projectRoot(abs)
  const file = path.relative(root, abs).split(path.sep).join("/")
  if (!fs.existsSync(abs)) return yield* loadError(pipelineFile, "no such pipeline file")
  if (!fs.statSync(abs).isFile()) return yield* loadError(pipelineFile, "not a file (give a pipeline file, e.g. pipelines/pink.ts)")
  const outdir = path.join(root, ".pinkflow", "build")
  const recordPath = path.join(outdir, `${Digest.ofBytes(abs).slice(0, 16)}.json`)

  const cached = yield* Effect.sync((): BuildRecord | undefined => {
    const text = fs.existsSync(recordPath) ? fs.readFileSync(recordPath, "utf8") : undefined
    if (text === undefined) return undefined
    const record = JSON.parse(text) as BuildRecord
    const fresh = fs.existsSync(path.join(outdir, record.entry)) &&
      Object.entries(record.inputs).every(([f, sig]) => {
        const now = statSig(path.join(root, f))
        return now !== undefined && now.every((v, i) => v === sig[i])
      })
    return fresh ? record : undefined
  }).pipe(Effect.orElseSucceed(() => undefined))

  const record = cached ?? (yield* Effect.tryPromise({
    try: () => build(root, file, outdir),
    catch: (e) => loadError(file, describeBuildFailure(e))
  }).pipe(Effect.tap((r) => Effect.sync(() => Atomic.writeFileSync(recordPath, JSON.stringify(r))))))

  const bundle = path.join(outdir, record.entry)
  const mod = yield* Effect.tryPromise({
    try: () => import(pathToFileURL(bundle).href) as Promise<{ default?: unknown }>,
    catch: (e) => loadError(file, `failed while loading: ${e instanceof Error ? e.message : String(e)}`)
  })
  if (!Pipeline.isPipeline(mod.default)) {
    return yield* loadError(file, "the default export is not a pipeline (export default Pipeline.make({...}))")
  }
  return { pipeline: mod.default, file, root, graph: record.graph, bundle } satisfies Loaded
})
