/** The data-build stages as a pipeline: deterministic digests, all cached on a rerun, previews. */
import test from "ava"
import * as fs from "node:fs"
import * as path from "node:path"
import { project, ran } from "../helpers/project.ts"

const SMALL = ["scenes.images=24", "general-data.images=12", "captions.images=12", "detection-data.images=8", "eval-data.images=12"].flatMap((s) => ["--set", s])

test("the data stages are deterministic, cached on a rerun, and leave previews", (t) => {
  const a = project()
  const first = a.json("run", "pipelines/pink-data.ts", ...SMALL)
  t.is(first.code, 0, first.stderr)
  t.is(ran(first.lines).length, 6)
  const again = a.json("run", "pipelines/pink-data.ts", ...SMALL)
  t.deepEqual(ran(again.lines), [])

  // Another store, the same seeds: the same bytes.
  const b = project()
  const other = b.json("run", "pipelines/pink-data.ts", ...SMALL)
  const outputs = (lines: Array<any>) => Object.fromEntries(lines.filter((l) => l.type === "stage").map((l) => [l.stage, l.outputs]))
  t.deepEqual(outputs(other.lines), outputs(first.lines))

  const train = a.pinkflow("path", "instructions.train").stdout.trim()
  t.true(fs.existsSync(path.join(train, "preview.png")))
  const rows = fs.readFileSync(path.join(train, "train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
  t.true(rows.every((r) => fs.existsSync(path.join(train, r.image))))
  t.true(new Set(rows.map((r) => r.task)).size >= 6)
  const evalDir = a.pinkflow("path", "eval-data.eval").stdout.trim()
  const refs = JSON.parse(fs.readFileSync(path.join(evalDir, "refs.json"), "utf8"))
  t.deepEqual([...new Set(refs.map((r: any) => r.split))].sort(), ["testA", "testB", "val"])

  // A different seed changes the scenes and everything built from them.
  const seeded = a.json("run", "pipelines/pink-data.ts", ...SMALL, "--set", "scenes.seed=9")
  t.deepEqual(ran(seeded.lines), ["instructions", "scenes"])
})
