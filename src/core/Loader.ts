/**
 * Loads a pipeline file: bundles it with esbuild (TypeScript, local imports, and Effect itself so
 * that start-up stays fast), imports the bundle and returns its default-exported pipeline together
 * with its code graph (each project module analysed declaration by declaration, `CodeGraph`, and
 * its imports resolved from esbuild's metafile), which `Fingerprint` turns into per-stage code
 * fingerprints.
 *
 * Bundles are content-addressed under `<root>/.pinkflow/build/` and reused while none of the files
 * that went into them has changed (size, mtime, ctime and inode), so a no-op rerun never starts
 * esbuild. Dynamic `import()`s become separate chunks: a stage body that imports TF.js lazily
 * keeps TF.js out of every run that does not execute that stage.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { isBuiltin } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as CodeGraph from "./CodeGraph.ts"
import { PipelineError } from "./Dag.ts"
import * as Digest from "./Digest.ts"
import * as Fingerprint from "./Fingerprint.ts"
import * as Pipeline from "./Pipeline.ts"
import { MODULE_MARKER } from "./Stage.ts"
import * as Atomic from "./Atomic.ts"

export type Graph = CodeGraph.Graph

export interface Loaded {
  readonly pipeline: Pipeline.Pipeline
  /** The pipeline file, project-relative. */
  readonly file: string
  readonly root: string
  /** Every project module of the bundle, analysed declaration by declaration. */
  readonly graph: Graph
  /** The modules the pipeline file loads statically (their top-level effects run at every load). */
  readonly eager: ReadonlySet<string>
  /** `Input.ts` of this framework, project-relative, when the bundle holds it (its constructors take wiring as data). */
  readonly wiringModule: string | undefined
  /** The bundle's entry module (absolute), which worker processes import. */
  readonly bundle: string
}

/**
 * Packages compiled into pipeline bundles (pure JavaScript, costly to import unbundled), and
 * pinkflow itself: its public API (`import { Stage } from "pinkflow"`) comes from its TypeScript
 * source (the `pinkflow-source` export condition), so stages share one Effect runtime with the body
 * code. In a user's project it is a package (its version is in every key); in this repository the
 * self-reference resolves to `src/index.ts`.
 */
const BUNDLED = new Set(["effect", "@effect/platform", "@dagrejs/graphlib", "pinkflow"])

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

/** Bump when the analysis changes: older build records are rebuilt. */
const FORMAT = 4

interface BuildRecord {
  readonly format: number
  readonly entry: string
  /** The project module that is this framework's `Input.ts` (the same code), if the bundle holds one. */
  readonly wiring: string | undefined
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

/** Strips types, comments and formatting: the text both the analysis and the bundle see. */
const normalise = async (file: string, source: string): Promise<string> => {
  const esbuild = await import("esbuild")
  const ext = path.extname(file).replace(/^\.[cm]?/, "")
  const loader = (["ts", "tsx", "js", "jsx"].includes(ext) ? ext : "js") as "ts" | "tsx" | "js" | "jsx"
  const { code } = await esbuild.transform(source, { loader, minifyWhitespace: true, legalComments: "none", format: "esm", target: "esnext", sourcefile: file })
  return code
}

const build = async (root: string, file: string, outdir: string): Promise<BuildRecord> => {
  const esbuild = await import("esbuild")
  const analyses = new Map<string, CodeGraph.Analysis>()
  const texts = new Map<string, string>()
  const markerPlugin = {
    name: "pinkflow-code-graph",
    setup(b: import("esbuild").PluginBuild) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith("node:") || path.isAbsolute(args.path)) return { external: true }
        return BUNDLED.has(packageName(args.path)) ? undefined : { external: true }
      })
      b.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined
        const rel = path.relative(root, args.path).split(path.sep).join("/")
        const source = await fs.promises.readFile(args.path, "utf8")
        let normalised: string
        try {
          normalised = await normalise(rel, source)
        } catch (e) {
          // A syntax error: esbuild reports it with its location, like its own.
          const errors = (e as { errors?: Array<import("esbuild").PartialMessage> }).errors
          if (errors === undefined) throw e
          return { errors }
        }
        const marker = (i: number) => `globalThis[Symbol.for(${JSON.stringify(MODULE_MARKER.description)})]=${JSON.stringify(`${rel}#${i}`)}`
        const { analysis, code } = await CodeGraph.analyse(normalised, marker)
        analyses.set(rel, analysis)
        texts.set(rel, Digest.ofBytes(normalised))
        return { contents: code, loader: "js" as const }
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
    conditions: ["pinkflow-source"],
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
  // Every literal import() is an entry point of its own chunk too: the pipeline's is the one of its file.
  const main = path.relative(root, path.resolve(root, file)).split(path.sep).join("/")
  const found = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint === main)
  if (found === undefined) throw new Error(`esbuild wrote no output for the entry ${main}`)
  const entry = found[0]
  const graph: Record<string, CodeGraph.Module> = {}
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
    const analysis = analyses.get(input)
    if (analysis === undefined) continue
    const resolved: Record<string, CodeGraph.Target> = {}
    const staticImports: Array<string> = []
    for (const imp of meta.imports) {
      if (imp.path.startsWith("<")) continue
      const spec = imp.original ?? imp.path
      const nm = imp.path.lastIndexOf("node_modules/")
      if (imp.path.startsWith("node:") || isBuiltin(imp.path)) resolved[spec] = { builtin: imp.path }
      else if (imp.external === true || nm >= 0) {
        const name = packageName(nm >= 0 ? imp.path.slice(nm + "node_modules/".length) : imp.path)
        resolved[spec] = { package: name, version: versionOf(input, name) }
      } else {
        resolved[spec] = { module: imp.path }
        if (imp.kind === "import-statement") staticImports.push(imp.path)
      }
    }
    graph[input] = { ...analysis, resolved, staticImports: [...new Set(staticImports)].sort() }
  }
  // The input constructors take wiring as data only in a module whose code is exactly this framework's Input.ts.
  const inputText = INPUT_MODULE === undefined ? undefined : Digest.ofBytes(await normalise(INPUT_MODULE, fs.readFileSync(INPUT_MODULE, "utf8")))
  const wiring = [...texts].find(([, d]) => d === inputText)?.[0]
  return { format: FORMAT, entry: path.relative(outdir, path.join(root, entry)), wiring, inputs, graph }
}

/** This framework's `Input.ts`, beside this module (run from source) or two levels above the CLI bundle. */
const INPUT_MODULE = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url))
  return [path.join(here, "Input.ts"), path.join(here, "..", "src", "core", "Input.ts")].find((f) => fs.existsSync(f))
})()

const loadError = (file: string, detail: string) => new PipelineError({ reason: "load", file, detail })

const describeBuildFailure = (e: unknown): string => {
  const errors = (e as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> }).errors
  const first = errors?.[0]
  if (first === undefined) return e instanceof Error ? e.message : String(e)
  const at = first.location === undefined || first.location === null ? "" : `${first.location.file}:${first.location.line}:${first.location.column + 1}: `
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
    const fresh = record.format === FORMAT && fs.existsSync(path.join(outdir, record.entry)) &&
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
  return {
    pipeline: mod.default,
    file,
    root,
    graph: record.graph,
    eager: Fingerprint.eager(record.graph, file),
    wiringModule: record.wiring,
    bundle
  } satisfies Loaded
})
