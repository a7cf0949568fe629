/**
 * Shared results: `pinkflow export` writes the current results of a pipeline's stages into a
 * plain directory, and a run on another store draws from it as a substitute — only for keys that
 * match the current code, params, inputs and environment, only after every object verified, and
 * never writing to it. A damaged entry is a miss with a warning, never a failure or a bad result.
 */
import test from "ava"
import * as fs from "node:fs"
import * as path from "node:path"
import { project, ran, type Project } from "./helpers/project.ts"

const EX = "pipelines/examples/diamond.ts"

const stageLines = (lines: Array<any>) => Object.fromEntries(lines.filter((l) => l.type === "stage").map((l) => [l.stage, l]))

/** A project whose example ran in `store`, and an export of `stages` (all by default) from it. */
const exported = (stages?: string) => {
  const p = project()
  const first = p.json("run", EX)
  const exportDir = path.join(p.dir, "shared", "diamond")
  const e = p.json("export", EX, "--to", exportDir, ...(stages === undefined ? [] : ["--stages", stages]))
  if (e.code !== 0) throw new Error(e.stderr)
  return { p, exportDir, original: stageLines(first.lines) }
}

/** Runs the example on a fresh store, with `args` (substitutes). */
const fresh = (p: Project, name: string, ...args: Array<string>) => {
  const store = path.join(p.dir, name)
  const r = p.json("run", EX, "--store", store, ...args)
  return { ...r, store, stages: stageLines(r.lines) }
}

/** Every file under `dir` with its size and mtime: what a read-only use must leave as it was. */
const snapshot = (dir: string) =>
  fs.readdirSync(dir, { recursive: true }).map(String).sort().map((f) => {
    const st = fs.statSync(path.join(dir, f))
    return `${f} ${st.size} ${st.mtimeMs}`
  })

