/**
 * The Slurm executor: planning, cache lookups and lineage stay on the submitting machine; every
 * stage that must run becomes one `sbatch` job whose resources come from the stage's declared needs,
 * chained with `--dependency=afterok:` so Slurm runs independent stages in parallel. A job runs
 * `pinkflow job <spec>`, which computes exactly that stage's key against the shared store (through
 * `Compute`, the local executor's own code) and writes a small result file; the submitter watches
 * the jobs (`squeue`, then `scontrol show job` for the final state), streams their logs, records
 * executions and Slurm job ids in lineage, maps Slurm's failure states to stage errors, and cancels
 * its jobs (`scancel`) when interrupted.
 */
import { Data, Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Atomic from "./Atomic.ts"
import * as Compute from "./Compute.ts"
import type * as Event from "./Event.ts"
import type * as Executor from "./Executor.ts"
import type { StageResult } from "./Executor.ts"
import * as Lineage from "./Lineage.ts"
import * as Lock from "./Lock.ts"
import * as Loader from "./Loader.ts"
import type * as Pipeline from "./Pipeline.ts"
import * as Plan from "./Plan.ts"
import type * as Stage from "./Stage.ts"
import { StatCache } from "./StatCache.ts"
import * as Status from "./Status.ts"
import { Store, type Stored } from "./Store.ts"

export interface Options {
  readonly partition?: string | undefined
  readonly account?: string | undefined
  /** More `sbatch` arguments, as given. */
  readonly extraArgs?: ReadonlyArray<string> | undefined
  /** How often job states are polled (default 500 ms). */
  readonly pollMs?: number | undefined
}

export class SlurmError extends Data.TaggedError("SlurmError")<{ readonly command: string; readonly detail: string }> {
  override get message(): string {
    return `slurm: ${this.command}: ${this.detail}`
  }
}

/** What a job is told to do: one stage of one variant of a pipeline, under a run id. */
export interface JobSpec {
  readonly pipeline: string
  readonly variant: Pipeline.Variant
  readonly stage: string
  readonly run: string
  readonly result: string
}

/** What a job leaves behind for the submitter. */
export type JobResult =
  | { readonly status: "ran"; readonly execution: Lineage.Execution }
  | { readonly status: "cached"; readonly key: string; readonly outputs: Readonly<Record<string, Stored>> }
  | { readonly status: "failed"; readonly key: string | null; readonly error: string }

const slurm = (command: string, args: ReadonlyArray<string>): string => {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string }
    const detail = err.code === "ENOENT" ? "not found (is Slurm installed on this machine?)" : (err.stderr ?? err.message).trim().split("\n")[0]!
    throw new SlurmError({ command, detail })
  }
}

/** `sbatch` arguments for a stage's declared needs. */
export const resourceArgs = (r: Stage.Resources): Array<string> => [
  `--cpus-per-task=${Math.max(1, r.cpu ?? 1)}`,
  ...(r.memory === undefined ? [] : [`--mem=${r.memory}`]),
  ...((r.gpu ?? 0) > 0 ? [`--gres=gpu:${r.gpu}`] : []),
  ...(r.time === undefined ? [] : [`--time=${r.time}`])
]

