/**
 * The lineage explorer's JSON API: pure views over the lineage database and the store, plus the
 * pipeline DAG with every stage's state, laid out on the server with dagre (and kept while the
 * graph's shape is unchanged), so the browser only draws what is in view.
 */
import dagre from "@dagrejs/dagre"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Digest from "../core/Digest.ts"
import * as Engine from "../core/Engine.ts"
import * as Lineage from "../core/Lineage.ts"
import * as Lock from "../core/Lock.ts"
import * as Query from "../core/Query.ts"
import type * as Status from "../core/Status.ts"
import type { Store } from "../core/Store.ts"
import * as Box from "../data/Box.ts"
import * as Metrics from "../eval/Metrics.ts"

// ---------------------------------------------------------------------------------------------
// Runs

export interface RunRow {
  readonly id: string
  readonly pipeline: string
  readonly variant: string
  readonly status: string
  readonly startedAt: string
  readonly finishedAt: string | null
  readonly pinned: boolean
  readonly ran: number
  readonly cached: number
  readonly failed: number
}

const row = (r: Lineage.Run): RunRow => {
  const stages = Object.values(r.stages)
  const count = (s: Lineage.StageStatus) => stages.filter((x) => x.status === s).length
  return {
    id: r.id,
    pipeline: r.pipeline,
    variant: r.variant,
    status: Lineage.effectiveStatus(r),
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    pinned: r.pinned,
    ran: count("ran"),
    cached: count("cached"),
    failed: count("failed")
  }
}

export interface RunsQuery {
  readonly offset: number
  readonly limit: number
  /** Case-insensitive text every shown row contains (in id, pipeline, variant or status). */
  readonly filter: string
  readonly sort: keyof RunRow
  readonly descending: boolean
}

/** One page of runs, filtered and sorted. */
export const runs = (db: Lineage.Database, q: RunsQuery) => {
  const needle = q.filter.toLowerCase()
  const rows = db.runs.map(row).filter((r) =>
    needle === "" || `${r.id} ${r.pipeline} ${r.variant} ${r.status}`.toLowerCase().includes(needle))
  const sign = q.descending ? -1 : 1
  rows.sort((a, b) => {
    const x = a[q.sort] ?? ""
    const y = b[q.sort] ?? ""
    return (x < y ? -1 : x > y ? 1 : 0) * sign
  })
  return { total: rows.length, offset: q.offset, rows: rows.slice(q.offset, q.offset + q.limit) }
}

export const run = (db: Lineage.Database, id: string) => {
  const r = Lineage.findRun(db, id)
  return r === undefined ? undefined : { ...r, status: Lineage.effectiveStatus(r) }
}

/** Pipeline files seen in runs, newest first, with their run counts. */
export const pipelines = (db: Lineage.Database) => {
  const counts = new Map<string, number>()
  for (const r of Lineage.runsNewestFirst(db)) counts.set(r.pipeline, (counts.get(r.pipeline) ?? 0) + 1)
  return [...counts].map(([pipeline, runs]) => ({ pipeline, runs }))
}

/** Every metrics output of every run of `pipeline`, oldest first: `stage.output.metric` → value. */
export const metrics = (db: Lineage.Database, store: Store["Service"], pipeline: string) =>
  db.runs.filter((r) => r.pipeline === pipeline).map((r) => {
    const values: Record<string, number> = {}
    for (const [stage, s] of Object.entries(r.stages)) {
      for (const [output, o] of Object.entries(s.outputs)) {
        if (o.kind !== "metrics") continue
        const m = readJson(store, o.digest)
        if (m !== null && typeof m === "object") {
          for (const [k, v] of Object.entries(m)) if (typeof v === "number") values[`${stage}.${output}.${k}`] = v
        }
      }
    }
    return { run: r.id, variant: r.variant, startedAt: r.startedAt, values }
  })

const readJson = (store: Store["Service"], digest: string): unknown => {
  try {
    return JSON.parse(fs.readFileSync(store.blobPath(digest), "utf8"))
  } catch {
    return null
  }
}

