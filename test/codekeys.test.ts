/**
 * Precise code keys: an edit makes stale exactly the stages whose bodies can execute the edited
 * code — no more (the report, a metric, stage 2's body, one param default among several stages,
 * an upstream body whose output does not change) and never less (a module a body imports
 * statically or dynamically, a helper reached through a declaration module, a package version).
 * Each edit is undone afterwards, and the old keys hit again.
 */
import test from "ava"
import * as fs from "node:fs"
import * as path from "node:path"
import { project, ran, type Project } from "./helpers/project.ts"

const EX = "pipelines/examples/diamond.ts"
const TINY = "pipelines/pink-tiny.ts"

type States = Record<string, Array<string>>

/** `status --json` grouped by state: `{ stale: [...], "may-run": [...], "up-to-date": [...] }`. */
const states = (p: Project, pipeline: string): States => {
  const r = p.json("status", pipeline)
  const out: States = { stale: [], "may-run": [], "up-to-date": [] }
  for (const s of r.lines[0].stages) out[s.state]!.push(s.stage)
  for (const k of Object.keys(out)) out[k]!.sort()
  return out
}

/** Applies an edit, checks what `status` says, undoes it, and checks every key hits again. */
const edit = (t: any, p: Project, pipeline: string, file: string, from: string | RegExp, to: string, expected: { readonly stale: ReadonlyArray<string>; readonly mayRun?: ReadonlyArray<string> }) => {
  const before = p.read(file)
  p.edit(file, from, to)
  t.not(p.read(file), before, `the edit of ${file} applied`)
  const s = states(p, pipeline)
  t.deepEqual(s.stale, [...expected.stale].sort(), `${file}: stale`)
  if (expected.mayRun !== undefined) t.deepEqual(s["may-run"], [...expected.mayRun].sort(), `${file}: may-run`)
  p.write(file, before)
  const back = states(p, pipeline)
  t.deepEqual([...back.stale, ...back["may-run"]], [], `${file} restored: every key hits again`)
  return s
}

const DATA = ["scenes", "general-data", "instructions", "captions", "detection-data", "eval-data"]
const STAGE2 = ["stage2", "stage2-star", "stage2-projection-only", "stage2-general-only"]
const EVALUATIONS = ["evaluate-pink", "evaluate-pink-star", "evaluate-projection-only", "evaluate-general-only"]
const TOWERS = ["foundation-vocab", "vision-tower", "lm-tower"]

