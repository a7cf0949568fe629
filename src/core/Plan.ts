/**
 * Planning: from a loaded pipeline and param overrides to validated, fingerprinted stages in
 * topological order, and the cache key of a stage once its input digests are known.
 *
 * Nothing here runs a stage body or reads an artifact's bytes: planning only resolves params,
 * reads environment fields and slices the code graph (`Fingerprint`).
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as CacheKey from "./CacheKey.ts"
import * as Dag from "./Dag.ts"
import * as Digest from "./Digest.ts"
import * as Fingerprint from "./Fingerprint.ts"
import type * as Input from "./Input.ts"
import type * as Loader from "./Loader.ts"
import * as Pipeline from "./Pipeline.ts"
import type * as Stage from "./Stage.ts"
import { StatCache } from "./StatCache.ts"

export interface Planned {
  readonly stage: Stage.Any
  readonly params: unknown
  readonly encodedParams: unknown
  readonly code: Fingerprint.Fingerprint
  readonly env: Readonly<Record<string, string>>
}

export interface Plan {
  readonly loaded: Loader.Loaded
  readonly variant: Pipeline.Variant
  readonly dag: Dag.Dag
  readonly order: ReadonlyArray<string>
  readonly stages: ReadonlyMap<string, Planned>
}

const paramsError = (file: string, stage: string | undefined, detail: string) =>
  new Dag.PipelineError({ reason: "params", file, stage, detail })

/** The values of a stage's declared environment fields. */
const readEnv = (stage: Stage.Any) =>
  Effect.forEach(Object.entries(stage.env), ([field, read]) =>
    Effect.try({
      try: () => [field, String(read())] as const,
      catch: (e) => `env field ${field}: ${e instanceof Error ? e.message : String(e)}`
    })).pipe(Effect.map((entries): Readonly<Record<string, string>> => Object.fromEntries(entries)))

/** Plans one variant of a loaded pipeline. */
export const make = Effect.fn("Plan.make")(function*(loaded: Loader.Loaded, variant: Pipeline.Variant) {
  const built = Dag.make(loaded.pipeline, loaded.file, loaded.root)
  if (!built.ok) return yield* built.error
  const dag = built.dag
  for (const [name, values] of Object.entries(variant.overrides)) {
    if (!dag.hasNode(name)) {
      return yield* paramsError(loaded.file, undefined, `cannot set ${Object.keys(values).map((k) => `${name}.${k}`).join(", ")}: no stage named "${name}"`)
    }
  }
  const order = built.order
  // One slice per declaring statement, however many stages it declares.
  const prints = new Map<string, Fingerprint.Fingerprint>()
  const fingerprint = (stage: Stage.Any): Fingerprint.Fingerprint => {
    const declared = stage.module !== undefined && stage.statement !== undefined ? { module: stage.module, statement: stage.statement } : undefined
    const id = declared === undefined ? "" : `${declared.module}#${declared.statement}`
    let print = prints.get(id)
    if (print === undefined) {
      print = Fingerprint.ofStage(loaded.graph, declared, loaded.eager, loaded.wiringModule)
      prints.set(id, print)
    }
    return print
  }
  const stages = new Map<string, Planned>()
  for (const name of order) {
    const stage = dag.node(name)
    const resolved = stage.resolveParams(variant.overrides[name] ?? {})
    if (!resolved.ok) return yield* paramsError(loaded.file, name, `invalid params: ${resolved.message}`)
    const env = yield* readEnv(stage).pipe(Effect.mapError((detail) => paramsError(loaded.file, name, detail)))
    stages.set(name, { stage, params: resolved.params, encodedParams: resolved.encoded, code: fingerprint(stage), env })
  }
  return { loaded, variant, dag, order, stages } satisfies Plan
})

/** The content digest of a project file or directory input (stat-cached). */
export const projectDigest = (
  cache: StatCache["Service"],
  root: string,
  input: Input.FromProject
): Promise<string> => {
  const full = path.resolve(root, input.path)
  const hashFile = (f: string) => cache.get(f, "sha256", async (abs) => (await Digest.ofFile(abs)).digest)
  return input.kind === "file"
    ? hashFile(full)
    : Digest.ofTree(full, async (f) => ({ digest: (await hashFile(f)) as Digest.Digest, size: fs.statSync(f).size }))
      .then((t) => t.digest)
}

/**
 * The input records of a planned stage: project inputs by their (stat-cached) content digests,
 * stage inputs by the digests `outputsOf` reports for their upstream stage. Inputs whose upstream
 * outputs are not known (not computed, or stale) are returned as `unknown`.
 */
export const inputRecords = async (
  cache: StatCache["Service"],
  root: string,
  planned: Planned,
  outputsOf: (stage: string) => Readonly<Record<string, { readonly digest: string }>> | undefined
): Promise<{ readonly records: Record<string, CacheKey.InputRecord>; readonly unknown: ReadonlyArray<{ readonly input: string; readonly stage: string }> }> => {
  const records: Record<string, CacheKey.InputRecord> = {}
  const unknown: Array<{ input: string; stage: string }> = []
  for (const [input, spec] of Object.entries(planned.stage.inputs)) {
    if (spec._tag === "FromProject") {
      records[input] = { kind: spec.kind, digest: await projectDigest(cache, root, spec), from: spec.path }
      continue
    }
    const produced = outputsOf(spec.stage)?.[spec.output]
    if (produced === undefined) unknown.push({ input, stage: spec.stage })
    else records[input] = { kind: spec.kind, digest: produced.digest, from: `${spec.stage}.${spec.output}` }
  }
  return { records, unknown }
}

/** The key record of a planned stage, given the digests of its inputs. */
export const keyRecord = (
  planned: Planned,
  inputs: Readonly<Record<string, CacheKey.InputRecord>>
): CacheKey.KeyRecord => ({
  stage: planned.stage.name,
  version: planned.stage.version ?? null,
  code: planned.code,
  params: planned.encodedParams,
  inputs,
  env: planned.env
})