/** Loss curves: every json output of the run's stages that holds `[step, loss]` points. */
export const curves = (db: Lineage.Database, store: Store["Service"], runId: string) => {
  const r = Lineage.findRun(db, runId)
  if (r === undefined) return []
  const out: Array<{ readonly stage: string; readonly output: string; readonly points: ReadonlyArray<readonly [number, number]> }> = []
  for (const [stage, s] of Object.entries(r.stages)) {
    for (const [output, o] of Object.entries(s.outputs)) {
      if (o.kind !== "json" || o.size > 1_000_000) continue
      const v = readJson(store, o.digest)
      const points = Array.isArray(v) ? v : (v as { losses?: unknown } | null)?.losses
      if (Array.isArray(points) && points.length > 1 && points.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === "number"))) {
        out.push({ stage, output, points: points as Array<[number, number]> })
      }
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Lineage and comparison (the CLI's queries)

export const lineage = (db: Lineage.Database, digest: string) => ({
  digest,
  info: db.artifacts[digest] ?? null,
  upstream: Query.upstream(db, digest),
  downstream: Query.downstream(db, digest)
})

export const compare = (db: Lineage.Database, ids: ReadonlyArray<string>) => Query.compare(db, ids)

// ---------------------------------------------------------------------------------------------
// The DAG and the stage panel

export interface Node {
  readonly name: string
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
  readonly state: "cached" | "stale" | "running" | "failed"
  readonly reasons: ReadonlyArray<string>
}

export interface Layout {
  readonly nodes: ReadonlyArray<Node>
  readonly edges: ReadonlyArray<{ readonly from: string; readonly to: string; readonly points: ReadonlyArray<{ x: number; y: number }> }>
  readonly width: number
  readonly height: number
}

type Laid = {
  readonly nodes: Map<string, { x: number; y: number; width: number; height: number }>
  readonly edges: Layout["edges"]
  readonly width: number
  readonly height: number
  readonly engine: "dagre" | "layered"
}

const layouts = new Map<string, Laid>()

/**
 * Above this many nodes (counting the dummy nodes dagre adds along edges that skip ranks), dagre's
 * crossing minimisation takes seconds to minutes (measured: 63 s for a 1,000-stage graph whose
 * edges skip many ranks; 4.3 s for 10,000 stages in short chains), so larger graphs get a
 * linear-time layered layout instead.
 */
export const DAGRE_LIMIT = 2500

const nodeSize = (n: string) => ({ width: Math.max(90, 8 * n.length + 24), height: 34 })

/** A layout of the graph (names in topological order), computed once per graph shape. */
export const layout = (names: ReadonlyArray<string>, edges: ReadonlyArray<readonly [string, string]>): Laid => {
  const shape = Digest.ofJson([names, edges])
  const hit = layouts.get(shape)
  if (hit !== undefined) return hit
  const rank = new Map(names.map((n) => [n, 0]))
  const preds = new Map<string, Array<string>>(names.map((n) => [n, []]))
  for (const [a, b] of edges) preds.get(b)!.push(a)
  for (const n of names) for (const p of preds.get(n)!) rank.set(n, Math.max(rank.get(n)!, rank.get(p)! + 1))
  const dummies = edges.reduce((sum, [a, b]) => sum + rank.get(b)! - rank.get(a)! - 1, 0)
  const result = names.length + dummies <= DAGRE_LIMIT ? withDagre(names, edges) : layered(names, edges, rank, preds)
  layouts.set(shape, result)
  return result
}

const withDagre = (names: ReadonlyArray<string>, edges: ReadonlyArray<readonly [string, string]>) => {
  const g = new dagre.graphlib.Graph()
  g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 60, marginx: 20, marginy: 20 })
  g.setDefaultEdgeLabel(() => ({}))
  for (const n of names) g.setNode(n, nodeSize(n))
  for (const [a, b] of edges) g.setEdge(a, b)
  dagre.layout(g)
  const nodes = new Map(names.map((n) => {
    const v = g.node(n)
    return [n, { x: v.x, y: v.y, width: v.width, height: v.height }] as const
  }))
  const laidEdges = edges.map(([from, to]) => ({ from, to, points: (g.edge(from, to) as { points: Array<{ x: number; y: number }> }).points }))
  const graph = g.graph() as { width?: number; height?: number }
  return { nodes, edges: laidEdges, width: graph.width ?? 0, height: graph.height ?? 0, engine: "dagre" as const }
}

