/**
 * Questions asked of the lineage database: where an artifact came from (upstream, recursively),
 * what was derived from it (downstream), and how runs differ (params and metrics side by side).
 */
import { Data, Effect } from "effect"
import * as Digest from "./Digest.ts"
import * as Lineage from "./Lineage.ts"
import * as Pipeline from "./Pipeline.ts"
import { Store } from "./Store.ts"

export class QueryError extends Data.TaggedError("QueryError")<{
  readonly subject: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.subject}: ${this.detail}`
  }
}

/** What lineage says of one execution: its stage, run, and the key record's params, code and environment. */
export interface Produced {
  readonly stage: string
  readonly run: string
  /** The substitute the result was taken from. */
  readonly substitute?: string | undefined
  readonly params: unknown
  readonly code: Readonly<Record<string, string>>
  readonly packages: Readonly<Record<string, string>>
  readonly env: Readonly<Record<string, string>>
}

const produced = (e: Lineage.Execution): Produced => ({
  stage: e.stage,
  run: e.run,
  ...(e.substitute === undefined ? {} : { substitute: e.substitute }),
  params: e.record.params,
  code: e.record.code.modules,
  packages: e.record.code.packages,
  env: e.record.env
})

export interface Upstream {
  readonly digest: string
  readonly kind: string
  /** Set for a project file or directory. */
  readonly source?: string
  readonly producer?: Produced & {
    readonly output: string
    readonly key: string
    readonly inputs: ReadonlyArray<{ readonly input: string; readonly from: string; readonly artifact: Upstream }>
  }
}

export interface Downstream {
  readonly stage: string
  readonly input: string
  readonly key: string
  /** This execution was already listed above (reached again through another input): its outputs are not repeated. */
  readonly repeat: boolean
  readonly outputs: ReadonlyArray<{ readonly output: string; readonly digest: string; readonly kind: string; readonly derived: ReadonlyArray<Downstream> }>
}

/** Lineage as a graph: artifacts and executions as nodes, each edge once, nothing repeated. */
export interface Graph {
  readonly digest: string
  readonly direction: "up" | "down"
  readonly artifacts: Readonly<Record<string, { readonly kind: string; readonly source?: string }>>
  readonly executions: Readonly<Record<string, Produced>>
  /** `input`: the artifact `digest` fed input `name` of execution `key`; `output`: execution `key` produced `digest` as output `name`. */
  readonly edges: ReadonlyArray<{ readonly type: "input" | "output"; readonly digest: string; readonly key: string; readonly name: string }>
}

/** A digest (or a unique prefix of at least 6 characters) or `stage.output` → a full digest. */
export const resolve = (db: Lineage.Database, subject: string): Effect.Effect<string, QueryError> => {
  const dot = subject.indexOf(".")
  if (dot > 0 && !/^[0-9a-f]+$/.test(subject)) {
    const stage = subject.slice(0, dot)
    const output = subject.slice(dot + 1)
    // The newest run that has it; a run still in progress has recorded its finished stages as
    // executions only, and is newer than every run before it.
    for (const run of Lineage.runsNewestFirst(db)) {
      const found = run.stages[stage]?.outputs[output]
        ?? (run.status === "running" ? Object.values(db.executions).find((e) => e.run === run.id && e.stage === stage && e.outputs[output] !== undefined)?.outputs[output] : undefined)
      if (found !== undefined) return Effect.succeed(found.digest)
    }
    // An execution whose run was not recorded.
    const latest = Object.values(db.executions).filter((e) => e.stage === stage && e.outputs[output] !== undefined)
      .sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1))[0]
    if (latest !== undefined) return Effect.succeed(latest.outputs[output]!.digest)
    return Effect.fail(new QueryError({ subject, detail: `no run has recorded output ${output} of stage ${stage}` }))
  }
  if (Digest.isDigest(subject)) return Effect.succeed(subject)
  if (!/^[0-9a-f]{6,}$/.test(subject)) {
    return Effect.fail(new QueryError({ subject, detail: "expected a digest (at least 6 hex characters) or stage.output" }))
  }
  const known = new Set<string>([
    ...Object.keys(db.artifacts),
    ...Object.values(db.executions).flatMap((e) => Object.values(e.record.inputs).map((i) => i.digest))
  ])
  const matches = [...known].filter((d) => d.startsWith(subject))
  if (matches.length === 1) return Effect.succeed(matches[0]!)
  return Effect.fail(new QueryError({ subject, detail: matches.length === 0 ? "no artifact with this digest in lineage" : `ambiguous prefix (${matches.length} artifacts)` }))
}

/** Where `digest` came from, recursively. */
export const upstream = (db: Lineage.Database, digest: string, kind = "file", source?: string): Upstream => {
  const info = db.artifacts[digest]
  if (info === undefined) return source === undefined ? { digest, kind } : { digest, kind, source }
  const exec = db.executions[info.producer.key]
  if (exec === undefined) return { digest, kind: info.kind }
  return {
    digest,
    kind: info.kind,
    producer: {
      ...produced(exec),
      output: info.producer.output,
      key: exec.key,
      inputs: Object.entries(exec.record.inputs).map(([input, rec]) => ({
        input,
        from: rec.from,
        artifact: upstream(db, rec.digest, rec.kind, db.artifacts[rec.digest] === undefined ? rec.from : undefined)
      }))
    }
  }
}

/**
 * Everything derived from `digest`, recursively, as a tree: every consumer edge is listed; an
 * execution reached a second time (two branches sharing a descendant) is marked `repeat` and its
 * outputs are not expanded again.
 */
export const downstream = (db: Lineage.Database, digest: string, seen = new Set<string>()): Array<Downstream> =>
  Lineage.consumers(db, digest).map(({ execution, input }) => {
    const repeat = seen.has(execution.key)
    seen.add(execution.key)
    return {
      stage: execution.stage,
      input,
      key: execution.key,
      repeat,
      outputs: repeat ? [] : Object.entries(execution.outputs).map(([output, s]) => ({
        output,
        digest: s.digest,
        kind: s.kind,
        derived: downstream(db, s.digest, seen)
      }))
    }
  })

/** The lineage graph of `digest`: what produced it (`up`) or what derives from it (`down`), transitively. */
export const graph = (db: Lineage.Database, digest: string, direction: "up" | "down"): Graph => {
  const artifacts: Record<string, { kind: string; source?: string }> = {}
  const executions: Record<string, Produced> = {}
  const edges: Array<Graph["edges"][number]> = []
  const addExecution = (e: Lineage.Execution) => {
    if (executions[e.key] !== undefined) return false
    executions[e.key] = produced(e)
    return true
  }
  const addArtifact = (d: string, kind: string, source?: string) => {
    if (artifacts[d] !== undefined) return false
    artifacts[d] = source === undefined ? { kind } : { kind, source }
    return true
  }
  const stack: Array<string> = [digest]
  addArtifact(digest, db.artifacts[digest]?.kind ?? "file")
  while (stack.length > 0) {
    const d = stack.pop()!
    if (direction === "up") {
      const info = db.artifacts[d]
      const exec = info === undefined ? undefined : db.executions[info.producer.key]
      if (info === undefined || exec === undefined) continue
      edges.push({ type: "output", digest: d, key: exec.key, name: info.producer.output })
      if (!addExecution(exec)) continue
      for (const [input, rec] of Object.entries(exec.record.inputs)) {
        edges.push({ type: "input", digest: rec.digest, key: exec.key, name: input })
        if (addArtifact(rec.digest, rec.kind, db.artifacts[rec.digest] === undefined ? rec.from : undefined)) stack.push(rec.digest)
      }
    } else {
      for (const { execution, input } of Lineage.consumers(db, d)) {
        edges.push({ type: "input", digest: d, key: execution.key, name: input })
        if (!addExecution(execution)) continue
        for (const [output, s] of Object.entries(execution.outputs)) {
          edges.push({ type: "output", digest: s.digest, key: execution.key, name: output })
          if (addArtifact(s.digest, s.kind)) stack.push(s.digest)
        }
      }
    }
  }
  return { digest, direction, artifacts, executions, edges }
}

const flatten = (value: unknown, prefix: string, out: Record<string, unknown>) => {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, `${prefix}.${k}`, out)
  } else out[prefix] = value
}

export interface Comparison {
  readonly runs: ReadonlyArray<{ readonly id: string; readonly pipeline: string; readonly variant: string; readonly status: string }>
  readonly rows: ReadonlyArray<{ readonly section: "param" | "metric"; readonly name: string; readonly values: ReadonlyArray<unknown>; readonly differs: boolean }>
}

/** Effective params (from each stage's key record) and metrics of runs, side by side. */
/** The order of compare's rows: by name, numbers in names by value, so a curve's points (`grounding@150`, `grounding@1050`) read in step order. */
export const byName = (a: string, b: string): number => a.localeCompare(b, "en", { numeric: true })

export const compare = Effect.fn("Query.compare")(function*(db: Lineage.Database, ids: ReadonlyArray<string>) {
  const store = yield* Store
  const runs: Array<Lineage.Run> = []
  for (const id of ids) {
    const run = Lineage.findRun(db, id)
    if (run === undefined) return yield* new QueryError({ subject: id, detail: "no such run (see pinkflow runs)" })
    runs.push(run)
  }
  const params: Array<Record<string, unknown>> = []
  const metrics: Array<Record<string, unknown>> = []
  for (const run of runs) {
    const p: Record<string, unknown> = {}
    const m: Record<string, unknown> = {}
    for (const [stage, s] of Object.entries(run.stages)) {
      const exec = s.key === null ? undefined : db.executions[s.key]
      if (exec !== undefined) flatten(exec.record.params, stage, p)
      for (const [output, stored] of Object.entries(s.outputs)) {
        if (stored.kind !== "metrics") continue
        const value = yield* store.readJson(stored.digest).pipe(Effect.orElseSucceed(() => ({})))
        flatten(value, `${stage}.${output}`, m)
      }
    }
    params.push(p)
    metrics.push(m)
  }
  const rows = (section: "param" | "metric", maps: ReadonlyArray<Record<string, unknown>>) =>
    [...new Set(maps.flatMap((x) => Object.keys(x)))].sort(byName).map((name) => {
      const values = maps.map((x) => x[name])
      const differs = new Set(values.map((v) => Digest.canonicalJson(v ?? null))).size > 1
      return { section, name, values, differs }
    })
  return {
    runs: runs.map((r) => ({ id: r.id, pipeline: r.pipeline, variant: Pipeline.describeVariant(r), status: r.status })),
    rows: [...rows("param", params), ...rows("metric", metrics)]
  } satisfies Comparison
})
