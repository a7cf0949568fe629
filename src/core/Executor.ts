/**
 * The local executor: runs a plan's stages in topological order, independent stages
 * concurrently within `--concurrency` CPU slots and `--gpus` GPU slots.
 *
 * Per stage: wait for its upstream stages; compute its key from their output digests (and the
 * project inputs' digests); reuse a complete cached result; otherwise take the key's lock (a second
 * process computing the same key waits, then reuses the result), run the body in a private staging
 * directory, move its outputs into the store, re-check its project inputs, and only then write the
 * cache record. A failure skips the stage's descendants and, without `keepGoing`, every stage not
 * yet started. Interruption removes staging directories and records the run as interrupted.
 */
import { Data, Deferred, Effect, Semaphore } from "effect"
import { fork } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Artifact from "./Artifact.ts"
import * as CacheKey from "./CacheKey.ts"
import * as Digest from "./Digest.ts"
import * as Fault from "./Fault.ts"
import type * as Event from "./Event.ts"
import { Lineage, type Execution, type StageInRun } from "./Lineage.ts"
import * as Lock from "./Lock.ts"
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
  readonly run: string
  readonly concurrency: number
  readonly gpus: number
  readonly keepGoing: boolean
  readonly force: ReadonlySet<string>
  readonly emit: Event.Sink
  /** The worker script (`dist/worker.mjs`) for isolated stages; without it they run inline. */
  readonly worker?: string | undefined
  /** Run every stage in a worker process. */
  readonly isolateAll?: boolean
}

export interface StageResult {
  readonly status: StageInRun["status"]
  readonly key: string | null
  readonly outputs: Readonly<Record<string, Stored>>
  readonly durationMs: number
  readonly error?: string | undefined
}

const now = () => performance.now()

const FLUSH_INTERVAL_MS = 1000

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

