/**
 * The inspection commands: status, why, dag, lineage, runs/show, sweeps with compare, pin, gc,
 * verify and --dry-run.
 */
import test from "ava"
import * as fs from "node:fs"
import * as path from "node:path"
import { project, ran, summary } from "./helpers/project.ts"

const PIPELINE = "pipelines/examples/diamond.ts"

test("status names the reason a stage is stale: new, params, code, input, missing-output", (t) => {
  const p = project()
  const fresh = p.json("status", PIPELINE).lines[0]
  t.deepEqual(fresh.stages.map((s: any) => s.state), Array(6).fill("stale"))
  t.is(fresh.stages.find((s: any) => s.stage === "prepare").reasons[0].reason, "new")

  t.is(p.json("run", PIPELINE).code, 0)
  t.true(p.json("status", PIPELINE).lines[0].stages.every((s: any) => s.state === "up-to-date"))

  const byStage = (lines: Array<any>) => Object.fromEntries(lines[0].stages.map((s: any) => [s.stage, s]))
  const params = byStage(p.json("status", PIPELINE, "--set", "train-linear.epochs=50").lines)
  t.is(params["train-linear"].state, "stale")
  t.deepEqual(params["train-linear"].reasons, [{ reason: "params", detail: "params epochs: 200 -> 50" }])
  t.is(params.evaluate.reasons[0].detail, "input linear: upstream stage train-linear is stale")
  t.is(params["train-knn"].state, "up-to-date")

  p.edit("stages/examples/lib/logistic.ts", "let loss = 0", "let loss = 0 + 0")
  const code = byStage(p.json("status", PIPELINE).lines)
  t.deepEqual(code["train-linear"].reasons.map((r: any) => r.detail), ["code stages/examples/lib/logistic.ts changed"])
  t.is(code.split.state, "up-to-date")

  fs.appendFileSync(path.join(p.dir, "pipelines/examples/data/points.csv"), "9.0,9.0,1\n")
  const input = byStage(p.json("status", PIPELINE).lines)
  t.is(input.prepare.reasons[0].reason, "input")
  t.regex(input.prepare.reasons[0].detail, /^input raw \(pipelines\/examples\/data\/points\.csv\): [0-9a-f]{12} -> [0-9a-f]{12}$/)

  // Text output: one line per stage with its reasons.
  const text = p.pinkflow("status", PIPELINE).stdout
  t.regex(text, /^prepare\s+stale\s+input raw \(pipelines\/examples\/data\/points\.csv\)/m)
})

test("status reports missing-output when a stored object disappears, and run recomputes it", (t) => {
  const p = project()
  const first = p.json("run", PIPELINE)
  const digest = first.lines.find((l) => l.type === "stage" && l.stage === "report").outputs.summary
  const blob = path.join(p.store, "objects", digest.slice(0, 2), digest)
  fs.rmSync(blob, { force: true })
  const st = p.json("status", PIPELINE).lines[0].stages.find((s: any) => s.stage === "report")
  t.is(st.state, "stale")
  t.is(st.reasons[0].reason, "missing-output")
  t.is(p.pinkflow("verify").code, 1)
  t.deepEqual(ran(p.json("run", PIPELINE).lines), ["report"])
  t.true(fs.existsSync(blob))
  t.is(p.pinkflow("verify").code, 0)
})

test("verify finds a corrupt object and the cached outputs that need it; --repair makes the next run recompute them", (t) => {
  const p = project()
  const first = p.json("run", PIPELINE)
  const digest = first.lines.find((l) => l.type === "stage" && l.stage === "prepare").outputs.clean
  const blob = path.join(p.store, "objects", digest.slice(0, 2), digest)
  fs.chmodSync(blob, 0o644)
  fs.appendFileSync(blob, "tampered")
  const v = p.json("verify").lines[0]
  t.false(v.ok)
  t.deepEqual(v.corrupt, [digest])
  t.true(v.missing.some((m: any) => m.stage === "prepare" && m.output === "clean"))
  const text = p.pinkflow("verify")
  t.is(text.code, 1)
  t.regex(text.stdout, new RegExp(`corrupt object ${digest}`))
  // --repair drops the object and the records that need it; the next run recomputes prepare only
  // (its output is identical again, so everything below stays cached).
  t.is(p.pinkflow("verify", "--repair").code, 0)
  t.is(p.pinkflow("verify").code, 0)
  t.deepEqual(ran(p.json("run", PIPELINE).lines), ["prepare"])
  t.notRegex(fs.readFileSync(blob, "utf8"), /tampered/)
})

test("why shows the last key record beside the current one, with the change marked", (t) => {
  const p = project()
  p.json("run", PIPELINE)
  const w = p.json("why", PIPELINE, "train-knn", "--set", "train-knn.k=3").lines[0]
  t.is(w.state, "stale")
  t.is(w.previous.params.k, 5)
  t.is(w.current.params.k, 3)
  t.not(w.key, w.previousKey)
  const text = p.pinkflow("why", PIPELINE, "train-knn", "--set", "train-knn.k=3").stdout
  t.regex(text, /^\* params k\s+5\s+3$/m)
  t.regex(text, /^  params\s+params k: 5 -> 3$/m)
})