test("pink-tiny: an edit reruns exactly the stages whose code it touches", (t) => {
  const p = project()
  for (const f of ["pipelines/pink.ts", "pipelines/pink-tiny.ts"]) fs.cpSync(path.join(process.cwd(), f), path.join(p.dir, f))
  const first = p.json("run", TINY)
  t.is(first.code, 0, first.stderr)
  t.is(ran(first.lines).length, 26)

  // The HTML report: only `report`, and a run reruns only it.
  p.edit("src/eval/Report.ts", /$/, "\nexport const __probe = 1\n")
  t.deepEqual(states(p, TINY).stale, ["report"])
  t.deepEqual(ran(p.json("run", TINY).lines), ["report"])
  p.edit("src/eval/Report.ts", "\nexport const __probe = 1\n", "")
  t.deepEqual(states(p, TINY).stale, [], "the report's old key hits again")

  // An evaluation metric: the evaluations, then the report may follow; no data and no vision tower.
  // (The gates score with the same IoU, and so does the LM tower's held-out curve, an output of
  // that stage; stage 1 reads the gates, so what follows may run.)
  const metric = edit(t, p, TINY, "src/eval/Metrics.ts", "correct: iou > 0.5,", "correct: iou > 0.5 && true,", {
    stale: [...EVALUATIONS, "vision-gate", "lm-gate", "alignment-gate", "lm-tower", "lm-coordinates"],
    mayRun: ["stage1", ...STAGE2, "bootstrap-generate", "bootstrap-filter", "report"]
  })
  for (const s of [...DATA, ...TOWERS.filter((s) => s !== "lm-tower")]) t.true(metric["up-to-date"]!.includes(s), s)

  // Stage 2's body: the stage-2 family; what follows it may run; nothing upstream.
  const body = edit(t, p, TINY, "stages/pink/stage2.ts", "const extra = (inputs as { extra?: string }).extra", "const extra = (inputs as { extra?: string }).extra ?? undefined", {
    stale: STAGE2,
    mayRun: ["bootstrap-generate", "bootstrap-filter", ...EVALUATIONS, "report"]
  })
  for (const s of [...DATA, ...TOWERS, "vision-gate", "lm-gate", "alignment-gate", "stage1", "instructions-general-only"]) t.true(body["up-to-date"]!.includes(s), s)

  // One param default in a module that declares two stages: only that stage.
  edit(t, p, TINY, "stages/foundation/towers.ts", "defaults: [3000, 32, 2e-3, 0.01, 0.05, 12]", "defaults: [3000, 32, 2e-3, 0.01, 0.05, 99]", {
    stale: ["lm-tower"],
    mayRun: ["lm-coordinates", "lm-gate", "alignment-gate", "stage1", ...STAGE2, "bootstrap-generate", "bootstrap-filter", ...EVALUATIONS, "report"]
  })

  // Soundness: library code a body imports dynamically, and a helper of a declaration module.
  edit(t, p, TINY, "src/train/LmTower.ts", "o.log(`${data.scenes} layouts", "o.log(`${data.scenes}${\"\"} layouts", { stale: ["lm-tower"] })
  edit(t, p, TINY, "stages/pink/lib/training.ts", `({ dir, file: "train.jsonl" })`, `({ file: "train.jsonl", dir })`, {
    stale: ["stage1", ...STAGE2]
  })
  // Code two imports below the training loop: every training and nothing else.
  edit(t, p, TINY, "src/train/AdamW.ts", "return { step: 0, m, v, masks }", "return { m, v, masks, step: 0 }", { stale: ["vision-tower", "lm-tower", "lm-coordinates", "vision-gate", "lm-gate", "alignment-gate", "stage1", ...STAGE2] })
})

test("the example: an upstream body edit that keeps its output reruns only that stage; helpers and imports are followed", (t) => {
  const p = project()
  t.is(p.json("run", EX).code, 0)

  // A behaviour-preserving rewrite of prepare's body: prepare reruns, its output is identical, the rest is cached.
  p.edit("stages/examples/prepare.ts", "const k = `${p.x},${p.y},${p.label}`", "const k = [p.x, p.y, p.label].join(\",\")")
  t.deepEqual(states(p, EX), { stale: ["prepare"], "may-run": ["evaluate", "report", "split", "train-knn", "train-linear"], "up-to-date": [] })
  const r = p.json("run", EX)
  t.deepEqual(ran(r.lines), ["prepare"])
  t.is(r.lines.filter((l) => l.type === "stage" && l.status === "cached").length, 5)

  // A module every reader of the table imports statically.
  edit(t, p, EX, "stages/examples/lib/csv.ts", "export const parse", "export const parse: typeof parseCsv = (text) => parseCsv(text)\nconst parseCsv", {
    stale: ["evaluate", "prepare", "split", "train-knn", "train-linear"],
    mayRun: ["report"]
  })
  // A helper in split's declaration module that the model stages and the evaluation call (split itself does not).
  edit(t, p, EX, "stages/examples/split.ts", `"utf8")).points`, `"utf8")).points.slice()`, {
    stale: ["evaluate", "train-knn", "train-linear"],
    mayRun: ["report"]
  })
  // A param default is the declaring stage's own change: split, and what reads its output may follow.
  edit(t, p, EX, "stages/examples/split.ts", "seed: Stage.param(Schema.Int, 7)", "seed: Stage.param(Schema.Int, 8)", {
    stale: ["split"],
    mayRun: ["evaluate", "report", "train-knn", "train-linear"]
  })
})

