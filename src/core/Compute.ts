/**
 * Computing one stage key: the part of execution every executor shares. The local executor calls
 * it in process; the Slurm executor's jobs call it through `pinkflow job` on a compute node.
 */
import { Data, Effect } from "effect"
import { fork } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Artifact from "./Artifact.ts"
import type * as CacheKey from "./CacheKey.ts"
import * as Digest from "./Digest.ts"
import type * as Event from "./Event.ts"
import * as Fault from "./Fault.ts"
import * as Maintenance from "./Maintenance.ts"
import type { Execution } from "./Lineage.ts"
import * as Plan from "./Plan.ts"
import type * as Stage from "./Stage.ts"
import { StatCache } from "./StatCache.ts"
import { Store, type CacheRecord, type Stored } from "./Store.ts"
import type * as Worker from "./Worker.ts"

export class StageFailed extends Data.TaggedError("StageFailed")<{
  readonly stage: string
  readonly detail: string
}> {
  override get message(): string {
    return `stage ${this.stage} failed: ${this.detail}`
  }
}

export interface Options {
  /** The run the result is recorded under. */
  readonly run: string
  readonly emit: Event.Sink
  /** The worker script (`dist/worker.mjs`) for isolated stages; without it they run inline. */
  readonly worker?: string | undefined
  /** Run the body in a worker process even if the stage is not `isolated`. */
  readonly isolateAll?: boolean | undefined
}

const now = () => performance.now()

/** Runs a stage body in a child process; aborting the signal terminates it. */
const inWorker = (script: string, job: Worker.Job, log: (line: string) => void, signal: AbortSignal) =>
  new Promise<Stage.Executed>((resolve) => {
    const child = fork(script, [], { stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "advanced" })
    let result: Stage.Executed | undefined
    const lines = (stream: NodeJS.ReadableStream | null) =>
      stream?.setEncoding("utf8").on("data", (chunk: string) => chunk.split("\n").filter((l) => l !== "").forEach(log))
    lines(child.stdout)
    lines(child.stderr)
    child.on("message", (m: Worker.Message) => {
      if (m.type === "log") log(m.line)
      else result = m.result
    })
    const stop = () => {
      child.kill("SIGTERM")
      setTimeout(() => child.kill("SIGKILL"), 5000).unref()
    }
    signal.addEventListener("abort", stop, { once: true })
    child.on("exit", (code, sig) => {
      signal.removeEventListener("abort", stop)
      if (result !== undefined) return resolve(result)
      const interrupted = signal.aborted
      const message = interrupted ? "interrupted" : `worker process exited with ${sig ?? `code ${code}`} before finishing`
      resolve({ ok: false, interrupted, message, detail: message })
    })
    child.send(job)
  })

const validMetrics = (value: unknown): boolean =>
  typeof value === "object" && value !== null && !Array.isArray(value) &&
  Object.values(value).every((v) => typeof v === "number")

/**
 * Rehashes a stored input (every blob of a tree) before a stage reads it, through the stat
 * cache, so a damaged object is never fed to a stage: it fails naming the object instead.
 */
const checkStored = (store: Store["Service"], cache: StatCache["Service"], input: string, spec: CacheKey.InputRecord) =>
  Effect.tryPromise({
    try: async () => {
      const digests = [spec.digest, ...(Artifact.isTreeKind(spec.kind) ? store.manifest(spec.digest)?.entries.map(([, d]) => d) ?? [] : [])]
      for (const d of digests) {
        const actual = await cache.get(store.blobPath(d), "sha256", async (f) => (await Digest.ofFile(f)).digest)
        if (actual !== d) throw new Error(`stored object ${d.slice(0, 12)} is corrupt (its content no longer matches its digest); \`pinkflow verify --repair\` removes it and the results that need it`)
      }
    },
    catch: (e) => new StageFailed({ stage: "", detail: `input ${input}: ${e instanceof Error ? e.message : String(e)}` })
  })