/** Slurm's terminal job states, as stage errors (undefined: the job succeeded). */
export const failureOf = (job: string, state: string, exitCode: string, reason: string, r: Stage.Resources): string | undefined => {
  switch (state) {
    case "COMPLETED":
      return undefined
    case "OUT_OF_MEMORY":
      return `Slurm job ${job} ran out of memory${r.memory === undefined ? "" : ` (--mem=${r.memory}; raise the stage's resources.memory)`}`
    case "TIMEOUT":
    case "DEADLINE":
      return `Slurm job ${job} hit its time limit${r.time === undefined ? "" : ` (--time=${r.time}; raise the stage's resources.time)`}`
    case "NODE_FAIL":
    case "BOOT_FAIL":
      return `Slurm job ${job} lost its node (${state.toLowerCase().replace("_", " ")}); run again to retry`
    case "PREEMPTED":
      return `Slurm job ${job} was preempted; run again to retry`
    case "CANCELLED":
      return `Slurm job ${job} was cancelled${reason !== "" && reason !== "None" ? ` (${reason})` : ""}`
    default:
      return `Slurm job ${job} ended ${state.toLowerCase()} (exit code ${exitCode})`
  }
}

/** `scontrol show job -o` fields. */
const jobInfo = (id: string): Record<string, string> => {
  const line = slurm("scontrol", ["show", "job", "-o", id])
  return Object.fromEntries(line.trim().split(/\s+/).map((kv) => {
    const eq = kv.indexOf("=")
    return [kv.slice(0, eq), kv.slice(eq + 1)]
  }))
}

interface Submitted {
  readonly stage: string
  /** The stage's key if every input was known at submission. */
  readonly key: string | null
  readonly job: string
  readonly log: string
  readonly result: string
  offset: number
  buffered: string
  started: boolean
  readonly lines: Array<string>
}

/** Executes one variant's plan as Slurm jobs; same results and events as the local executor. */
const execute = Effect.fn("Slurm.execute")(function*(
  plan: Plan.Plan,
  options: Executor.Options,
  slurmOptions: Options,
  cli: string
) {
  const store = yield* Store
  const lineage = yield* Lineage.Lineage
  const results = new Map<string, StageResult>()
  const states = yield* Status.inspect(plan, options.force)
  const dir = path.join(store.root, "slurm", options.run)
  fs.mkdirSync(dir, { recursive: true })
  const jobs = new Map<string, Submitted>()
  const pending = new Set<string>()

  const cancelAll = () => {
    const ids = [...pending].map((s) => jobs.get(s)!.job)
    if (ids.length > 0) {
      try {
        slurm("scancel", ids)
      } catch {
        // Jobs that ended meanwhile cannot be cancelled; nothing to do.
      }
    }
  }

  const submit = Effect.try({
    try: () => {
      for (const s of states) {
        if (s.state === "up-to-date") {
          options.emit({ _tag: "StageCached", stage: s.stage, key: s.key!, outputs: s.outputs! })
          results.set(s.stage, { status: "cached", key: s.key, outputs: s.outputs!, durationMs: 0 })
          continue
        }
        const stage = plan.stages.get(s.stage)!.stage
        const after = (plan.dag.predecessors(s.stage) ?? []).flatMap((u) => jobs.has(u) ? [jobs.get(u)!.job] : [])
        const spec: JobSpec = { pipeline: plan.loaded.file, variant: plan.variant, stage: s.stage, run: options.run, result: path.join(dir, `${s.stage}.result.json`) }
        const specFile = path.join(dir, `${s.stage}.job.json`)
        Atomic.writeFileSync(specFile, JSON.stringify(spec))
        const log = path.join(dir, `${s.stage}.log`)
        const args = [
          "--parsable",
          `--job-name=pinkflow:${s.stage}`,
          `--output=${log}`,
          `--chdir=${plan.loaded.root}`,
          "--export=ALL",
          ...resourceArgs(stage.resources),
          ...(slurmOptions.partition === undefined ? [] : [`--partition=${slurmOptions.partition}`]),
          ...(slurmOptions.account === undefined ? [] : [`--account=${slurmOptions.account}`]),
          ...(after.length === 0 ? [] : [`--dependency=afterok:${after.join(":")}`, "--kill-on-invalid-dep=yes"]),
          ...(slurmOptions.extraArgs ?? []),
          `--wrap=exec ${shellQuote(process.execPath)} ${shellQuote(cli)} job --store ${shellQuote(store.root)} ${shellQuote(specFile)}`
        ]
        const job = slurm("sbatch", args).trim().split(";")[0]!
        jobs.set(s.stage, { stage: s.stage, key: s.key, job, log, result: spec.result, offset: 0, buffered: "", started: false, lines: [] })
        pending.add(s.stage)
        options.emit({ _tag: "StageSubmitted", stage: s.stage, job })
      }
    },
    catch: (e) => e instanceof SlurmError ? e : new SlurmError({ command: "sbatch", detail: String(e) })
  })

  /** New complete lines of a job's log, emitted as the stage's log. */
  const tail = (j: Submitted) => {
    const st = fs.statSync(j.log, { throwIfNoEntry: false })
    if (st === undefined || st.size <= j.offset) return
    const fd = fs.openSync(j.log, "r")
    const buf = Buffer.alloc(st.size - j.offset)
    fs.readSync(fd, buf, 0, buf.length, j.offset)
    fs.closeSync(fd)
    j.offset = st.size
    const text = j.buffered + buf.toString("utf8")
    const parts = text.split("\n")
    j.buffered = parts.pop()!
    for (const line of parts) {
      j.lines.push(line)
      options.emit({ _tag: "StageLog", stage: j.stage, line })
    }
  }

  const finish = (j: Submitted, info: Record<string, string>) => {
    tail(j)
    pending.delete(j.stage)
    const stage = plan.stages.get(j.stage)!.stage
    const state = (info.JobState ?? "UNKNOWN").split(/\s/)[0]!
    const reason = info.Reason ?? ""
    const result = readResult(j.result)
    const started = Date.parse(info.StartTime ?? "")
    const ended = Date.parse(info.EndTime ?? "")
    const durationMs = Number.isFinite(started) && Number.isFinite(ended) ? Math.max(0, ended - started) : 0
    if (state === "CANCELLED" && /Dependency/.test(reason)) {
      const because = `upstream ${blocking(j.stage).join(", ") || "stage"} did not complete (Slurm job ${j.job} cancelled: ${reason})`
      options.emit({ _tag: "StageSkipped", stage: j.stage, because })
      results.set(j.stage, { status: "skipped", key: null, outputs: {}, durationMs: 0, error: because })
      return
    }
    const slurmFailure = failureOf(j.job, state, info.ExitCode ?? "?", reason, stage.resources)
    if (slurmFailure === undefined && result?.status === "ran") {
      const execution = { ...result.execution, log: j.lines.slice(-2000), slurmJob: j.job }
      pendingLineage.push(execution)
      options.emit({ _tag: "StageSucceeded", stage: j.stage, key: execution.key, outputs: execution.outputs, durationMs: execution.durationMs })
      results.set(j.stage, { status: "ran", key: execution.key, outputs: execution.outputs, durationMs: execution.durationMs })
      return
    }
    if (slurmFailure === undefined && result?.status === "cached") {
      options.emit({ _tag: "StageCached", stage: j.stage, key: result.key, outputs: result.outputs })
      results.set(j.stage, { status: "cached", key: result.key, outputs: result.outputs, durationMs: 0 })
      return
    }
    // The job's own error when it reported one; otherwise what Slurm says happened to the job.
    const error = result?.status === "failed" ? result.error
      : `stage ${j.stage} failed: ${slurmFailure ?? `Slurm job ${j.job} completed without a result (${j.result})`}`
    const key = result?.status === "failed" ? result.key : null
    options.emit({ _tag: "StageFailed", stage: j.stage, key, error, durationMs })
    results.set(j.stage, { status: "failed", key, outputs: {}, durationMs, error })
    if (!options.keepGoing) stopping = true
  }

  const blocking = (name: string): Array<string> =>
    (plan.dag.predecessors(name) ?? []).filter((u) => {
      const r = results.get(u)
      return r !== undefined && r.status !== "ran" && r.status !== "cached"
    })

  let stopping = false
  const pendingLineage: Array<Lineage.Execution> = []
  /** One look at the queue; true when every job has finished. */
  const poll = (): boolean => {
    const ids = [...pending].map((s) => jobs.get(s)!)
    if (ids.length === 0) return true
    const queued = new Map(slurm("squeue", ["-h", "-o", "%i|%T", "-j", ids.map((j) => j.job).join(",")])
      .split("\n").filter((l) => l.includes("|")).map((l) => l.split("|") as [string, string]))
    for (const j of ids) {
      const st = queued.get(j.job)
      if (st === "RUNNING" && !j.started) {
        j.started = true
        options.emit({ _tag: "StageStarted", stage: j.stage, key: j.key })
      }
      if (st === "RUNNING" || st === "PENDING" || st === "CONFIGURING" || st === "COMPLETING") {
        tail(j)
        continue
      }
      const info = jobInfo(j.job)
      const state = (info.JobState ?? "").split(/\s/)[0]!
      if (state === "PENDING" || state === "RUNNING" || state === "CONFIGURING" || state === "COMPLETING") continue
      finish(j, info)
    }
    if (stopping && pending.size > 0) cancelAll()
    return pending.size === 0
  }

  const watch = Effect.gen(function*() {
    yield* submit
    for (;;) {
      const done = yield* Effect.try({ try: poll, catch: (e) => e instanceof SlurmError ? e : new SlurmError({ command: "squeue", detail: String(e) }) })
      if (done) break
      yield* Effect.sleep(slurmOptions.pollMs ?? 500)
    }
  })
  yield* watch.pipe(
    Effect.onInterrupt(() => Effect.sync(cancelAll)),
    Effect.ensuring(Effect.suspend(() => pendingLineage.length === 0 ? Effect.void : Effect.orDie(lineage.update((db) => Lineage.addExecutions(db, pendingLineage)))))
  )
  const notSubmitted: StageResult = { status: "skipped", key: null, outputs: {}, durationMs: 0, error: "not submitted" }
  return new Map(plan.order.map((name) => [name, results.get(name) ?? notSubmitted] as const))
})

/** The Slurm executor; its jobs run `node <cli> job <spec>` (`cli`: the pinkflow bundle). */
export const executor = (slurmOptions: Options, cli: string): Executor.Executor => (plan, options) => execute(plan, options, slurmOptions, cli)

const readResult = (file: string): JobResult | undefined => {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as JobResult
  } catch {
    return undefined
  }
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * The job side (`pinkflow job <spec>`): plans the variant, finds the stage's key (its upstream
 * stages are complete, Slurm saw to that), and computes it unless another process already has,
 * under the key's lock. Never writes lineage: the submitter does.
 */
export const runJob = Effect.fn("Slurm.runJob")(function*(specFile: string, emit: Event.Sink) {
  const spec = JSON.parse(fs.readFileSync(specFile, "utf8")) as JobSpec
  const store = yield* Store
  const write = (r: JobResult) => Atomic.writeFileSync(spec.result, JSON.stringify(r))
  const outcome = yield* Effect.gen(function*() {
    const loaded = yield* Loader.load(spec.pipeline)
    const plan = yield* Plan.make(loaded, spec.variant)
    const states = yield* Status.inspect(plan)
    const s = states.find((x) => x.stage === spec.stage)
    if (s === undefined) return { status: "failed", key: null, error: `no stage ${spec.stage} in ${spec.pipeline}` } satisfies JobResult
    if (s.state === "up-to-date") return { status: "cached", key: s.key!, outputs: s.outputs! } satisfies JobResult
    if (s.key === null || s.record === null) {
      return { status: "failed", key: null, error: `stage ${spec.stage}: its upstream results are missing from the store` } satisfies JobResult
    }
    const key = s.key
    const record = s.record
    return yield* Effect.scoped(Effect.gen(function*() {
      yield* Lock.acquire(path.join(store.root, "locks", `${key}.lock`))
      const again = store.readRecord(key)
      if (again !== undefined && Object.values(again.outputs).every(store.isComplete)) {
        return { status: "cached", key, outputs: again.outputs } satisfies JobResult
      }
      const execution = yield* Compute.compute(plan, plan.stages.get(spec.stage)!, key, record, { run: spec.run, emit })
      return { status: "ran", execution } satisfies JobResult
    })).pipe(Effect.catchTag("StageFailed", (e) => Effect.succeed({ status: "failed", key, error: e.message } satisfies JobResult)))
  })
  write(outcome)
  yield* (yield* StatCache).save
  return outcome
})