/** Executes one variant's plan; returns each stage's result, in plan order. */
export const execute = Effect.fn("Executor.execute")(function*(plan: Plan.Plan, options: Options) {
  const store = yield* Store
  const cache = yield* StatCache
  const lineage = yield* Lineage
  const cpu = yield* Semaphore.make(Math.max(1, options.concurrency))
  const gpu = yield* Semaphore.make(Math.max(1, options.gpus))
  const done = new Map<string, Deferred.Deferred<StageResult>>()
  for (const name of plan.order) done.set(name, yield* Deferred.make<StageResult>())
  let stopping = false

  // Executions reach lineage in batches (at most FLUSH_INTERVAL_MS apart, and at the end): one
  // database write per stage would make a run of n small stages cost O(n²). The cache record,
  // written first, holds everything but the log, so a crash between flushes loses no result.
  let pending: Array<Execution> = []
  let lastFlush = performance.now()
  const flush = Effect.suspend(() => {
    const batch = pending
    pending = []
    lastFlush = performance.now()
    return batch.length === 0 ? Effect.void : lineage.update((db) => {
      for (const e of batch) {
        db.executions[e.key] = e
        for (const [output, s] of Object.entries(e.outputs)) {
          db.artifacts[s.digest] ??= { kind: s.kind, size: s.size, producer: { key: e.key, stage: e.stage, output } }
        }
      }
    })
  })

  /**
   * Rehashes a stored input (every blob of a tree) before a stage reads it, through the stat
   * cache, so a damaged object is never fed to a stage: it fails naming the object instead.
   */
  const checkStored = (input: string, spec: CacheKey.InputRecord) =>
    Effect.tryPromise({
      try: async () => {
        const digests = [spec.digest]
        if (Artifact.isTreeKind(spec.kind)) {
          const m = JSON.parse(await fs.promises.readFile(store.blobPath(spec.digest), "utf8"))
          if (Digest.isManifest(m)) digests.push(...m.entries.map(([, d]) => d))
        }
        for (const d of digests) {
          const actual = await cache.get(store.blobPath(d), "sha256", async (f) => (await Digest.ofFile(f)).digest)
          if (actual !== d) throw new Error(`stored object ${d.slice(0, 12)} is corrupt (its content no longer matches its digest); \`pinkflow verify --repair\` removes it and the results that need it`)
        }
      },
      catch: (e) => new StageFailed({ stage: "", detail: `input ${input}: ${e instanceof Error ? e.message : String(e)}` })
    })

  const inputValue = (spec: CacheKey.InputRecord & { readonly path?: string }) => {
    if (spec.path !== undefined) return Effect.succeed<unknown>(spec.path)
    if (Artifact.isValueKind(spec.kind)) return store.readJson(spec.digest)
    if (Artifact.isTreeKind(spec.kind)) return store.materialize(spec.digest)
    return Effect.succeed<unknown>(store.blobPath(spec.digest))
  }

  /** Runs the body and stores its outputs. */
  const compute = (planned: Plan.Planned, key: string, record: CacheKey.KeyRecord) =>
    Effect.scoped(Effect.gen(function*() {
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
          yield* checkStored(name, rec).pipe(Effect.mapError((e) => new StageFailed({ stage: stage.name, detail: e.detail })))
        }
        inputs[name] = yield* inputValue(
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
      pending.push({ key, stage: stage.name, run: options.run, record, outputs: stored, startedAt, durationMs, log })
      if (performance.now() - lastFlush >= FLUSH_INTERVAL_MS) yield* flush
      return { status: "ran", key, outputs: stored, durationMs } satisfies StageResult
    }))

  const completeRecord = (key: string) => {
    const rec = store.readRecord(key)
    return rec !== undefined && Object.values(rec.outputs).every(store.isComplete) ? rec : undefined
  }

  const runStage = (name: string): Effect.Effect<StageResult, never> =>
    Effect.gen(function*() {
      const planned = plan.stages.get(name)!
      const stage = planned.stage
      const upstream = plan.dag.predecessors(name) ?? []
      const results = new Map<string, StageResult>()
      for (const u of upstream) results.set(u, yield* Deferred.await(done.get(u)!))
      const blocked = [...results].filter(([, r]) => r.status !== "ran" && r.status !== "cached").map(([u]) => u)
      if (blocked.length > 0 || stopping) {
        const because = blocked.length > 0 ? `upstream ${blocked.join(", ")} did not complete` : "the run is stopping after a failure"
        options.emit({ _tag: "StageSkipped", stage: name, because })
        return { status: "skipped", key: null, outputs: {}, durationMs: 0, error: because } satisfies StageResult
      }
      // Every upstream stage completed, so every input digest is known.
      const { records: inputs } = yield* Effect.promise(() =>
        Plan.inputRecords(cache, plan.loaded.root, planned, (u) => results.get(u)?.outputs))
      const record = Plan.keyRecord(planned, inputs)
      const key = CacheKey.hash(record)
      const forced = options.force.has(name)
      const hit = forced ? undefined : completeRecord(key)
      if (hit !== undefined) {
        options.emit({ _tag: "StageCached", stage: name, key, outputs: hit.outputs })
        return { status: "cached", key, outputs: hit.outputs, durationMs: 0 } satisfies StageResult
      }
      const t0 = now()
      const attempt = Effect.scoped(Effect.gen(function*() {
        yield* Lock.acquire(path.join(store.root, "locks", `${key}.lock`), (owner) =>
          Effect.sync(() => options.emit({ _tag: "StageWaiting", stage: name, key, pid: owner.pid, host: owner.host })))
        // Another process may have computed it while we waited for the lock.
        const after = forced ? undefined : completeRecord(key)
        if (after !== undefined) {
          options.emit({ _tag: "StageCached", stage: name, key, outputs: after.outputs })
          return { status: "cached", key, outputs: after.outputs, durationMs: 0 } satisfies StageResult
        }
        const slots = Math.min(Math.max(1, stage.resources.cpu ?? 1), Math.max(1, options.concurrency))
        const body = cpu.withPermits(slots)(compute(planned, key, record))
        const gpus = stage.resources.gpu ?? 0
        const result = yield* (gpus > 0 ? gpu.withPermits(Math.min(gpus, Math.max(1, options.gpus)))(body) : body)
        options.emit({ _tag: "StageSucceeded", stage: name, key, outputs: result.outputs, durationMs: result.durationMs })
        return result
      }))
      return yield* attempt.pipe(
        Effect.catch((e) => {
          if (!options.keepGoing) stopping = true
          const error = e.message
          const durationMs = now() - t0
          options.emit({ _tag: "StageFailed", stage: name, key, error, durationMs })
          return Effect.succeed({ status: "failed", key, outputs: {}, durationMs, error } satisfies StageResult)
        }),
        Effect.catchDefect((defect) => {
          if (!options.keepGoing) stopping = true
          const error = `internal error: ${defect instanceof Error ? defect.message : String(defect)}`
          const durationMs = now() - t0
          options.emit({ _tag: "StageFailed", stage: name, key, error, durationMs })
          return Effect.succeed({ status: "failed", key, outputs: {}, durationMs, error } satisfies StageResult)
        })
      )
    }).pipe(Effect.tap((r) => Deferred.succeed(done.get(name)!, r)))

  const results = yield* Effect.forEach(plan.order, runStage, { concurrency: "unbounded" }).pipe(
    Effect.ensuring(Effect.orDie(flush))
  )
  return new Map(plan.order.map((name, i) => [name, results[i]!] as const))
})

export const defaultConcurrency = (): number => Math.max(1, os.availableParallelism())