/** Columns by longest-path rank, rows ordered by the mean row of each node's predecessors. */
const layered = (names: ReadonlyArray<string>, edges: ReadonlyArray<readonly [string, string]>, rank: ReadonlyMap<string, number>, preds: ReadonlyMap<string, ReadonlyArray<string>>) => {
  const columns: Array<Array<string>> = []
  for (const n of names) (columns[rank.get(n)!] ??= []).push(n)
  const row = new Map<string, number>()
  const widths = columns.map((c) => Math.max(...c.map((n) => nodeSize(n).width)))
  for (const column of columns) {
    const key = (n: string) => {
      const ps = preds.get(n)!
      return ps.length === 0 ? 0 : ps.reduce((s, p) => s + row.get(p)!, 0) / ps.length
    }
    const keyed = column.map((n) => [key(n), n] as const).sort((a, b) => a[0] - b[0])
    keyed.forEach(([, n], i) => row.set(n, i))
  }
  const xs: Array<number> = []
  let x = 20
  for (const w of widths) {
    xs.push(x + w / 2)
    x += w + 60
  }
  const nodes = new Map(names.map((n) => [n, { x: xs[rank.get(n)!]!, y: 20 + 17 + row.get(n)! * 52, ...nodeSize(n) }] as const))
  const laidEdges = edges.map(([from, to]) => {
    const a = nodes.get(from)!
    const b = nodes.get(to)!
    return { from, to, points: [{ x: a.x + a.width / 2, y: a.y }, { x: b.x - b.width / 2, y: b.y }] }
  })
  const height = 40 + Math.max(...columns.map((c) => c.length)) * 52
  return { nodes, edges: laidEdges, width: x, height, engine: "layered" as const }
}

/** The states of a pipeline's stages now (its first variant), overlaid with runs in progress. */
const states = (file: string) =>
  Effect.map(Engine.inspect(file, {}), (variants) => variants[0]!)

/** The DAG of `file`, laid out, each stage with its state and why. */
export const dag = (file: string, storeRoot: string, db: Lineage.Database) =>
  Effect.map(states(file), ({ plan, states }) => {
    const edges = plan.dag.edges().map((e) => [e.v, e.w] as const)
    const laid = layout(plan.order, edges)
    const running = runningKeys(storeRoot)
    const last = Lineage.runsNewestFirst(db).find((r) => r.pipeline === plan.loaded.file)
    const nodes = states.map((s): Node => {
      const at = laid.nodes.get(s.stage)!
      const failed = last?.stages[s.stage]?.status === "failed"
      const state = s.state === "up-to-date" ? "cached" : s.key !== null && running.has(s.key) ? "running" : failed ? "failed" : "stale"
      return { name: s.stage, ...at, state, reasons: state === "failed" ? [last!.stages[s.stage]!.error ?? "failed", ...s.reasons.map((r) => r.detail)] : s.reasons.map((r) => `${r.reason}: ${r.detail}`) }
    })
    return { pipeline: plan.loaded.file, layout: laid.engine, nodes, edges: laid.edges, width: laid.width, height: laid.height, lastRun: last === undefined ? null : { id: last.id, status: Lineage.effectiveStatus(last) } }
  })

/** Keys whose lock a live process holds: the stages being computed now. */
const runningKeys = (storeRoot: string): Set<string> => {
  const dir = path.join(storeRoot, "locks")
  const names = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => /^[0-9a-f]{64}\.lock$/.test(n)) : []
  return new Set(names.filter((n) => Lock.holder(path.join(dir, n)) !== undefined).map((n) => n.slice(0, 64)))
}

