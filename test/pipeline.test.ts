/**
 * End-to-end behaviour of `pinkflow run` on the example diamond pipeline: caching, param and code
 * changes, early cutoff, status reasons, lineage, and one-line errors for broken pipelines.
 */
import test from "ava"
import { project, ran, statuses, summary } from "./helpers/project.ts"

const PIPELINE = "pipelines/examples/diamond.ts"
const ALL = ["evaluate", "prepare", "report", "split", "train-knn", "train-linear"]

test("first run runs every stage, the second is all cached", (t) => {
  const p = project()
  const first = p.json("run", PIPELINE)
  t.is(first.code, 0, first.stderr)
  t.deepEqual(ran(first.lines), ALL)
  const s = summary(first.lines)
  t.is(s.status, "succeeded")
  t.deepEqual([...s.ran].sort(), ALL)
  const stage = first.lines.find((l) => l.type === "stage" && l.stage === "split")
  t.regex(stage.key, /^[0-9a-f]{64}$/)
  t.regex(stage.outputs.sets, /^[0-9a-f]{64}$/)

  const second = p.json("run", PIPELINE)
  t.is(second.code, 0)
  t.deepEqual(Object.values(statuses(second.lines)), ALL.map(() => "cached"))
  t.deepEqual(summary(second.lines).cached.length, 6)
})

test("--set reruns exactly that stage and its descendants; setting it back reruns nothing", (t) => {
  const p = project()
  t.is(p.json("run", PIPELINE).code, 0)
  const changed = p.json("run", PIPELINE, "--set", "split.testFraction=0.5")
  t.is(changed.code, 0, changed.stderr)
  t.deepEqual(ran(changed.lines), ["evaluate", "report", "split", "train-knn", "train-linear"])
  const back = p.json("run", PIPELINE, "--set", "split.testFraction=0.25")
  t.deepEqual(ran(back.lines), [])
  const plain = p.json("run", PIPELINE)
  t.deepEqual(ran(plain.lines), [])
})

test("editing a module two imports below a stage reruns that stage and its descendants; a comment-only edit reruns nothing", (t) => {
  const p = project()
  t.is(p.json("run", PIPELINE).code, 0)
  // train-linear.ts → lib/logistic.ts → lib/math.ts
  p.edit("stages/examples/lib/math.ts", "/** Keeps log-loss finite. */", "/** Keeps log-loss finite (comment edited). */\n\n\n")
  p.edit("stages/examples/lib/math.ts", "export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z))", "export const sigmoid   =   (z: number): number =>\n  1 / (1 + Math.exp(-z))  // reformatted")
  const comment = p.json("run", PIPELINE)
  t.deepEqual(ran(comment.lines), [], "comment and formatting edits must not invalidate")
  p.edit("stages/examples/lib/math.ts", "export const EPSILON = 1e-7", "export const EPSILON = 0.2")
  // train-linear's loss reads EPSILON: it reruns, and so does evaluate on its new weights; the
  // accuracies come out the same, so report (whose code never reaches math.ts) stays cached.
  const edited = p.json("run", PIPELINE)
  t.deepEqual(ran(edited.lines), ["evaluate", "train-linear"])
  t.is(edited.lines.find((l) => l.stage === "report").status, "cached")
})

test("early cutoff: a rerun stage with byte-identical outputs leaves its dependents cached", (t) => {
  const p = project()
  const first = p.json("run", PIPELINE)
  t.is(first.code, 0)
  // The raw table ends with a duplicate row that prepare drops; removing it from the raw file
  // changes prepare's input but not its output.
  const raw = p.read("pipelines/examples/data/points.csv").trimEnd().split("\n")
  p.write("pipelines/examples/data/points.csv", raw.slice(0, -1).join("\n") + "\n")
  const second = p.json("run", PIPELINE)
  t.deepEqual(ran(second.lines), ["prepare"])
  const clean = (lines: Array<any>) => lines.find((l) => l.type === "stage" && l.stage === "prepare").outputs.clean
  t.is(clean(second.lines), clean(first.lines))
  t.deepEqual(statuses(second.lines).split, "cached")
})
