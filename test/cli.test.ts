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
  t.is(params.evaluate.state, "may-run")
  t.deepEqual(params.evaluate.reasons, [{ reason: "input", detail: "input linear: upstream stage train-linear will run; cached if its output is unchanged" }])
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

test("lineage goes up to the project file and down to everything derived, as a graph in JSON", (t) => {
  const p = project()
  p.json("run", PIPELINE)
  const up = p.json("lineage", "report.summary").lines[0]
  t.is(up.direction, "up")
  const stageOf = (g: any, key: string) => g.executions[key].stage
  const producerOf = (g: any, digest: string) => g.edges.find((e: any) => e.type === "output" && e.digest === digest)?.key
  const inputsOf = (g: any, key: string) => g.edges.filter((e: any) => e.type === "input" && e.key === key)
  const report = producerOf(up, up.digest)
  t.is(stageOf(up, report), "report")
  const evaluate = producerOf(up, inputsOf(up, report)[0].digest)
  t.is(stageOf(up, evaluate), "evaluate")
  const setsDigest = inputsOf(up, evaluate).find((e: any) => e.name === "sets").digest
  const split = producerOf(up, setsDigest)
  t.deepEqual(up.executions[split].params, { testFraction: 0.25, seed: 7 })
  const prepare = producerOf(up, inputsOf(up, split)[0].digest)
  const raw = inputsOf(up, prepare)[0]
  t.is(up.artifacts[raw.digest].source, "pipelines/examples/data/points.csv")
  t.true(Object.keys(up.executions[report].code).includes("stages/examples/report.ts"))
  // Every stage once, every edge once.
  t.is(Object.keys(up.executions).length, 6)
  t.is(new Set(up.edges.map((e: any) => JSON.stringify(e))).size, up.edges.length)

  // Down: evaluate is reached from split.sets directly and through both models; no edge is dropped.
  const down = p.json("lineage", "split.sets", "--down").lines[0]
  t.is(down.direction, "down")
  const consumers = (digest: string) => down.edges.filter((e: any) => e.type === "input" && e.digest === digest).map((e: any) => stageOf(down, e.key)).sort()
  t.deepEqual(consumers(down.digest), ["evaluate", "train-knn", "train-linear"])
  for (const model of ["train-linear", "train-knn"]) {
    const key = Object.keys(down.executions).find((k) => stageOf(down, k) === model)!
    const out = down.edges.find((e: any) => e.type === "output" && e.key === key).digest
    t.deepEqual(consumers(out), ["evaluate"], `${model}.model → evaluate`)
  }
  t.true(Object.values(down.executions).some((e: any) => e.stage === "report"))
  t.is(Object.keys(down.executions).length, 4)
  // The text view lists evaluate under both models and marks the repeats.
  const text = p.pinkflow("lineage", "split.sets", "--down").stdout
  t.is(text.match(/→ evaluate/g)?.length, 3)
  t.is(text.match(/→ evaluate .*\(shown above\)/g)?.length, 2)
  // By digest prefix, too.
  const again = p.json("lineage", down.digest.slice(0, 10)).lines[0]
  t.is(stageOf(again, producerOf(again, again.digest)), "split")
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

test("runs shows a run's --set overrides; a multi-line stage error keeps the tables intact and points to show", (t) => {
  const p = project()
  p.json("run", PIPELINE, "--set", "train-knn.k=3", "--set", "split.seed=8")
  p.json("run", PIPELINE)
  const table = p.pinkflow("runs").stdout.split("\n")
  t.regex(table[2]!, / - +succeeded/, "the plain run has no variant")
  t.regex(table[3]!, / train-knn\.k=3,split\.seed=8 +succeeded/)
  t.deepEqual(p.json("runs").lines[0][1].set, { "train-knn.k": 3, "split.seed": 8 })

  p.write("pipelines/fails.ts", `import { Effect } from "effect"
import * as Artifact from "../src/core/Artifact.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Stage from "../src/core/Stage.ts"
const a = Stage.make({ name: "a", outputs: { out: Artifact.json() }, run: () => Effect.sync(() => { throw new Error("first line\\nsecond line\\nthird line") }) })
export default Pipeline.make({ name: "fails", stages: [a] })
`)
  const r = p.pinkflow("run", "pipelines/fails.ts")
  t.is(r.code, 1)
  const id = r.stdout.split("\n")[0]!.split(" ")[1]!
  const lines = r.stdout.trim().split("\n")
  t.regex(lines[1]!, new RegExp(`^  failed   a +.*first line … \\(whole error: pinkflow show ${id}\\)$`))
  t.true(lines.every((l) => l.startsWith("  ") || l.startsWith("run ") || l.startsWith("failed")), r.stdout)
  const show = p.pinkflow("show", id).stdout.split("\n")
  const row = show.findIndex((l) => l.startsWith("a "))
  t.regex(show[row]!, /first line …$/)
  t.regex(show.slice(row + 1).join("\n"), /^\na:\n {2}.*first line\n {2}second line\n {2}third line/m)
})

test("--dry-run and status say which stages will run and which may run, in the same words; the real run agrees", (t) => {
  const p = project()
  p.json("run", PIPELINE)
  const stages = (lines: Array<any>, status: string) => lines.filter((l) => l.type === "stage" && l.status === status).map((l) => l.stage).sort()
  const d = p.json("run", PIPELINE, "--dry-run", "--set", "train-knn.k=2")
  t.deepEqual(stages(d.lines, "stale"), ["train-knn"])
  t.deepEqual(stages(d.lines, "may-run"), ["evaluate", "report"])
  t.deepEqual(ran(p.json("run", PIPELINE).lines), [], "a dry run runs nothing")
  const s = summary(d.lines)
  t.is(s.status, "dry-run")
  t.false("ran" in s, "a dry run lists nothing under ran")
  t.deepEqual([s.stale, s.mayRun], [["train-knn"], ["evaluate", "report"]])

  // A test fraction that rounds to the same split: split reruns, its output is identical, nothing else runs.
  const set = ["--set", "split.testFraction=0.251"]
  const dry = p.json("run", PIPELINE, "--dry-run", ...set)
  t.deepEqual(summary(dry.lines).stale, ["split"])
  t.deepEqual([...summary(dry.lines).mayRun].sort(), ["evaluate", "report", "train-knn", "train-linear"])
  for (const l of dry.lines.filter((l) => l.status === "may-run")) {
    t.true(l.reasons.every((r: string) => /^input \w+: upstream stage \S+ (will|may) run; cached if its output is unchanged$/.test(r)), l.reasons.join("; "))
  }
  const status = p.json("status", PIPELINE, ...set).lines[0].stages
  t.deepEqual(status.map((x: any) => x.state), ["up-to-date", "stale", "may-run", "may-run", "may-run", "may-run"])
  const text = p.pinkflow("run", PIPELINE, "--dry-run", ...set).stdout
  t.regex(text, /^ {2}stale {4}split /m)
  t.regex(text, /^ {2}may-run {2}train-linear /m)
  t.regex(text, /^dry-run: 1 stale \(will run\), 4 may-run \(if an upstream output changes\), 1 cached/m)
  t.regex(p.pinkflow("status", PIPELINE, ...set).stdout, /^train-linear +may-run +input sets: upstream stage split will run/m)
  t.deepEqual(ran(p.json("run", PIPELINE, ...set).lines), ["split"])
})

test("--force recomputes a cached stage", (t) => {
  const p = project()
  p.json("run", PIPELINE)
  const f = p.json("run", PIPELINE, "--force", "split")
  t.true(ran(f.lines).includes("split"))
  // Identical outputs: the force does not ripple further (early cutoff).
  t.deepEqual(ran(f.lines), ["split"])
})