/** Everything the stage panel shows: params, code, inputs and outputs, timings, log and why. */
export const stage = (file: string, name: string) =>
  Effect.map(states(file), ({ plan, states }) => {
    const s: Status.StageState | undefined = states.find((x) => x.stage === name)
    if (s === undefined) return undefined
    const planned = plan.stages.get(name)!
    const prev = s.previous
    return {
      stage: name,
      description: planned.stage.description ?? null,
      state: s.state,
      key: s.key,
      reasons: s.reasons,
      params: planned.params,
      code: planned.code,
      env: planned.env,
      inputs: s.record?.inputs ?? prev?.record.inputs ?? {},
      outputs: s.outputs ?? prev?.outputs ?? {},
      previous: prev === undefined ? null : { key: prev.key, run: prev.run, startedAt: prev.startedAt, durationMs: prev.durationMs, log: prev.log.slice(-400), outputs: prev.outputs, record: prev.record },
      upstream: plan.dag.predecessors(name) ?? [],
      downstream: plan.dag.successors(name) ?? []
    }
  })

// ---------------------------------------------------------------------------------------------
// Pink views: evaluation gallery and bootstrap pairs

const readJsonl = (file: string): Array<any> =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l)) : []

const treeFile = (store: Store["Service"], tree: string, rel: string): string | undefined => {
  const e = store.manifest(tree)?.entries.find(([p]) => p === rel)
  return e === undefined ? undefined : store.blobPath(e[1])
}

/**
 * An evaluation stage's predictions with their images: `predictions.jsonl` rows that name an
 * image of the stage's `eval` input and carry boxes (truth and parsed prediction).
 */
export const gallery = (db: Lineage.Database, store: Store["Service"], key: string, limit: number) => {
  const e = db.executions[key]
  if (e === undefined) return []
  const predictions = Object.values(e.outputs).find((o) => o.kind === "directory" && treeFile(store, o.digest, "predictions.jsonl") !== undefined)
  const evalInput = Object.values(e.record.inputs).find((i) => i.kind === "directory" && treeFile(store, i.digest, "tasks.jsonl") !== undefined) ??
    Object.values(e.record.inputs).find((i) => i.kind === "directory")
  if (predictions === undefined || evalInput === undefined) return []
  return readJsonl(treeFile(store, predictions.digest, "predictions.jsonl")!)
    .filter((p) => Array.isArray(p.truth) && typeof p.image === "string")
    .slice(0, limit)
    .map((p) => ({ ...p, src: `/api/tree/${evalInput.digest}/${p.image}` }))
}

/** Bootstrap candidates with the IoU of their own grounding against the true box. */
export const bootstrap = (db: Lineage.Database, store: Store["Service"], key: string, minIou: number, limit: number) => {
  const e = db.executions[key]
  const candidates = e === undefined ? undefined : Object.values(e.outputs).find((o) => o.kind === "directory" && treeFile(store, o.digest, "candidates.jsonl") !== undefined)
  if (e === undefined || candidates === undefined) return []
  const detection = Object.values(e.record.inputs).find((i) => i.kind === "directory")
  return readJsonl(treeFile(store, candidates.digest, "candidates.jsonl")!).slice(0, limit).map((c) => {
    const box = Metrics.parseSingleBox(String(c.grounded))
    return {
      ...c,
      box,
      iou: box === null ? null : Box.iou(box, c.truth),
      kept: Metrics.keepPair(String(c.description), String(c.grounded), c.truth, minIou),
      src: detection === undefined ? null : `/api/tree/${detection.digest}/${c.image}`
    }
  })
}

/** A file of the store: a blob, or a file inside a tree. */
export const blobFile = (store: Store["Service"], digest: string, rel?: string): string | undefined => {
  if (!Digest.isDigest(digest)) return undefined
  if (rel === undefined) return store.hasBlob(digest) ? store.blobPath(digest) : undefined
  return treeFile(store, digest, rel)
}
