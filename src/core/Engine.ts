/**
 * The engine's entry points, one per user action: `run` (every variant of a pipeline, recorded as
 * runs in lineage), `inspect` (status and dry runs) and `load` (for `dag`). Every variant is
 * planned and validated before any stage runs.
 */
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { PipelineError } from "./Dag.ts"
import type * as Event from "./Event.ts"
import * as Executor from "./Executor.ts"
import { Lineage, type Run, type StageInRun } from "./Lineage.ts"
import * as Loader from "./Loader.ts"
import * as Lock from "./Lock.ts"
import * as Pipeline from "./Pipeline.ts"
import * as Plan from "./Plan.ts"
import * as ProjectConfig from "./ProjectConfig.ts"
import * as Slurm from "./Slurm.ts"
import { StatCache } from "./StatCache.ts"
import * as Status from "./Status.ts"
import { Store } from "./Store.ts"

export interface RunOptions {
  /** `stage.param` → value, from `--set`. */
  readonly set: Readonly<Record<string, unknown>>
  readonly force: ReadonlyArray<string>
  readonly dryRun: boolean
  readonly concurrency: number
  readonly gpus: number
  readonly keepGoing: boolean
  readonly emit: Event.Sink
  /** The worker script for isolated stages, and whether to isolate every stage. */
  readonly worker?: string | undefined
  readonly isolateAll?: boolean
  /** Executor settings from the command line (over the config file, over the pipeline file). */
  readonly executor?: Partial<{ readonly kind: "local" | "slurm"; readonly partition: string; readonly account: string }>
  /** The CLI entry Slurm jobs run (`node <cli> job <spec>`). */
  readonly cli?: string
}

export interface VariantOutcome {
  readonly run: string
  readonly variant: string
  readonly status: "succeeded" | "failed" | "interrupted" | "dry-run"
  readonly stages: ReadonlyMap<string, Executor.StageResult>
}

export const newRunId = (): string => {
  const t = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)
  return `${t}-${randomBytes(3).toString("hex")}`
}

/** Plans every variant of a pipeline file (validating all of them first). */
export const planAll = Effect.fn("Engine.planAll")(function*(file: string, set: Readonly<Record<string, unknown>>) {
  const loaded = yield* Loader.load(file)
  const plans: Array<Plan.Plan> = []
  for (const variant of Pipeline.variants(loaded.pipeline, set)) plans.push(yield* Plan.make(loaded, variant))
  yield* (yield* StatCache).save
  return plans
})

const unknownForce = (plans: ReadonlyArray<Plan.Plan>, force: ReadonlyArray<string>) =>
  force.find((s) => !plans[0]!.dag.hasNode(s))

/**
 * Holds a run lease on the store for the scope, after any `gc` in progress has finished: `gc`
 * takes its lock first and refuses while a lease is live, so it never frees what a run uses.
 */
export const runLease = Effect.gen(function*() {
  const root = (yield* Store).root
  // The store itself first, so that a store path the file system refuses is the one named.
  fs.mkdirSync(root, { recursive: true })
  yield* Lock.lease(path.join(root, "locks", "runs"))
  Lock.pruneStale(path.join(root, "locks"))
  yield* Lock.awaitFree(path.join(root, "locks", "gc.lock"))
})

