/**
 * Bad input, table-driven: malformed pipeline files (TypeScript and plain JavaScript), bad `--set`
 * keys and values, bad flags and queries, missing or malformed dataset files, an unusable store, a
 * full disk, a NaN loss, a corrupt lineage database and Ctrl-C at each phase of a run. Every case
 * must end with exactly one line on stderr naming the thing at fault, the expected non-zero exit
 * code, no stack trace — and a store that `pinkflow verify` finds consistent.
 */
import test from "ava"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { cli, project } from "./helpers/project.ts"
import { tinyTrainingModule } from "./helpers/tiny-training.ts"

const TS = `import { Effect, Schema } from "effect"
import * as Artifact from "../src/core/Artifact.ts"
import * as Input from "../src/core/Input.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Stage from "../src/core/Stage.ts"
`
const JS = `import { Effect, Schema } from "effect"
import * as Artifact from "../src/core/Artifact.ts"
import * as Input from "../src/core/Input.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Stage from "../src/core/Stage.ts"
`
const one = `const a = Stage.make({ name: "a", outputs: { out: Artifact.json() }, run: () => Effect.succeed({ out: 1 }) })\n`

const TRAIN = `${TS}import * as Environment from "../src/model/Environment.ts"
const train = Stage.make({
  name: "train",
  params: Schema.Struct({ lr: Stage.param(Schema.Number, 1e-3) }),
  outputs: { model: Artifact.model(), metrics: Artifact.metrics() },
  env: { tensors: Environment.fingerprint },
  run: (ctx) => Effect.promise(async () => (await import("./nan-body.ts")).run(ctx.params.lr, ctx.outputs.model))
})
export default Pipeline.make({ name: "nan", stages: [train] })
`
const TRAIN_BODY = tinyTrainingModule({
  signature: "lr: number, out: string",
  batch: 1,
  train: `  const r = await Loop.train(m.weights, Freeze.policy("lm", m, tok), (_s, seed) => loss(seed),
    { steps: 20, lr, warmupFraction: 0, seed: 1, tokensPerStep: 1, adamw: { clipNorm: 0 } })
  await W.save(out, m.weights, {})
  return { metrics: { loss: r.losses.at(-1)! } }`
})

const LLAVA = (json: string) => `${TS}import * as Data from "../stages/pink/data.ts"
export default Pipeline.make({ name: "llava", stages: [Data.generalFromLlava(Input.file("data/${json}"), Input.directory("data/images"))] })
`
const VG = `${TS}import * as Data from "../stages/pink/data.ts"
export default Pipeline.make({ name: "vg", stages: [Data.generalData, Data.instructionsFrom(Input.directory("data/vg"))] })
`

interface Case {
  readonly name: string
  /** Files written into the project before the case runs. */
  readonly files?: Readonly<Record<string, string>>
  readonly args: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>>
  /** Runs the example first in this case's store (for queries, faults and corruption). */
  readonly prepared?: boolean
  /** Damages the prepared store before the case runs. */
  readonly damage?: (store: string) => void
  readonly code: number
  readonly error: RegExp
  /** False where the case leaves the store deliberately damaged (checked by verify's own tests). */
  readonly consistent?: boolean
  /** The prepared store's objects must all still be there afterwards. */
  readonly untouched?: boolean
}

const pipe = (file: string, body: string, header = TS) => ({ [`pipelines/${file}`]: header + body })
const EX = "pipelines/examples/diamond.ts"