/** The relative paths of the files under `dir`. */
const filesUnder = (dir: string, prefix = ""): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`])

/**
 * After the body: every stored input it was given must be as it was. A stage that wrote into a
 * stored object (its path is the object itself, and a read-only mode does not stop root) fails,
 * naming the input; the object is evicted with the results that need it, so the store stays
 * consistent and the stage that produced it runs again. A materialised tree whose files were
 * added, removed or replaced is dropped (the store materialises it again from its blobs).
 */
const checkUntouched = (store: Store["Service"], cache: StatCache["Service"], stage: string, input: string, spec: CacheKey.InputRecord, given: unknown) =>
  Effect.tryPromise({
    try: async (): Promise<string | undefined> => {
      if (Artifact.isValueKind(spec.kind)) return undefined
      const entries = Artifact.isTreeKind(spec.kind) ? store.manifest(spec.digest)?.entries ?? [] : []
      const blobs = [...(Artifact.isTreeKind(spec.kind) ? [] : [spec.digest]), ...entries.map(([, d]) => d)]
      const changed: Array<string> = []
      for (const d of new Set(blobs)) {
        const actual = fs.existsSync(store.blobPath(d)) ? await cache.get(store.blobPath(d), "sha256", async (f) => (await Digest.ofFile(f)).digest) : "missing"
        if (actual !== d) changed.push(d)
      }
      if (changed.length > 0) {
        Maintenance.evict(store, changed)
        return `input ${input} (${spec.from}): the stage changed the stored object it was given; the object was removed from the store, so the stage that produced it runs again`
      }
      if (typeof given === "string" && Artifact.isTreeKind(spec.kind) && fs.existsSync(given)) {
        const expected = new Map(entries.map(([rel, d]) => [rel, d]))
        const files = filesUnder(given)
        let intact = files.length === expected.size
        for (const rel of intact ? files : []) {
          const d = expected.get(rel)
          const file = path.join(given, rel)
          const a = fs.statSync(file)
          const b = fs.statSync(store.blobPath(d ?? ""), { throwIfNoEntry: false })
          // A hard link to the blob is checked with the blob; a copy (no hard links here) by its content.
          const same = d !== undefined && b !== undefined && (a.ino === b.ino && a.dev === b.dev ||
            (await cache.get(file, "sha256", async (f) => (await Digest.ofFile(f)).digest)) === d)
          if (!same) {
            intact = false
            break
          }
        }
        if (!intact) {
          fs.rmSync(given, { recursive: true, force: true })
          return `input ${input} (${spec.from}): the stage changed the directory it was given (files added, removed or replaced); its stored objects are intact`
        }
      }
      return undefined
    },
    catch: (e) => new StageFailed({ stage, detail: `input ${input}: ${e instanceof Error ? e.message : String(e)}` })
  }).pipe(Effect.flatMap((detail) => detail === undefined ? Effect.void : Effect.fail(new StageFailed({ stage, detail }))))

const inputValue = (store: Store["Service"], spec: CacheKey.InputRecord & { readonly path?: string }) => {
  if (spec.path !== undefined) return Effect.succeed<unknown>(spec.path)
  if (Artifact.isValueKind(spec.kind)) return store.readJson(spec.digest)
  if (Artifact.isTreeKind(spec.kind)) return store.materialize(spec.digest)
  return Effect.succeed<unknown>(store.blobPath(spec.digest))
}

/**
 * Runs a stage's body for `key` and stores its outputs: a private staging directory, its inputs
 * (stored ones rehashed first), the body (inline, or in a worker process), every output moved into
 * the store, project inputs re-checked, and only then the cache record. Returns the execution.
 */
export const compute = (plan: Plan.Plan, planned: Plan.Planned, key: string, record: CacheKey.KeyRecord, options: Options) =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* Store
    const cache = yield* StatCache
    const stage = planned.stage
    const staging = yield* store.staging(stage.name)
    const outDir = path.join(staging, "out")
    const workDir = path.join(staging, "work")
    fs.mkdirSync(workDir, { recursive: true })
    fs.mkdirSync(outDir, { recursive: true })
    const outputs: Record<string, string> = {}
    for (const [name, out] of Object.entries(stage.outputs)) {
      if (Artifact.isValueKind(out.kind)) continue
      outputs[name] = path.join(outDir, name)
      if (Artifact.isTreeKind(out.kind)) fs.mkdirSync(outputs[name], { recursive: true })
    }
    const inputs: Record<string, unknown> = {}
    for (const [name, spec] of Object.entries(stage.inputs)) {
      const rec = record.inputs[name]!
      if (spec._tag !== "FromProject") {
        yield* checkStored(store, cache, name, rec).pipe(Effect.mapError((e) => new StageFailed({ stage: stage.name, detail: e.detail })))
      }
      inputs[name] = yield* inputValue(store, 
        spec._tag === "FromProject" ? { ...rec, path: path.resolve(plan.loaded.root, spec.path) } : rec
      )
    }
    const log: Array<string> = []
    const checkpointDir = path.join(store.root, "checkpoints", key)
    fs.mkdirSync(checkpointDir, { recursive: true })
    const ctx = {
      stage: stage.name,
      params: planned.params,
      inputs,
      outputs,
      workDir,
      checkpointDir,
      log: (line: string) => {
        log.push(line)
        options.emit({ _tag: "StageLog", stage: stage.name, line })
        Fault.point("stage.log")
      }
    }
    const startedAt = new Date().toISOString()
    const t0 = now()
    options.emit({ _tag: "StageStarted", stage: stage.name, key })
    const isolated = options.worker !== undefined && (stage.isolated || options.isolateAll === true)
    const job: Worker.Job = { bundle: plan.loaded.bundle, stage: stage.name, overrides: plan.variant.overrides[stage.name] ?? {}, ctx: { stage: stage.name, inputs, outputs, workDir, checkpointDir } }
    const result = yield* Effect.tryPromise({
      try: (signal) => isolated ? inWorker(options.worker!, job, ctx.log, signal) : stage.execute(ctx, signal),
      catch: (e) => new StageFailed({ stage: stage.name, detail: String(e) })
    })
    for (const [name, spec] of Object.entries(stage.inputs)) {
      if (spec._tag !== "FromProject") yield* checkUntouched(store, cache, stage.name, name, record.inputs[name]!, inputs[name])
    }
    if (!result.ok) {
      if (result.interrupted) return yield* Effect.interrupt
      log.push(result.detail)
      return yield* new StageFailed({ stage: stage.name, detail: result.message })
    }
    const stored: Record<string, Stored> = {}
    for (const [name, out] of Object.entries(stage.outputs)) {
      if (Artifact.isValueKind(out.kind)) {
        const value = result.values[name]
        if (value === undefined) return yield* new StageFailed({ stage: stage.name, detail: `output ${name} (${out.kind}) was not returned` })
        if (out.kind === "metrics" && !validMetrics(value)) {
          return yield* new StageFailed({ stage: stage.name, detail: `output ${name}: metrics must be an object of numbers` })
        }
        stored[name] = { ...(yield* store.putJson(value)), kind: out.kind }
        continue
      }
      const p = outputs[name]!
      const st = fs.statSync(p, { throwIfNoEntry: false })
      if (st === undefined || (out.kind === "file" ? !st.isFile() : !st.isDirectory())) {
        return yield* new StageFailed({ stage: stage.name, detail: `output ${name} (${out.kind}) was not written to ${p}` })
      }
      stored[name] = out.kind === "file" ? yield* store.putFile(p) : { ...(yield* store.putTree(p)), kind: out.kind }
    }
    // A project input edited while the stage ran makes its result untrustworthy: do not cache it.
    for (const [name, spec] of Object.entries(stage.inputs)) {
      if (spec._tag !== "FromProject") continue
      const digest = yield* Effect.promise(() => Plan.projectDigest(cache, plan.loaded.root, spec))
      if (digest !== record.inputs[name]!.digest) {
        return yield* new StageFailed({ stage: stage.name, detail: `input ${name} (${spec.path}) changed while the stage ran; its result was not cached` })
      }
    }
    const durationMs = now() - t0
    const cacheRecord: CacheRecord = { key, record, outputs: stored, createdAt: startedAt, durationMs, run: options.run }
    yield* store.writeRecord(cacheRecord)
    Fault.point("stored")
    // The result is stored: in-stage checkpoints of this key are no longer needed.
    yield* Effect.promise(() => fs.promises.rm(checkpointDir, { recursive: true, force: true }))
    return { key, stage: stage.name, run: options.run, record, outputs: stored, startedAt, durationMs, log } satisfies Execution
  }))

