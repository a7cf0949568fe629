/**
 * The LM study (pipelines/lm-study-tiny.ts) end to end at nano size: one run per point (without
 * and with the pointer guide) sharing the vocabulary, each with its held-out grounding against steps as metrics that
 * `compare` tabulates, and a second run all cached.
 */
import test from "ava"
import * as fs from "node:fs"
import * as path from "node:path"
import { project } from "./helpers/project.ts"

test("the LM study runs one trial per point over a shared vocabulary, and compares them", (t) => {
  const p = project()
  for (const f of ["pipelines/lm-study.ts", "pipelines/lm-study-tiny.ts"]) fs.cpSync(path.join(process.cwd(), f), path.join(p.dir, f))
  const r = p.json("run", "pipelines/lm-study-tiny.ts")
  t.is(r.code, 0, r.stderr + r.lines.filter((l) => l.status === "failed").map((l) => l.error).join("\n"))
  const summaries = r.lines.filter((l) => l.type === "summary")
  t.is(summaries.length, 2)
  const computed = (stage: string) => r.lines.filter((l) => l.type === "stage" && l.stage === stage && l.status === "ran").length
  t.is(computed("foundation-vocab"), 1, "the vocabulary is shared")
  t.is(computed("lm-trial"), 2, "a trial per point")


  const c = p.json("compare", ...summaries.map((s) => s.run)).lines[0]
  t.deepEqual(c.rows.find((x: any) => x.name === "lm-trial.guide").values, ["none", "heads"])
  const grounding = c.rows.find((x: any) => x.section === "metric" && x.name === "lm-trial.metrics.grounding")
  t.is(grounding?.values.length, 2)
  for (const v of grounding.values) t.true(typeof v === "number" && v >= 0 && v <= 1, String(v))
  t.true(c.rows.some((x: any) => x.section === "metric" && /^lm-trial\.metrics\.grounding@\d+$/.test(x.name)), "the curve's points are metrics")
  for (const name of ["gather", "point"]) {
    const share = c.rows.find((x: any) => x.section === "metric" && x.name === `lm-trial.metrics.${name}`)
    t.true(share?.values.every((v: unknown) => typeof v === "number" && v >= 0 && v <= 1), `the guide's ${name} share is a metric of both points`)
  }

  const again = p.json("run", "pipelines/lm-study-tiny.ts")
  t.is(again.code, 0)
  t.is(again.lines.filter((l) => l.type === "stage" && l.status === "ran").length, 0, "all cached")
})