const cases: ReadonlyArray<Case> = [
  // Malformed pipeline files
  { name: "syntax error", files: pipe("b1.ts", `export default Pipeline.make({ name: "x", stages: [ }`), args: ["run", "pipelines/b1.ts"], code: 2, error: /^pinkflow: pipelines\/b1\.ts: pipelines\/b1\.ts:\d+:\d+: / },
  { name: "default export is not a pipeline", files: pipe("b2.ts", "export default 42"), args: ["run", "pipelines/b2.ts"], code: 2, error: /pipelines\/b2\.ts: the default export is not a pipeline/ },
  { name: "no default export", files: pipe("b3.ts", `${one}export const p = Pipeline.make({ name: "x", stages: [a] })`), args: ["run", "pipelines/b3.ts"], code: 2, error: /pipelines\/b3\.ts: the default export is not a pipeline/ },
  { name: "throws while loading", files: pipe("b4.ts", `throw new Error("boom at load")\nexport default Pipeline.make({ name: "x", stages: [] })`), args: ["run", "pipelines/b4.ts"], code: 2, error: /^pinkflow: pipelines\/b4\.ts: failed while loading: boom at load$/ },
  { name: "imports a module that does not exist", files: pipe("b5.ts", `import "./nowhere.ts"\n${one}export default Pipeline.make({ name: "x", stages: [a] })`), args: ["run", "pipelines/b5.ts"], code: 2, error: /pipelines\/b5\.ts: .*nowhere\.ts/ },
  { name: "cycle", files: pipe("b6.ts", `const a = Stage.make({ name: "a", inputs: { x: Input.json(Artifact.ref("b", "out", "json")) }, outputs: { out: Artifact.json() }, run: () => Effect.succeed({ out: 1 }) })
const b = Stage.make({ name: "b", inputs: { x: Input.json(a.out.out) }, outputs: { out: Artifact.json() }, run: () => Effect.succeed({ out: 2 }) })
export default Pipeline.make({ name: "c", stages: [a, b] })`), args: ["run", "pipelines/b6.ts"], code: 2, error: /pipelines\/b6\.ts: cycle: a -> b -> a$/ },
  { name: "duplicate stage name", files: pipe("b7.ts", `${one}const a2 = Stage.make({ name: "a", outputs: { out: Artifact.json() }, run: () => Effect.succeed({ out: 2 }) })
export default Pipeline.make({ name: "d", stages: [a, a2] })`), args: ["run", "pipelines/b7.ts"], code: 2, error: /pipelines\/b7\.ts: duplicate stage name "a"$/ },
  { name: "input from a stage not in the pipeline", files: pipe("b8.ts", `${one}const b = Stage.make({ name: "b", inputs: { x: Input.json(a.out.out) }, outputs: { out: Artifact.json() }, run: () => Effect.succeed({ out: 2 }) })
export default Pipeline.make({ name: "u", stages: [b] })`), args: ["run", "pipelines/b8.ts"], code: 2, error: /stage b: input x: no stage named "a" in this pipeline$/ },
  { name: "input naming a missing output", files: pipe("b9.ts", `${one}const b = Stage.make({ name: "b", inputs: { x: Input.json(Artifact.ref("a", "nope", "json")) }, outputs: { out: Artifact.json() }, run: () => Effect.succeed({ out: 2 }) })
export default Pipeline.make({ name: "u", stages: [a, b] })`), args: ["run", "pipelines/b9.ts"], code: 2, error: /stage b: input x: stage a has no output "nope" \(outputs: out\)$/ },
  { name: "missing project file", files: pipe("b10.ts", `const a = Stage.make({ name: "a", inputs: { raw: Input.file("data/absent.csv") }, outputs: { out: Artifact.json() }, run: () => Effect.succeed({ out: 1 }) })
export default Pipeline.make({ name: "m", stages: [a] })`), args: ["run", "pipelines/b10.ts"], code: 2, error: /stage a: input raw: project file data\/absent\.csv does not exist$/ },
  { name: "invalid stage name", files: pipe("b11.ts", `const a = Stage.make({ name: "a/b", outputs: { out: Artifact.json() }, run: () => Effect.succeed({ out: 1 }) })
export default Pipeline.make({ name: "n", stages: [a] })`), args: ["run", "pipelines/b11.ts"], code: 2, error: /pipelines\/b11\.ts: failed while loading: invalid stage name "a\/b"/ },
  { name: "pipeline file does not exist", args: ["run", "pipelines/none.ts"], code: 2, error: /pipelines\/none\.ts: no such pipeline file/ },
  { name: "pipeline path is a directory", args: ["run", "pipelines/examples"], code: 2, error: /pipelines\/examples/ },
  // Plain JavaScript pipelines: type errors only the runtime sees
  { name: "JS: stages is not an array", files: pipe("j1.js", `${one}export default Pipeline.make({ name: "j", stages: a })`, JS), args: ["run", "pipelines/j1.js"], code: 2, error: /pipelines\/j1\.js: the default export is not a pipeline/ },
  { name: "JS: a stage that is a plain object", files: pipe("j2.js", `export default Pipeline.make({ name: "j", stages: [{ name: "fake" }] })`, JS), args: ["run", "pipelines/j2.js"], code: 2, error: /pipelines\/j2\.js: stages\[0\] is not a stage \(make stages with Stage\.make\)$/ },
  { name: "JS: an input that is not an input", files: pipe("j3.js", `const a = Stage.make({ name: "a", inputs: { x: 5 }, outputs: { out: Artifact.json() }, run: () => Effect.succeed({ out: 1 }) })
export default Pipeline.make({ name: "j", stages: [a] })`, JS), args: ["run", "pipelines/j3.js"], code: 2, error: /pipelines\/j3\.js: stage a: input x: not an input/ },
  { name: "JS: Input.json given a string where a reference belongs", files: pipe("j4.js", `const a = Stage.make({ name: "a", inputs: { x: Input.json("a.out") }, outputs: { out: Artifact.json() }, run: () => Effect.succeed({ out: 1 }) })
export default Pipeline.make({ name: "j", stages: [a] })`, JS), args: ["run", "pipelines/j4.js"], code: 2, error: /pipelines\/j4\.js: failed while loading: expected an output reference of kind json/ },
  { name: "JS: a param default that fails its schema", files: pipe("j5.js", `const a = Stage.make({ name: "a", params: Schema.Struct({ k: Stage.param(Schema.Int, "three") }), outputs: { out: Artifact.json() }, run: () => Effect.succeed({ out: 1 }) })
export default Pipeline.make({ name: "j", stages: [a] })`, JS), args: ["run", "pipelines/j5.js"], code: 2, error: /pipelines\/j5\.js: stage a: invalid params: .*k/ },
  { name: "JS: a stage returning the wrong output", files: pipe("j6.js", `const a = Stage.make({ name: "a", outputs: { out: Artifact.json() }, run: () => Effect.succeed({ other: 1 }) })
export default Pipeline.make({ name: "j", stages: [a] })`, JS), args: ["run", "pipelines/j6.js"], code: 1, error: /^pinkflow: stage a failed: output out \(json\) was not returned$/ },
  { name: "JS: metrics that are not numbers", files: pipe("j7.js", `const a = Stage.make({ name: "a", outputs: { m: Artifact.metrics() }, run: () => Effect.succeed({ m: { acc: "high" } }) })
export default Pipeline.make({ name: "j", stages: [a] })`, JS), args: ["run", "pipelines/j7.js"], code: 1, error: /^pinkflow: stage a failed: output m: metrics must be an object of numbers$/ },
  { name: "JS: a file output never written", files: pipe("j8.js", `const a = Stage.make({ name: "a", outputs: { f: Artifact.file() }, run: () => Effect.succeed({}) })
export default Pipeline.make({ name: "j", stages: [a] })`, JS), args: ["run", "pipelines/j8.js"], code: 1, error: /^pinkflow: stage a failed: output f \(file\) was not written to / },
  { name: "JS: a stage body that throws", files: pipe("j9.js", `const a = Stage.make({ name: "a", outputs: { out: Artifact.json() }, run: () => Effect.sync(() => { throw new TypeError("x.map is not a function") }) })
export default Pipeline.make({ name: "j", stages: [a] })`, JS), args: ["run", "pipelines/j9.js"], code: 1, error: /^pinkflow: stage a failed: .*x\.map is not a function$/ },
  { name: "JS: a JSON output wired into a directory input", files: pipe("j10.js", `const r = Stage.make({ name: "r", outputs: { summary: Artifact.json() }, run: () => Effect.succeed({ summary: { best: 1 } }) })
const b = Stage.make({ name: "b", inputs: { dir: Input.directory(r.out.summary) }, outputs: { out: Artifact.json() }, run: ({ inputs }) => Effect.succeed({ out: typeof inputs.dir }) })
export default Pipeline.make({ name: "j", stages: [r, b] })`, JS), args: ["run", "pipelines/j10.js"], code: 2, error: /^pinkflow: pipelines\/j10\.js: stage b: input dir: r\.summary is a json, not a directory$/ },
  // --set keys and values
  { name: "--set an unknown stage", args: ["run", EX, "--set", "nostage.x=1"], code: 2, error: /cannot set nostage\.x: no stage named "nostage"/ },
  { name: "--set an unknown param", args: ["run", EX, "--set", "split.sede=3"], code: 2, error: /stage split: invalid params: .*sede/ },
  { name: "--set a value out of range", args: ["run", EX, "--set", "split.testFraction=2"], code: 2, error: /stage split: invalid params: .*testFraction/ },
  { name: "--set a string for a number", args: ["run", EX, "--set", "split.seed=\"seven\""], code: 2, error: /stage split: invalid params: .*seed/ },
  { name: "--set a fraction for an integer", args: ["run", EX, "--set", "split.seed=1.5"], code: 2, error: /stage split: invalid params: .*seed/ },
  { name: "--set without =", args: ["run", EX, "--set", "novalue"], code: 2, error: /--set novalue: expected stage\.param=value/ },
  // Flags, subcommands and queries
  { name: "--concurrency not a number", args: ["run", EX, "--concurrency", "many"], code: 2, error: /^pinkflow: Invalid value for flag --concurrency: "many"/ },
  { name: "--concurrency 0", args: ["run", EX, "--concurrency", "0"], code: 2, error: /^pinkflow: --concurrency 0: expected an integer of at least 1$/ },
  { name: "--concurrency -3", args: ["run", EX, "--concurrency", "-3"], code: 2, error: /^pinkflow: --concurrency -3: expected an integer of at least 1$/ },
  { name: "--gpus 0", args: ["run", EX, "--gpus", "0"], code: 2, error: /^pinkflow: --gpus 0: expected an integer of at least 1$/ },
  { name: "gc --keep-runs -1 deletes nothing", args: ["gc", "--keep-runs", "-1"], prepared: true, untouched: true, code: 2, error: /^pinkflow: --keep-runs -1: expected an integer of at least 0$/ },
  { name: "gc --keep-runs not a number", args: ["gc", "--keep-runs", "all"], prepared: true, untouched: true, code: 2, error: /^pinkflow: Invalid value for flag --keep-runs: "all"/ },
  { name: "export --stages naming no stage", args: ["export", EX, "--stages", ",", "--to", "out"], prepared: true, code: 2, error: /^pinkflow: --stages ,: names no stage$/ },
  { name: "--force an unknown stage", args: ["run", EX, "--force", "ghost"], code: 2, error: /--force ghost: no stage named "ghost"/ },
  { name: "an unknown flag", args: ["run", EX, "--frobnicate"], code: 2, error: /frobnicate/ },
  { name: "an unknown subcommand", args: ["frobnicate"], code: 2, error: /frobnicate/ },
  { name: "lineage of something that is not a digest", args: ["lineage", "zz"], prepared: true, code: 2, error: /zz: expected a digest/ },
  { name: "show an unknown run", args: ["show", "nope"], prepared: true, code: 2, error: /nope: no such run/ },
  { name: "path of an unknown output", args: ["path", "split.nope"], prepared: true, code: 2, error: /split\.nope/ },
  { name: "pin an unknown run", args: ["pin", "nope"], prepared: true, code: 2, error: /nope: no such run/ },
  { name: "ui on a port that does not exist", args: ["ui", "--port", "99999"], code: 2, error: /^pinkflow: --port 99999: expected a port from 0 to 65535$/ },
  // Datasets
  { name: "a dataset file that is missing", files: { ...pipe("d1.ts", LLAVA("absent.json").slice(TS.length)), "data/images/.keep": "" }, args: ["run", "pipelines/d1.ts"], code: 2, error: /stage general-data: input json: project file data\/absent\.json does not exist$/ },
  { name: "a dataset file with malformed JSON", files: { ...pipe("d2.ts", LLAVA("broken.json").slice(TS.length)), "data/broken.json": "[{\"id\": 1,", "data/images/.keep": "" }, args: ["run", "pipelines/d2.ts"], code: 1, error: /^pinkflow: stage general-data failed: .*broken\.json.*JSON/ },
  { name: "a dataset record missing a field", files: { ...pipe("d3.ts", LLAVA("norecord.json").slice(TS.length)), "data/norecord.json": "[{\"id\": \"r1\", \"image\": \"1.jpg\"}]", "data/images/.keep": "" }, args: ["run", "pipelines/d3.ts"], code: 1, error: /^pinkflow: stage general-data failed: .*norecord\.json: .*r1.*has neither conversations nor caption/ },
  { name: "a dataset directory without its annotation file", files: { ...pipe("d4.ts", VG.slice(TS.length)), "data/vg/image_data.json": "[]" }, args: ["run", "pipelines/d4.ts", "--set", "general-data.images=2"], code: 1, error: /^pinkflow: stage instructions failed: .*objects\.json/ },
  // The store
  { name: "a store path that is a file", files: { "store-file": "" }, args: ["run", EX, "--store", "store-file"], code: 1, error: /^pinkflow: cannot use .*store-file: EEXIST/ },
  { name: "a store under a non-directory", args: ["run", EX, "--store", "/dev/null/store"], code: 1, error: /^pinkflow: cannot use \/dev\/null\/store: ENOTDIR/ },
  { name: "a full disk while storing an output", args: ["run", EX], env: { PINKFLOW_FAULT: "write@2:enospc" }, code: 1, error: /^pinkflow: (stage \S+ failed: )?store: cannot store .*ENOSPC: no space left on device/ },
  { name: "a full disk while writing the lineage database", args: ["run", EX], env: { PINKFLOW_FAULT: "lineage@2:enospc" }, code: 1, error: /^pinkflow: lineage database .*lineage\.json: ENOSPC: no space left on device/ },
  { name: "a corrupt lineage database", args: ["run", EX], prepared: true, damage: (s) => fs.writeFileSync(path.join(s, "lineage.json"), "{\"version\": 1, \"runs\": ["), code: 1, error: /^pinkflow: lineage database .*: invalid JSON .*verify --repair/, consistent: false },
  // Training
  { name: "a NaN loss", files: { "pipelines/nan.ts": TRAIN, "pipelines/nan-body.ts": TRAIN_BODY }, args: ["run", "pipelines/nan.ts", "--set", "train.lr=1e38"], code: 1, error: /^pinkflow: stage train failed: training step \d+: the loss is (NaN|Infinity); stopping \(lower the learning rate or check the data\)$/ },
  // Ctrl-C at each phase
  { name: "Ctrl-C while hashing inputs", files: { "data/big.bin": "x".repeat(9 * 1024 * 1024), ...pipe("h.ts", `const a = Stage.make({ name: "a", inputs: { big: Input.file("data/big.bin") }, outputs: { out: Artifact.json() }, run: () => Effect.succeed({ out: 1 }) })
export default Pipeline.make({ name: "h", stages: [a] })`) }, args: ["run", "pipelines/h.ts"], env: { PINKFLOW_FAULT: "hash@1:interrupt" }, code: 130, error: /^pinkflow: interrupted/ },
  { name: "Ctrl-C while a stage runs", args: ["run", EX, "--verbose"], env: { PINKFLOW_FAULT: "stage.log@1:interrupt" }, code: 130, error: /^pinkflow: interrupted/ },
  { name: "Ctrl-C while storing outputs", args: ["run", EX], env: { PINKFLOW_FAULT: "rename@2:interrupt" }, code: 130, error: /^pinkflow: interrupted/ },
  { name: "Ctrl-C while recording lineage", args: ["run", EX], env: { PINKFLOW_FAULT: "lineage@2:interrupt" }, code: 130, error: /^pinkflow: interrupted/ }
]

interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const exec = (cwd: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
  new Promise<Result>((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...process.env, ...env } })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c))
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

test(`${cases.length} bad inputs: one line naming the fault, a non-zero exit, no stack trace, a consistent store`, async (t) => {
  t.true(cases.length >= 40)
  const p = project()
  for (const c of cases) for (const [file, text] of Object.entries(c.files ?? {})) p.write(file, text)
  const results = new Array<string>()
  const failures = new Array<string>()
  // A few at a time: each case is its own process and its own store.
  const queue = cases.map((c, i) => ({ c, i }))
  const worker = async () => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      const { c, i } = job
      const store = path.join(p.dir, "stores", String(i))
      const env = { PINKFLOW_STORE: store, PINKFLOW_FAULT: "", ...c.env }
      if (c.prepared === true) {
        const r = await exec(p.dir, ["run", EX], { PINKFLOW_STORE: store, PINKFLOW_FAULT: "" })
        if (r.code !== 0) throw new Error(`${c.name}: preparing failed: ${r.stderr}`)
        c.damage?.(store)
      }
      const objects = () => fs.existsSync(path.join(store, "objects")) ? fs.readdirSync(path.join(store, "objects"), { recursive: true }).map(String).sort() : []
      const before = objects()
      const r = await exec(p.dir, c.args, env)
      const lines = r.stderr.split("\n").filter((l) => l !== "")
      const problems: Array<string> = []
      if (r.code !== c.code) problems.push(`exit ${r.code}, expected ${c.code}`)
      if (lines.length !== 1) problems.push(`${lines.length} lines on stderr`)
      if (!c.error.test(lines[0] ?? "")) problems.push(`the error does not match ${c.error}`)
      if (/\n\s+at /.test(r.stderr)) problems.push("a stack trace")
      // A mistake prints one line, never the help text.
      if (/USAGE|FLAGS/.test(r.stdout)) problems.push("the help text on stdout")
      if (c.untouched === true && JSON.stringify(objects()) !== JSON.stringify(before)) problems.push("objects were deleted")
      if (c.consistent !== false && fs.existsSync(store)) {
        const v = await exec(p.dir, ["verify"], { PINKFLOW_STORE: store, PINKFLOW_FAULT: "" })
        if (v.code !== 0) problems.push(`verify: ${v.stdout.trim()} ${v.stderr.trim()}`)
      }
      if (problems.length > 0) failures.push(`${c.name}: ${problems.join("; ")} — stderr: ${r.stderr.trim()}`)
      results.push(c.name)
    }
  }
  await Promise.all([worker(), worker(), worker()])
  t.is(results.length, cases.length)
  t.deepEqual(failures, [])
})
