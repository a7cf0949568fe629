/**
 * The lineage database (lowdb, `<store>/lineage.json`): runs, the executions of stage keys with
 * their key records, timings, status and logs, and artifacts with their producers. Consumers are
 * derived from the executions' inputs.
 *
 * Every update takes the database lock, re-reads the file, applies the change and writes it back
 * through a temporary file that is flushed and renamed: concurrent runs never lose each other's
 * records and a half-written database never appears.
 */
import { Context, Data, Effect, Layer } from "effect"
import { Low } from "lowdb"
import type { Adapter } from "lowdb"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as Artifact from "./Artifact.ts"
import * as Atomic from "./Atomic.ts"
import type * as CacheKey from "./CacheKey.ts"
import * as Fault from "./Fault.ts"
import * as Lock from "./Lock.ts"
import type { CacheRecord, Stored } from "./Store.ts"

export type StageStatus = "ran" | "cached" | "failed" | "skipped" | "interrupted"
export type RunStatus = "running" | "succeeded" | "failed" | "interrupted"

export interface StageInRun {
  readonly key: string | null
  readonly status: StageStatus
  readonly durationMs: number
  readonly outputs: Readonly<Record<string, Stored>>
  readonly error?: string | undefined
  /** A cached result taken from this substitute (`Substitute.ts`). */
  readonly substitute?: string | undefined
}

export interface Run {
  readonly id: string
  /** The pipeline file, project-relative, and the pipeline's name. */
  readonly pipeline: string
  readonly name: string
  /** The sweep point (`stage.param=value,…`), empty without a sweep. */
  readonly variant: string
  /** The command line's `--set` overrides (`stage.param` → value); absent in runs recorded before they were kept. */
  readonly set?: Readonly<Record<string, unknown>>
  /** Effective param overrides of this run. */
  readonly params: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  readonly startedAt: string
  finishedAt: string | null
  status: RunStatus
  pinned: boolean
  /** The process executing the run; a `running` run whose owner is dead was killed. */
  readonly owner?: { readonly host: string; readonly pid: number }
  readonly stages: Record<string, StageInRun>
}

export interface Execution {
  readonly key: string
  readonly stage: string
  readonly run: string
  readonly record: CacheKey.KeyRecord
  readonly outputs: Readonly<Record<string, Stored>>
  readonly startedAt: string
  readonly durationMs: number
  readonly log: ReadonlyArray<string>
  /** The Slurm job that computed it, under the Slurm executor. */
  readonly slurmJob?: string
  /** Computed elsewhere and taken from this substitute (its record, not its log). */
  readonly substitute?: string
}

export interface ArtifactInfo {
  readonly kind: Artifact.Kind
  readonly size: number
  readonly producer: { readonly key: string; readonly stage: string; readonly output: string }
}

export interface Database {
  version: 1
  runs: Array<Run>
  executions: Record<string, Execution>
  artifacts: Record<string, ArtifactInfo>
}

export class LineageError extends Data.TaggedError("LineageError")<{
  readonly path: string
  readonly detail: string
}> {
  override get message(): string {
    return `lineage database ${this.path}: ${this.detail}`
  }
}

const NOT_A_DATABASE = "not a pinkflow lineage database"

const empty = (): Database => ({ version: 1, runs: [], executions: {}, artifacts: {} })

/** lowdb adapter: JSON, written through `Atomic` (unique temp name, fsync, rename). */
class AtomicJsonFile implements Adapter<Database> {
  constructor(readonly file: string) {}
  async read(): Promise<Database | null> {
    let text: string
    try {
      text = await fs.promises.readFile(this.file, "utf8")
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null
      throw e
    }
    const data = JSON.parse(text) as Database
    if (typeof data !== "object" || data === null || data.version !== 1 || !Array.isArray(data.runs)) {
      throw new Error(NOT_A_DATABASE)
    }
    return data
  }
  write(data: Database): Promise<void> {
    Fault.point("lineage")
    return Atomic.writeFile(this.file, JSON.stringify(data))
  }
}

