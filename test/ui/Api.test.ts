/** The explorer's API views: layouts (dagre, and the layered fallback for huge graphs) and run pages. */
import test from "ava"
import type * as Lineage from "../../src/core/Lineage.ts"
import * as Api from "../../src/ui/Api.ts"

const leftToRight = (l: ReturnType<typeof Api.layout>, edges: ReadonlyArray<readonly [string, string]>) =>
  edges.every(([a, b]) => l.nodes.get(a)!.x < l.nodes.get(b)!.x)

test("a small DAG is laid out by dagre, producers left of consumers", (t) => {
  const names = ["a", "b", "c", "d"]
  const edges = [["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"]] as const
  const l = Api.layout(names, edges)
  t.is(l.engine, "dagre")
  t.is(l.nodes.size, 4)
  t.true(leftToRight(l, edges))
  t.is(l.edges.length, 4)
  t.is(Api.layout(names, edges), l, "the same shape is laid out once")
})

test("a graph too big for dagre gets the layered layout: every node placed, no two on one spot", (t) => {
  // Long edges: node i reads i-1 and i/2, so dagre would add ~n²/4 dummy nodes.
  const n = 3000
  const names = Array.from({ length: n }, (_, i) => `s${i}`)
  const edges: Array<readonly [string, string]> = []
  for (let i = 1; i < n; i++) {
    edges.push([`s${i - 1}`, `s${i}`])
    if (i >> 1 !== i - 1) edges.push([`s${i >> 1}`, `s${i}`])
  }
  const l = Api.layout(names, edges)
  t.is(l.engine, "layered")
  t.is(l.nodes.size, n)
  t.true(leftToRight(l, edges))
  t.is(new Set([...l.nodes.values()].map((p) => `${p.x},${p.y}`)).size, n)
})

const run = (i: number, pipeline: string, status: Lineage.RunStatus): Lineage.Run => ({
  id: `run-${String(i).padStart(5, "0")}`, pipeline, name: "x", variant: i % 2 === 0 ? "k=1" : "k=2", params: {},
  startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), finishedAt: null, status, pinned: false,
  stages: { a: { key: null, status: i % 3 === 0 ? "ran" : "cached", durationMs: 0, outputs: {} } }
})

test("runs are filtered, sorted and paged on the server", (t) => {
  const db: Lineage.Database = { version: 1, executions: {}, artifacts: {}, runs: Array.from({ length: 250 }, (_, i) => run(i, i < 100 ? "p/a.ts" : "p/b.ts", i % 10 === 0 ? "failed" : "succeeded")) }
  const first = Api.runs(db, { offset: 0, limit: 50, filter: "", sort: "startedAt", descending: true })
  t.is(first.total, 250)
  t.is(first.rows.length, 50)
  t.is(first.rows[0]!.id, "run-00249")
  const failedB = Api.runs(db, { offset: 10, limit: 50, filter: "failed", sort: "id", descending: false })
  t.is(failedB.total, 25)
  t.is(failedB.rows.length, 15)
  t.is(failedB.rows[0]!.id, "run-00100")
  t.is(Api.runs(db, { offset: 0, limit: 5, filter: "P/A.TS", sort: "id", descending: false }).total, 100)
  t.is(first.rows.find((r) => r.id === "run-00249")!.ran, 1 - Math.min(1, 249 % 3))
})