test("dag prints text, dot, mermaid and json", (t) => {
  const p = project()
  const j = JSON.parse(p.pinkflow("dag", PIPELINE, "--format", "json").stdout)
  t.deepEqual(j.stages.map((s: any) => s.name).slice(0, 2), ["prepare", "split"])
  t.is(j.edges.length, 7)
  t.true(j.edges.some((e: any) => e.from === "train-knn" && e.to === "evaluate" && e.input === "knn"))
  t.regex(p.pinkflow("dag", PIPELINE, "--format", "dot").stdout, /"split" -> "train-linear" \[label="sets → sets"\];/)
  t.regex(p.pinkflow("dag", PIPELINE, "--format", "mermaid").stdout, /^flowchart LR/)
  t.regex(p.pinkflow("dag", PIPELINE).stdout, /^evaluate\n  in:  sets ← split\.sets, linear ← train-linear\.model, knn ← train-knn\.model/m)
})

test("lineage goes up to the project file and down to everything derived", (t) => {
  const p = project()
  p.json("run", PIPELINE)
  const up = p.json("lineage", "report.summary").lines[0]
  t.is(up.producer.stage, "report")
  const metrics = up.producer.inputs[0].artifact
  t.is(metrics.producer.stage, "evaluate")
  const sets = metrics.producer.inputs.find((i: any) => i.input === "sets").artifact
  t.deepEqual(sets.producer.params, { testFraction: 0.25, seed: 7 })
  const raw = sets.producer.inputs[0].artifact.producer.inputs[0]
  t.is(raw.from, "pipelines/examples/data/points.csv")
  t.is(raw.artifact.source, "pipelines/examples/data/points.csv")
  t.true(Object.keys(up.producer.code).includes("stages/examples/report.ts"))

  const down = p.json("lineage", "split.sets", "--down").lines[0]
  const direct = down.derived.map((d: any) => d.stage).sort()
  t.deepEqual(direct, ["evaluate", "train-knn", "train-linear"])
  const all = JSON.stringify(down)
  t.true(all.includes('"stage":"report"'))
  // By digest prefix, too.
  t.is(p.json("lineage", down.digest.slice(0, 10)).lines[0].producer.stage, "split")
})

test("a sweep runs every variant, shares upstream stages, and compare marks differences", (t) => {
  const p = project()
  const r = p.json("run", "pipelines/examples/sweep.ts")
  t.is(r.code, 0, r.stderr)
  const summaries = r.lines.filter((l) => l.type === "summary")
  t.is(summaries.length, 6)
  const prepareRuns = r.lines.filter((l) => l.type === "stage" && l.stage === "prepare" && l.status === "ran")
  t.is(prepareRuns.length, 1, "the shared prepare stage is computed once")
  const knnRuns = r.lines.filter((l) => l.type === "stage" && l.stage === "train-knn" && l.status === "ran")
  t.is(knnRuns.length, 2, "two values of k")
  const ids = summaries.slice(0, 2).map((s) => s.run)
  const c = p.json("compare", ...ids).lines[0]
  const lr = c.rows.find((x: any) => x.name === "train-linear.lr")
  t.deepEqual(lr.values, [0.05, 0.05])
  t.false(lr.differs)
  const k = c.rows.find((x: any) => x.name === "train-knn.k")
  t.true(k.differs)
  t.deepEqual(k.values, [1, 7])
  t.true(c.rows.some((x: any) => x.section === "metric" && x.name === "evaluate.metrics.accuracyKnn"))
  const text = p.pinkflow("compare", ...ids).stdout
  t.regex(text, /^\*\s+param train-knn\.k\s+1\s+7$/m)
  // A second run of the sweep is all cached.
  const again = p.json("run", "pipelines/examples/sweep.ts")
  t.true(again.lines.filter((l) => l.type === "summary").every((s) => s.ran.length === 0))
})

test("runs, show, pin and gc keep what recent and pinned runs reference", (t) => {
  const p = project()
  const a = summary(p.json("run", PIPELINE, "--set", "train-knn.k=1").lines).run
  p.json("run", PIPELINE)
  const list = p.json("runs").lines[0]
  t.is(list.length, 2)
  t.is(list[1].id, a)
  t.is(p.json("show", a).lines[0].stages["train-knn"].status, "ran")
  t.is(p.pinkflow("pin", a).code, 0)
  const dry = p.json("gc", "--keep-runs", "1", "--dry-run").lines[0]
  t.is(dry.objects, 0, "a pinned run keeps its objects")
  t.is(p.pinkflow("unpin", a).code, 0)
  const wouldFree = p.json("gc", "--keep-runs", "1", "--dry-run").lines[0]
  t.true(wouldFree.objects > 0)
  const freed = p.json("gc", "--keep-runs", "1").lines[0]
  t.is(freed.objects, wouldFree.objects)
  t.is(p.pinkflow("verify").code, 0)
  // The latest run is still complete; the freed variant recomputes.
  t.deepEqual(ran(p.json("run", PIPELINE).lines), [])
  t.true(ran(p.json("run", PIPELINE, "--set", "train-knn.k=1").lines).includes("train-knn"))
})

test("--dry-run says what would run and runs nothing", (t) => {
  const p = project()
  p.json("run", PIPELINE)
  const d = p.json("run", PIPELINE, "--dry-run", "--set", "train-knn.k=2")
  const would = d.lines.filter((l) => l.type === "stage" && l.status === "would-run").map((l) => l.stage).sort()
  t.deepEqual(would, ["evaluate", "report", "train-knn"])
  t.deepEqual(ran(p.json("run", PIPELINE).lines), [])
  t.is(summary(d.lines).status, "dry-run")
})

test("--force recomputes a cached stage", (t) => {
  const p = project()
  p.json("run", PIPELINE)
  const f = p.json("run", PIPELINE, "--force", "split")
  t.true(ran(f.lines).includes("split"))
  // Identical outputs: the force does not ripple further (early cutoff).
  t.deepEqual(ran(f.lines), ["split"])
})
