/**
 * The Pink pipeline end to end at nano size (pipelines/pink-tiny.ts): every stage runs, the report
 * and metrics are there, a rerun is all cached, and a stage-2 param reruns only stage 2 and what
 * depends on it.
 */
import test from "ava"
import * as fs from "node:fs"
import * as path from "node:path"
import { project, ran, summary } from "./helpers/project.ts"

test("pink-tiny runs end to end, caches, and reruns only what a stage-2 param touches", (t) => {
  const p = project()
  for (const f of ["pipelines/pink.ts", "pipelines/pink-tiny.ts"]) fs.cpSync(path.join(process.cwd(), f), path.join(p.dir, f))
  fs.cpSync(path.join(process.cwd(), "src/eval"), path.join(p.dir, "src/eval"), { recursive: true })
  const first = p.json("run", "pipelines/pink-tiny.ts")
  t.is(first.code, 0, first.stderr + first.lines.filter((l) => l.status === "failed").map((l) => l.error).join("\n"))
  t.is(ran(first.lines).length, 26)

  const metrics = JSON.parse(fs.readFileSync(p.pinkflow("path", "evaluate-pink-star.metrics").stdout.trim(), "utf8"))
  for (const key of ["rec/val", "rec/testA", "rec/testB", "acc/v7w", "acc/pointqa", "formatErrorRate", "rec/all"]) t.true(key in metrics, key)
  const report = p.pinkflow("path", "report.report").stdout.trim()
  const html = fs.readFileSync(path.join(report, "index.html"), "utf8")
  t.regex(html, /<table>/)
  t.regex(html, /Pink \(paper\)/)
  t.regex(html, /<svg /)
  const md = fs.readFileSync(path.join(report, "summary.md"), "utf8")
  t.true(md.startsWith("# Pink, in miniature"))
  t.regex(md, /^- adapters vs projection only: [+-]\d+\.\d points \[[+-]\d+\.\d, [+-]\d+\.\d\] \(n = \d+\)$/m)
  const claims = JSON.parse(fs.readFileSync(p.pinkflow("path", "report.summary").stdout.trim(), "utf8")).claims
  t.deepEqual(claims.map((c: any) => c.name), ["adapters vs projection only", "RC tasks + general vs general data only", "bootstrapping: Pink* vs Pink"])
  t.true(claims.every((c: any) => c.n > 0 && c.low <= c.difference && c.difference <= c.high), "each on the shared items, its interval around it")
  const predictions = p.pinkflow("path", "evaluate-pink.predictions").stdout.trim()
  const rows = fs.readFileSync(path.join(predictions, "predictions.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
  t.true(rows.every((r) => "prompt" in r && "generated" in r && "truth" in r && "parsed" in r))

  const again = p.json("run", "pipelines/pink-tiny.ts")
  t.deepEqual(ran(again.lines), [])
  t.is(summary(again.lines).cached.length, 26)

  const changed = p.json("run", "pipelines/pink-tiny.ts", "--set", "stage2.lr=0.002")
  const downstream = new Set(["stage2", "bootstrap-generate", "bootstrap-filter", "stage2-star", "evaluate-pink", "evaluate-pink-star", "report"])
  t.true(ran(changed.lines).includes("stage2"))
  t.true(ran(changed.lines).every((s) => downstream.has(s)), ran(changed.lines).join(", "))
})