export const run = Effect.fn("Engine.run")(function*(file: string, options: RunOptions) {
  if (!options.dryRun) yield* runLease
  const plans = yield* planAll(file, options.set)
  const missing = unknownForce(plans, options.force)
  if (missing !== undefined) {
    return yield* new PipelineError({ reason: "params", file: plans[0]!.loaded.file, detail: `--force ${missing}: no stage named "${missing}"` })
  }
  const force = new Set(options.force)
  const config = yield* ProjectConfig.load(plans[0]!.loaded.root)
  const chosen = ProjectConfig.executor(options.executor ?? {}, config, plans[0]!.loaded.pipeline)
  const execute: Executor.Executor = chosen.kind === "slurm" ? Slurm.executor(chosen, options.cli ?? process.argv[1]!) : Executor.local
  const lineage = yield* Lineage
  const outcomes: Array<VariantOutcome> = []
  for (const plan of plans) {
    const id = newRunId()
    const t0 = performance.now()
    options.emit({ _tag: "RunStarted", run: id, pipeline: plan.loaded.file, variant: plan.variant.label, stages: plan.order })
    if (options.dryRun) {
      const states = yield* Status.inspect(plan, force)
      for (const s of states) {
        for (const message of s.warnings) options.emit({ _tag: "Warning", stage: s.stage, message })
        if (s.state === "up-to-date") options.emit({ _tag: "StageCached", stage: s.stage, key: s.key!, outputs: s.outputs!, substitute: s.substitute })
        else options.emit({ _tag: "StageWouldRun", stage: s.stage, state: s.state, key: s.key, reasons: s.reasons.map(Status.describe) })
      }
      const named = (state: Status.StageState["state"]) => states.filter((s) => s.state === state).map((s) => s.stage)
      options.emit({ _tag: "RunFinished", run: id, status: "dry-run", ran: [], cached: named("up-to-date"), failed: [], skipped: [], stale: named("stale"), mayRun: named("may-run"), durationMs: performance.now() - t0 })
      outcomes.push({ run: id, variant: plan.variant.label, status: "dry-run", stages: new Map() })
      continue
    }
    const record: Run = {
      id,
      pipeline: plan.loaded.file,
      name: plan.loaded.pipeline.name,
      variant: plan.variant.label,
      set: plan.variant.set,
      params: plan.variant.overrides,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      status: "running",
      pinned: false,
      owner: { host: os.hostname(), pid: process.pid },
      stages: {}
    }
    yield* lineage.update((db) => void db.runs.push(record))
    const results = new Map<string, Executor.StageResult>()
    const finish = (status: Run["status"]) =>
      lineage.update((db) => {
        const r = db.runs.find((x) => x.id === id)
        if (r === undefined) return
        r.status = status
        r.finishedAt = new Date().toISOString()
        for (const [stage, res] of results) {
          r.stages[stage] = { key: res.key, status: res.status, durationMs: res.durationMs, outputs: res.outputs, error: res.error, ...(res.substitute === undefined ? {} : { substitute: res.substitute }) } satisfies StageInRun
        }
      }).pipe(Effect.andThen(Effect.sync(() => {
        const by = (s: StageInRun["status"]) => [...results].filter(([, r]) => r.status === s).map(([n]) => n)
        options.emit({
          _tag: "RunFinished",
          run: id,
          status: status === "running" ? "failed" : status,
          ran: by("ran"),
          cached: by("cached"),
          failed: by("failed"),
          skipped: by("skipped"),
          stale: [],
          mayRun: [],
          durationMs: performance.now() - t0
        })
      })))
    const emit: Event.Sink = (e) => {
        if (e._tag === "StageCached" || e._tag === "StageSkipped") {
          results.set(e.stage, e._tag === "StageCached"
            ? { status: "cached", key: e.key, outputs: e.outputs, durationMs: 0, substitute: e.substitute }
            : { status: "skipped", key: null, outputs: {}, durationMs: 0, error: e.because })
        } else if (e._tag === "StageSucceeded") {
          results.set(e.stage, { status: "ran", key: e.key, outputs: e.outputs, durationMs: e.durationMs })
        } else if (e._tag === "StageFailed") {
          results.set(e.stage, { status: "failed", key: e.key, outputs: {}, durationMs: e.durationMs, error: e.error })
        }
        options.emit(e)
      }
    const executed = yield* execute(plan, {
      run: id,
      concurrency: options.concurrency,
      gpus: options.gpus,
      keepGoing: options.keepGoing,
      worker: options.worker,
      isolateAll: options.isolateAll,
      force,
      emit
    }).pipe(Effect.onInterrupt(() => Effect.orDie(finish("interrupted"))))
    const failed = [...executed.values()].some((r) => r.status === "failed" || r.status === "skipped")
    yield* finish(failed ? "failed" : "succeeded")
    yield* (yield* StatCache).save
    outcomes.push({ run: id, variant: plan.variant.label, status: failed ? "failed" : "succeeded", stages: executed })
  }
  return outcomes
}, Effect.scoped)

/** Status of every variant's stages. */
export const inspect = Effect.fn("Engine.inspect")(function*(file: string, set: Readonly<Record<string, unknown>>) {
  const plans = yield* planAll(file, set)
  const out: Array<{ readonly plan: Plan.Plan; readonly states: ReadonlyArray<Status.StageState> }> = []
  for (const plan of plans) out.push({ plan, states: yield* Status.inspect(plan) })
  yield* (yield* StatCache).save
  return out
})
