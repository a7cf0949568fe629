/**
 * Executors, and the local one.
 *
 * An executor takes one variant's plan and the run's options, emits the stage events and returns
 * every stage's result; `local` runs stages on this machine, `Slurm.executor` as Slurm jobs. Both
 * compute a key through `Compute`, so they give identical results.
 *
 * The local executor runs a plan's stages in topological order, independent stages
 * concurrently within `--concurrency` CPU slots and `--gpus` GPU slots.
 *
 * Per stage: wait for its upstream stages; compute its key from their output digests (and the
 * project inputs' digests); reuse a complete cached result; otherwise take the key's lock (a second
 * process computing the same key waits, then reuses the result), run the body in a private staging
 * directory, move its outputs into the store, re-check its project inputs, and only then write the
 * cache record. A failure skips the stage's descendants and, without `keepGoing`, every stage not
 * yet started. Interruption removes staging directories and records the run as interrupted.
 */
import { Deferred, Effect, Semaphore } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import * as CacheKey from "./CacheKey.ts"
import * as Compute from "./Compute.ts"
import type * as Event from "./Event.ts"
import * as Lineage from "./Lineage.ts"
import * as Lock from "./Lock.ts"
import * as Plan from "./Plan.ts"
import { StatCache } from "./StatCache.ts"
import { Store, type Stored } from "./Store.ts"
import { Substitutes } from "./Substitute.ts"

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
  readonly status: Lineage.StageInRun["status"]
  readonly key: string | null
  readonly outputs: Readonly<Record<string, Stored>>
  readonly durationMs: number
  readonly error?: string | undefined
  /** A cached result taken from this substitute. */
  readonly substitute?: string | undefined
}

/** What every executor implements. */
export type Executor = (plan: Plan.Plan, options: Options) => Effect.Effect<ReadonlyMap<string, StageResult>, unknown, Store | StatCache | Lineage.Lineage | Substitutes>

const now = () => performance.now()

const FLUSH_INTERVAL_MS = 1000

/** Executes one variant's plan; returns each stage's result, in plan order. */
const execute = Effect.fn("Executor.execute")(function*(plan: Plan.Plan, options: Options) {
  const store = yield* Store
  const cache = yield* StatCache
  const lineage = yield* Lineage.Lineage
  const cpu = yield* Semaphore.make(Math.max(1, options.concurrency))
  const gpu = yield* Semaphore.make(Math.max(1, options.gpus))
  const done = new Map<string, Deferred.Deferred<StageResult>>()
  for (const name of plan.order) done.set(name, yield* Deferred.make<StageResult>())
  let stopping = false

  // Executions reach lineage in batches (at most FLUSH_INTERVAL_MS apart, and at the end): one
  // database write per stage would make a run of n small stages cost O(n²). The cache record,
  // written first, holds everything but the log, so a crash between flushes loses no result.
  let pending: Array<Lineage.Execution> = []
  let lastFlush = performance.now()
  const flush = Effect.suspend(() => {
    const batch = pending
    pending = []
    lastFlush = performance.now()
    return batch.length === 0 ? Effect.void : lineage.update((db) => Lineage.addExecutions(db, batch))
  })

  const substitutes = yield* Substitutes

  /**
   * The key's complete record: local, or taken from a substitute. A record that came from a
   * substitute (now, or earlier by `status`, which writes no lineage) is recorded as an execution
   * so lineage knows its producer; writing the same execution again is harmless.
   */
  const completeRecord = (name: string, key: string) =>
    Effect.gen(function*() {
      const rec = yield* substitutes.lookup(key, (message) => options.emit({ _tag: "Warning", stage: name, message }))
      if (rec?.substitute !== undefined) {
        pending.push({ key, stage: name, run: rec.run, record: rec.record, outputs: rec.outputs, startedAt: rec.createdAt, durationMs: rec.durationMs, log: [], substitute: rec.substitute })
      }
      return rec
    })

  const cachedResult = (name: string, key: string, rec: NonNullable<Effect.Success<ReturnType<typeof completeRecord>>>): StageResult => {
    options.emit({ _tag: "StageCached", stage: name, key, outputs: rec.outputs, substitute: rec.substitute })
    return { status: "cached", key, outputs: rec.outputs, durationMs: 0, substitute: rec.substitute }
  }

  const runStage = (name: string): Effect.Effect<StageResult, never, Store | StatCache> =>
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
      const hit = forced ? undefined : yield* completeRecord(name, key)
      if (hit !== undefined) return cachedResult(name, key, hit)
      const t0 = now()
      const lockFile = path.join(store.root, "locks", `${key}.lock`)
      let waited = false
      const onWait = (owner: { readonly pid: number; readonly host: string }) => Effect.sync(() => {
        if (!waited) options.emit({ _tag: "StageWaiting", stage: name, key, pid: owner.pid, host: owner.host })
        waited = true
      })
      // Another process may have computed the key while this one waited for its lock.
      // (Substitutes were asked already, before the wait.)
      const computedElsewhere = Effect.sync(() => {
        const after = forced ? undefined : substitutes.local(key)
        return after === undefined ? undefined : cachedResult(name, key, after)
      })
      // The key's lock is taken once this run has a slot for the stage, so a stage queued here does
      // not hold back another process that could compute it now; a key another process is
      // computing is waited for without holding a slot.
      const underLock = Effect.scoped(Effect.gen(function*() {
        yield* Lock.acquire(lockFile, onWait)
        const after = yield* computedElsewhere
        if (after !== undefined) return after
        const execution = yield* Compute.compute(plan, planned, key, record, options)
        pending.push(execution)
        if (performance.now() - lastFlush >= FLUSH_INTERVAL_MS) yield* flush
        const result = { status: "ran", key, outputs: execution.outputs, durationMs: execution.durationMs } satisfies StageResult
        options.emit({ _tag: "StageSucceeded", stage: name, key, outputs: result.outputs, durationMs: result.durationMs })
        return result
      }))
      const slots = Math.min(Math.max(1, stage.resources.cpu ?? 1), Math.max(1, options.concurrency))
      const gpus = stage.resources.gpu ?? 0
      const withCpu = cpu.withPermits(slots)(underLock)
      const withSlots = gpus > 0 ? gpu.withPermits(Math.min(gpus, Math.max(1, options.gpus)))(withCpu) : withCpu
      const attempt = Effect.gen(function*() {
        yield* Lock.awaitFree(lockFile, onWait)
        // The record was read just before; only a wait can have changed it.
        const after = waited ? yield* computedElsewhere : undefined
        return after !== undefined ? after : yield* withSlots
      })
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

/** The local executor. */
export const local: Executor = execute