export class Lineage extends Context.Service<Lineage, {
  readonly file: string
  readonly read: Effect.Effect<Database, LineageError>
  /** Applies `change` to the current database under the lock and saves it. */
  readonly update: <A>(change: (db: Database) => A) => Effect.Effect<A, LineageError>
  /**
   * Replaces a damaged database: moves it aside (the returned path) and writes one rebuilt from
   * the store's cache records — every execution and artifact they hold; run history is lost.
   */
  readonly rebuild: (records: ReadonlyArray<CacheRecord>) => Effect.Effect<string, LineageError>
}>()("pinkflow/Lineage") {
  static readonly make = (file: string): Lineage["Service"] => {
    const db = new Low<Database>(new AtomicJsonFile(file), empty())
    const repairHint = "; `pinkflow verify --repair` rebuilds it from the cache records"
    const fail = (e: unknown) =>
      new LineageError({
        path: file,
        detail: e instanceof SyntaxError ? `invalid JSON (${e.message})${repairHint}`
          : e instanceof Error ? e.message + (e.message === NOT_A_DATABASE ? repairHint : "") : String(e)
      })
    const read = Effect.tryPromise({ try: () => db.read(), catch: fail }).pipe(Effect.map(() => db.data))
    const update = <A>(change: (data: Database) => A) =>
      Effect.scoped(Effect.gen(function*() {
        yield* Lock.acquire(`${file}.lock`)
        yield* Effect.tryPromise({ try: () => db.read(), catch: fail })
        const result = change(db.data)
        yield* Effect.tryPromise({ try: () => db.write(), catch: fail })
        return result
      }))
    const rebuild = (records: ReadonlyArray<CacheRecord>) =>
      Effect.scoped(Effect.gen(function*() {
        yield* Lock.acquire(`${file}.lock`)
        const aside = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, "-")}`
        const data = empty()
        for (const r of [...records].sort((a, b) => a.createdAt.localeCompare(b.createdAt))) {
          data.executions[r.key] = { key: r.key, stage: r.record.stage, run: r.run, record: r.record, outputs: r.outputs, startedAt: r.createdAt, durationMs: r.durationMs, log: [] }
          for (const [output, s] of Object.entries(r.outputs)) {
            data.artifacts[s.digest] ??= { kind: s.kind, size: s.size, producer: { key: r.key, stage: r.record.stage, output } }
          }
        }
        yield* Effect.tryPromise({
          try: async () => {
            await fs.promises.rename(file, aside).catch((e) => { if (e.code !== "ENOENT") throw e })
            await Atomic.writeFile(file, JSON.stringify(data))
          },
          catch: fail
        })
        db.data = data
        return aside
      }))
    return Lineage.of({ file, read, update, rebuild })
  }

  static readonly layer = (storeRoot: string) =>
    Layer.sync(Lineage, () => Lineage.make(path.join(path.resolve(storeRoot), "lineage.json")))
}

/** A run's status as users should see it: `killed` for a running run whose process is gone. */
export const effectiveStatus = (run: Run): RunStatus | "killed" =>
  run.status === "running" && run.owner !== undefined && !Lock.isAlive(run.owner) ? "killed" : run.status

/** Records executions and the artifacts they produced (an artifact keeps its first producer). */
export const addExecutions = (db: Database, executions: ReadonlyArray<Execution>): void => {
  for (const e of executions) {
    db.executions[e.key] = e
    for (const [output, s] of Object.entries(e.outputs)) {
      db.artifacts[s.digest] ??= { kind: s.kind, size: s.size, producer: { key: e.key, stage: e.stage, output } }
    }
  }
}

/** The most recent run first. */
export const runsNewestFirst = (db: Database): Array<Run> => [...db.runs].reverse()

/** Finds a run by id or unique id prefix. */
export const findRun = (db: Database, id: string): Run | undefined => {
  const exact = db.runs.find((r) => r.id === id)
  if (exact !== undefined) return exact
  const matches = db.runs.filter((r) => r.id.startsWith(id))
  return matches.length === 1 ? matches[0] : undefined
}

/**
 * The last execution of each stage, preferring runs of `pipeline`: one pass over the runs, newest
 * first, so a status over many stages and many runs stays linear.
 */
export const lastExecutions = (db: Database, pipeline: string): (stage: string) => Execution | undefined => {
  const own = new Map<string, Execution>()
  const any = new Map<string, Execution>()
  for (const run of runsNewestFirst(db)) {
    const mine = run.pipeline === pipeline
    for (const [stage, s] of Object.entries(run.stages)) {
      const e = s.key == null ? undefined : db.executions[s.key]
      if (e === undefined) continue
      if (mine && !own.has(stage)) own.set(stage, e)
      if (!any.has(stage)) any.set(stage, e)
    }
  }
  return (stage) => own.get(stage) ?? any.get(stage)
}

/** Executions that consumed `digest`. */
export const consumers = (db: Database, digest: string): Array<{ execution: Execution; input: string }> =>
  Object.values(db.executions).flatMap((execution) =>
    Object.entries(execution.record.inputs)
      .filter(([, i]) => i.digest === digest)
      .map(([input]) => ({ execution, input })))