test("soundness: a dynamically imported module, a helper reached through a declaration module and a package version each rerun their stage", (t) => {
  const p = project()
  p.write("stages/dyn/lib/shout.ts", `export const shout = (s: string) => s.toUpperCase()\n`)
  p.write("stages/dyn/helpers.ts", `import { shout } from "./lib/shout.ts"
export const greet = (name: string) => shout("hello " + name)
export const unused = () => 1
`)
  // A package of the project's own: node_modules becomes a directory of links to the repository's
  // packages, plus this one.
  const modules = path.join(p.dir, "node_modules")
  const shared = fs.realpathSync(modules)
  fs.rmSync(modules)
  fs.mkdirSync(modules)
  for (const name of fs.readdirSync(shared)) fs.symlinkSync(path.join(shared, name), path.join(modules, name))
  p.write("node_modules/leftpad-fixture/package.json", JSON.stringify({ name: "leftpad-fixture", version: "1.0.0", type: "module", main: "index.js" }))
  p.write("node_modules/leftpad-fixture/index.js", `export const pad = (s, n) => s.padStart(n)\n`)
  p.write("stages/dyn/lib/pad.ts", `import { pad } from "leftpad-fixture"\nexport const padded = (s: string) => pad(s, 8)\n`)
  p.write("stages/dyn/stages.ts", `import { Effect } from "effect"
import * as Artifact from "../../src/core/Artifact.ts"
import * as Input from "../../src/core/Input.ts"
import * as Stage from "../../src/core/Stage.ts"
import { greet } from "./helpers.ts"

export const lazy = Stage.make({
  name: "lazy",
  outputs: { out: Artifact.json<string>() },
  run: () => Effect.promise(async () => ({ out: (await import("./lib/shout.ts")).shout("x") }))
})
export const helped = Stage.make({
  name: "helped",
  inputs: { lazy: Input.json(lazy.out.out) },
  outputs: { out: Artifact.json<string>() },
  run: ({ inputs }) => Effect.sync(() => ({ out: greet(inputs.lazy) }))
})
export const packaged = Stage.make({
  name: "packaged",
  outputs: { out: Artifact.json<string>() },
  run: () => Effect.promise(async () => ({ out: (await import("./lib/pad.ts")).padded("x") }))
})
export const plain = Stage.make({
  name: "plain",
  inputs: { helped: Input.json(helped.out.out) },
  outputs: { out: Artifact.json<number>() },
  run: ({ inputs }) => Effect.sync(() => ({ out: inputs.helped.length }))
})
`)
  p.write("pipelines/dyn.ts", `import * as Pipeline from "../src/core/Pipeline.ts"
import * as S from "../stages/dyn/stages.ts"
export default Pipeline.make({ name: "dyn", stages: [S.lazy, S.helped, S.packaged, S.plain] })
`)
  const DYN = "pipelines/dyn.ts"
  const r = p.json("run", DYN)
  t.is(r.code, 0, r.stderr)
  t.is(ran(r.lines).length, 4)

  // shout.ts: imported dynamically by lazy's body, statically by the helper helped's body calls.
  edit(t, p, DYN, "stages/dyn/lib/shout.ts", "s.toUpperCase()", "s.toUpperCase().trim()", { stale: ["helped", "lazy"], mayRun: ["plain"] })
  // The helper in a module the declaration imports: only the stage whose body calls it.
  edit(t, p, DYN, "stages/dyn/helpers.ts", `shout("hello " + name)`, `shout("hello, " + name)`, { stale: ["helped"], mayRun: ["plain"] })
  // A declaration in that module no body calls: nothing.
  edit(t, p, DYN, "stages/dyn/helpers.ts", "export const unused = () => 1", "export const unused = () => 2", { stale: [] })
  // A package version: the stage that imports it, and `why` says so.
  const pkg = "node_modules/leftpad-fixture/package.json"
  edit(t, p, DYN, pkg, `"version":"1.0.0"`, `"version":"1.0.1"`, { stale: ["packaged"] })
  p.edit(pkg, `"version":"1.0.0"`, `"version":"1.0.1"`)
  t.regex(p.pinkflow("why", DYN, "packaged").stdout, /code package leftpad-fixture changed: 1\.0\.0 -> 1\.0\.1/)
})
