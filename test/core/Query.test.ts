/** compare's row order: names alphabetically, the numbers in them by value. */
import test from "ava"
import { Effect } from "effect"
import type * as Lineage from "../../src/core/Lineage.ts"
import { byName, resolve } from "../../src/core/Query.ts"

test("a curve's points come in step order, after the names they extend", (t) => {
  const names = ["s.metrics.grounding@1050", "s.metrics.grounding@150", "s.metrics.grounding", "s.metrics.grounding@1500", "s.metrics.n", "a.param"]
  t.deepEqual([...names].sort(byName), ["a.param", "s.metrics.grounding", "s.metrics.grounding@150", "s.metrics.grounding@1050", "s.metrics.grounding@1500", "s.metrics.n"])
})

const digestOf = (c: string) => c.repeat(64)
const run = (id: string, status: Lineage.RunStatus, stages: Record<string, string>): Lineage.Run => ({
  id, pipeline: "p.ts", variant: "", params: {}, startedAt: `2026-12-04T${id}:00.000Z`, finishedAt: status === "running" ? null : `2026-12-04T${id}:30.000Z`, status, pinned: false,
  stages: Object.fromEntries(Object.entries(stages).map(([s, d]) => [s, { key: `k-${s}-${id}`, status: "ran", durationMs: 1, outputs: { metrics: { kind: "json", digest: d, size: 1 } } }]))
} as unknown as Lineage.Run)
const execution = (runId: string, stage: string, d: string): Lineage.Execution => ({
  key: `k-${stage}-${runId}`, stage, run: runId, record: { inputs: {} }, outputs: { metrics: { kind: "json", digest: d, size: 1 } }, startedAt: `2026-12-04T${runId}:10.000Z`, durationMs: 1, log: []
} as unknown as Lineage.Execution)

test("stage.output is the newest run's, a run still in progress included once it has finished that stage", async (t) => {
  const older = run("10:00", "succeeded", { s: digestOf("a") })
  const db: Lineage.Database = { version: 1, runs: [older, run("11:00", "running", {})], executions: { [`k-s-10:00`]: execution("10:00", "s", digestOf("a")) }, artifacts: {} }
  t.is(await Effect.runPromise(resolve(db, "s.metrics")), digestOf("a"), "the running run has not finished s: the older run's")
  db.executions["k-s-11:00"] = execution("11:00", "s", digestOf("b"))
  t.is(await Effect.runPromise(resolve(db, "s.metrics")), digestOf("b"), "the running run finished s: its output, not the older run's")
  const failed = await Effect.runPromise(Effect.flip(resolve(db, "t.metrics")))
  t.regex(failed.detail, /no run has recorded output metrics of stage t/)
})