test("a fresh store takes the exported stages from the substitute, identical, and computes the rest", (t) => {
  const { p, exportDir, original } = exported("prepare,split,train-knn")
  const manifest = JSON.parse(fs.readFileSync(path.join(exportDir, "pinkflow-export.json"), "utf8"))
  t.is(manifest.format, "pinkflow-export")
  t.is(manifest.version, 1)
  t.deepEqual(manifest.entries.map((e: any) => e.stage), ["prepare", "split", "train-knn"])
  const before = snapshot(exportDir)

  const status = p.json("status", EX, "--store", path.join(p.dir, "b"), "--substitute", exportDir).lines[0].stages
  t.deepEqual(status.filter((s: any) => s.substitute === exportDir).map((s: any) => s.stage), ["prepare", "split", "train-knn"])
  const r = fresh(p, "b", "--substitute", exportDir)
  t.is(r.code, 0, r.stderr)
  for (const s of ["prepare", "split", "train-knn"]) {
    t.is(r.stages[s].status, "cached", s)
    t.is(r.stages[s].from, exportDir, s)
  }
  t.deepEqual(ran(r.lines).sort(), ["evaluate", "report", "train-linear"])
  for (const s of Object.keys(original)) t.deepEqual(r.stages[s].outputs, original[s].outputs, `${s}: the same digests`)
  t.deepEqual(snapshot(exportDir), before, "the substitute is never written to")

  // The local store now holds them: show and lineage name the substitute; verify is clean.
  const env = ["--store", r.store]
  t.regex(p.pinkflow("show", r.lines[0].run, ...env).stdout, /train-knn +cached \(substitute .*diamond\)/)
  t.regex(p.pinkflow("lineage", "train-knn.model", ...env).stdout, /← train-knn\.model .*\(from substitute .*diamond\)/)
  t.is(p.pinkflow("verify", ...env).code, 0)
  t.deepEqual(ran(fresh(p, "b").lines), [], "a second run is all cached, with or without the substitute")
  t.is(p.pinkflow("verify", "--substitute", exportDir).code, 0)

  // On a store that never ran: lineage and path through the substitute alone.
  const empty = ["--store", path.join(p.dir, "empty"), "--substitute", exportDir]
  t.regex(p.pinkflow("lineage", "split.sets", ...empty).stdout, /← split\.sets .*\(from substitute/)
  const where = p.pinkflow("path", "split.sets", ...empty).stdout.trim()
  t.true(fs.existsSync(path.join(where, "train.csv")), where)
})

test("a code edit to an exported stage recomputes it and what its output changes; the rest is still substituted", (t) => {
  const { p, exportDir } = exported()
  // The same predictions, other bytes: train-knn's model changes, evaluate reruns on it, its metrics do not.
  p.edit("stages/examples/train-knn.ts", "JSON.stringify({ k: params.k, points: train })", "JSON.stringify({ points: train, k: params.k })")
  const r = fresh(p, "b", "--substitute", exportDir)
  t.is(r.code, 0, r.stderr)
  t.deepEqual(ran(r.lines).sort(), ["evaluate", "train-knn"])
  for (const s of ["prepare", "split", "train-linear", "report"]) t.is(r.stages[s].from, exportDir, s)
})

const damages: ReadonlyArray<{ readonly name: string; readonly damage: (dir: string, p: Project) => string; readonly warning: RegExp }> = [
  {
    name: "a flipped byte",
    damage: (dir, p) => {
      const sets = p.json("path", "split.sets").lines[0].digest as string
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, "objects", sets.slice(0, 2), sets), "utf8"))
      const blob = path.join(dir, "objects", manifest.entries[0][1].slice(0, 2), manifest.entries[0][1])
      fs.chmodSync(blob, 0o644)
      const bytes = fs.readFileSync(blob)
      bytes[0] = bytes[0]! ^ 1
      fs.writeFileSync(blob, bytes)
      return "split"
    },
    warning: /substitute .*: key [0-9a-f]{12}: object [0-9a-f]{12} is corrupt \(its content hashes to .*\); not used/
  },
  {
    name: "a missing object",
    damage: (dir, p) => {
      const model = p.json("path", "train-knn.model").lines[0].digest as string
      fs.rmSync(path.join(dir, "objects", model.slice(0, 2), model))
      return "train-knn"
    },
    warning: /substitute .*: key [0-9a-f]{12}: object [0-9a-f]{12} is missing; not used/
  },
  {
    name: "a truncated record",
    damage: (dir, p) => {
      const key = p.json("status", EX).lines[0].stages.find((s: any) => s.stage === "prepare").key as string
      const file = path.join(dir, "cache", key.slice(0, 2), `${key}.json`)
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").slice(0, 40))
      return "prepare"
    },
    warning: /substitute .*: key [0-9a-f]{12}: its record is not valid JSON \(truncated\?\); not used/
  }
]

for (const d of damages) {
  test(`${d.name} in a substitute: that stage is recomputed with a warning, the result is the original, verify is clean`, (t) => {
    const { p, exportDir, original } = exported()
    const hurt = d.damage(exportDir, p)
    const check = p.pinkflow("verify", "--substitute", exportDir)
    t.is(check.code, 1, "verify --substitute finds it")
    const r = fresh(p, "b", "--substitute", exportDir)
    t.is(r.code, 0, r.stderr)
    t.true(ran(r.lines).includes(hurt), ran(r.lines).join(", "))
    const warnings = r.lines.filter((l) => l.type === "warning")
    t.is(warnings.length, 1, JSON.stringify(warnings))
    t.is(warnings[0].stage, hurt)
    t.regex(warnings[0].message, d.warning)
    for (const s of Object.keys(original)) t.deepEqual(r.stages[s].outputs, original[s].outputs, `${s}: the same digests`)
    t.is(p.pinkflow("verify", "--store", r.store).code, 0)
    // status says it in one line on stderr, too.
    const st = p.pinkflow("status", EX, "--store", path.join(p.dir, "c"), "--substitute", exportDir)
    t.regex(st.stderr, new RegExp(`^pinkflow: warning: stage ${hurt}: substitute`, "m"))
  })
}

