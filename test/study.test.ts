/**
 * The foundation (pipelines/foundation-tiny.ts) and the REC study (pipelines/rec-study-tiny.ts)
 * end to end at nano size: the study takes the foundation's results from the cache, both
 * sweep points (stage 1 on captions, on layouts) run, sharing everything upstream of stage 1, the gates' metrics are
 * there, `compare` shows the two points, and stage 1 refuses a failed tower unless told not to.
 */
import test from "ava"
import * as fs from "node:fs"
import * as path from "node:path"
import { project, ran } from "./helpers/project.ts"

test("the REC study runs its sweep over the foundation, sharing what the points have in common", (t) => {
  const p = project()
  for (const f of ["pipelines/rec-study.ts", "pipelines/rec-study-tiny.ts", "pipelines/pink.ts"]) fs.cpSync(path.join(process.cwd(), f), path.join(p.dir, f))
  // The foundation end to end at nano size: the vocabulary, both towers and the three gates.
  const f = p.json("run", "pipelines/foundation-tiny.ts")
  t.is(f.code, 0, f.stderr + f.lines.filter((l) => l.status === "failed").map((l) => l.error).join("\n"))
  t.deepEqual(ran(f.lines), ["alignment-gate", "foundation-vocab", "lm-coordinates", "lm-diagnosis", "lm-gate", "lm-tower", "vision-gate", "vision-tower"])
  const lmGate = JSON.parse(fs.readFileSync(p.pinkflow("path", "lm-gate.metrics").stdout.trim(), "utf8"))
  for (const k of ["accuracy", "wellFormed", "n", "pass", "minAccuracy"]) t.true(k in lmGate, k)
  // The pair's gate: grounding from images through the least-squares projection, beside the same scenes' layouts.
  const alignment = JSON.parse(fs.readFileSync(p.pinkflow("path", "alignment-gate.metrics").stdout.trim(), "utf8"))
  for (const k of ["accuracy", "layoutAccuracy", "relativeError", "n", "pass", "minAccuracy"]) t.true(k in alignment, k)
  t.true(alignment.n > 0 && alignment.relativeError > 0)
  // The LM tower's diagnosis: attention shares, residual norms and word identity, block by block.
  const diagnosis = JSON.parse(fs.readFileSync(p.pinkflow("path", "lm-diagnosis.metrics").stdout.trim(), "utf8"))
  for (const k of ["n", "block0.head0.target", "block1.head1.empty", "block0.norm.text", "block2.norm.cells", "block0.identity.word", "block2.identity.answer"]) t.is(typeof diagnosis[k], "number", k)

  const r = p.json("run", "pipelines/rec-study-tiny.ts")
  t.is(r.code, 0, r.stderr + r.lines.filter((l) => l.status === "failed").map((l) => l.error).join("\n"))
  const summaries = r.lines.filter((l) => l.type === "summary")
  t.is(summaries.length, 2)
  const computed = (stage: string) => r.lines.filter((l) => l.type === "stage" && l.stage === stage && l.status === "ran").length
  for (const s of ["foundation-vocab", "vision-tower", "vision-gate", "lm-tower", "lm-coordinates", "lm-gate", "alignment-gate"]) t.is(computed(s), 0, `${s} is the foundation's, cached`)
  for (const s of ["scenes", "eval-data"]) t.is(computed(s), 1, `${s} is shared`)
  for (const s of ["study-stage1", "study-stage2", "study-evaluate", "study-evaluate-stage1"]) t.is(computed(s), 2, `${s} per point`)

  const gate = JSON.parse(fs.readFileSync(p.pinkflow("path", "vision-gate.metrics").stdout.trim(), "utf8"))
  for (const k of ["colour", "shape", "size", "box", "pass"]) t.true(k in gate, k)
  const c = p.json("compare", ...summaries.map((s) => s.run)).lines[0]
  t.deepEqual(c.rows.find((x: any) => x.name === "study-stage1.objective").values, ["captions", "layouts"])
  t.true(c.rows.some((x: any) => x.section === "metric" && x.name === "study-evaluate.metrics.rec/val"))


  // Stage 1 takes the gates as inputs: with the gates required, a failed tower stops it.
  const strict = p.json("run", "pipelines/rec-study-tiny.ts", "--set", "study-stage1.requireGates=true", "--set", "study-stage1.objective=layouts")
  t.not(strict.code, 0)
  const failed = strict.lines.find((l) => l.type === "stage" && l.stage === "study-stage1")
  t.is(failed?.status, "failed")
  t.regex(failed?.error ?? "", /tower failed its gate \(.*\); it is not worth a recipe run/)
  t.deepEqual(ran(strict.lines), [])
})