test("a read-only substitute from the config file works and is left as it was", (t) => {
  const { p, exportDir, original } = exported()
  const before = snapshot(exportDir)
  for (const f of fs.readdirSync(exportDir, { recursive: true }).map(String)) fs.chmodSync(path.join(exportDir, f), fs.statSync(path.join(exportDir, f)).isDirectory() ? 0o555 : 0o444)
  fs.chmodSync(exportDir, 0o555)
  p.write("pinkflow.config.json", JSON.stringify({ substitutes: ["shared/diamond"] }))
  const r = fresh(p, "b")
  t.is(r.code, 0, r.stderr)
  t.deepEqual(ran(r.lines), [])
  for (const s of Object.keys(original)) {
    t.is(r.stages[s].from, exportDir)
    t.deepEqual(r.stages[s].outputs, original[s].outputs)
  }
  t.deepEqual(snapshot(exportDir), before)
  // --no-substitutes ignores the config file's: a fresh store computes everything, to the same digests.
  const scratch = fresh(p, "d", "--no-substitutes")
  t.is(scratch.code, 0, scratch.stderr)
  t.deepEqual(ran(scratch.lines), Object.keys(original).sort())
  for (const s of Object.keys(original)) t.deepEqual(scratch.stages[s].outputs, original[s].outputs)
  t.is(p.json("status", EX, "--store", path.join(p.dir, "e"), "--no-substitutes").lines[0].stages.filter((s: any) => s.substitute !== undefined).length, 0)
  const both = p.pinkflow("run", EX, "--store", path.join(p.dir, "f"), "--no-substitutes", "--substitute", "shared/diamond")
  t.is(both.code, 2)
  t.regex(both.stderr.trim(), /^pinkflow: --no-substitutes and --substitute contradict each other; give one$/)
  // A mistyped substitute is one line, exit 2.
  const bad = p.pinkflow("run", EX, "--store", path.join(p.dir, "c"), "--substitute", "shared/nope")
  t.is(bad.code, 2)
  t.regex(bad.stderr.trim(), /^pinkflow: substitute .*shared\/nope: not a directory$/)
  // Exporting what is not computed is one line naming the stage.
  p.edit("stages/examples/split.ts", "seed: Stage.param(Schema.Int, 7)", "seed: Stage.param(Schema.Int, 70)")
  const notComputed = p.pinkflow("export", EX, "--stages", "split", "--to", path.join(p.dir, "other"))
  t.is(notComputed.code, 2)
  t.regex(notComputed.stderr.trim(), /^pinkflow: stage split is not computed for the current code, params and inputs \(stale\); run the pipeline first$/)
})

test("pink-tiny takes its towers from an export and computes everything else, to the same results", (t) => {
  const p = project()
  for (const f of ["pipelines/pink.ts", "pipelines/pink-tiny.ts"]) fs.cpSync(path.join(process.cwd(), f), path.join(p.dir, f))
  const TINY = "pipelines/pink-tiny.ts"
  const first = p.json("run", TINY)
  t.is(first.code, 0, first.stderr)
  const towers = path.join(p.dir, "shared", "towers")
  const e = p.pinkflow("export", TINY, "--stages", "foundation-vocab,vision-tower,lm-tower,lm-coordinates,vision-gate,lm-gate,alignment-gate", "--to", towers)
  t.is(e.code, 0, e.stderr)
  t.regex(e.stdout, /^exported 7 stage results to /)
  const r = p.json("run", TINY, "--store", path.join(p.dir, "b"), "--substitute", towers)
  t.is(r.code, 0, r.stderr)
  const stages = stageLines(r.lines)
  for (const s of ["foundation-vocab", "vision-tower", "lm-tower", "lm-coordinates", "vision-gate", "lm-gate", "alignment-gate"]) t.is(stages[s].from, towers, s)
  t.is(ran(r.lines).length, 19, "everything but the towers, their vocabulary and their gates is computed")
  const before = stageLines(first.lines)
  for (const s of Object.keys(before)) t.deepEqual(stages[s].outputs, before[s].outputs, `${s}: the same digests`)
})
