/**
 * Broken pipelines and bad arguments end in one line on stderr naming the file, stage or field,
 * exit code 2, no stack trace, and nothing run.
 */
import test from "ava"
import * as fs from "node:fs"
import * as path from "node:path"
import { project } from "./helpers/project.ts"

const HEADER = `import { Effect, Schema } from "effect"
import * as Artifact from "../src/core/Artifact.ts"
import * as Input from "../src/core/Input.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Stage from "../src/core/Stage.ts"
`

const oneLineError = (t: any, r: { code: number; stdout: string; stderr: string }, pattern: RegExp) => {
  t.is(r.code, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`)
  const lines = r.stderr.trim().split("\n")
  t.is(lines.length, 1, r.stderr)
  t.regex(lines[0]!, pattern)
  t.notRegex(r.stderr, /\n\s+at /, "no stack trace")
}

const cases: ReadonlyArray<{ name: string; body: string; error: RegExp }> = [
  {
    name: "cycle",
    body: `
const a = Stage.make({ name: "a", inputs: { x: Input.json(Artifact.ref<"json", number>("b", "out", "json")) },
  outputs: { out: Artifact.json<number>() }, run: () => Effect.succeed({ out: 1 }) })
const b = Stage.make({ name: "b", inputs: { x: Input.json(a.out.out) },
  outputs: { out: Artifact.json<number>() }, run: () => Effect.succeed({ out: 2 }) })
export default Pipeline.make({ name: "cyclic", stages: [a, b] })`,
    error: /^pinkflow: pipelines\/broken\.ts: cycle: a -> b -> a$/
  },
  {
    name: "duplicate stage name",
    body: `
const a = Stage.make({ name: "a", outputs: { out: Artifact.json<number>() }, run: () => Effect.succeed({ out: 1 }) })
const a2 = Stage.make({ name: "a", outputs: { out: Artifact.json<number>() }, run: () => Effect.succeed({ out: 2 }) })
export default Pipeline.make({ name: "dup", stages: [a, a2] })`,
    error: /^pinkflow: pipelines\/broken\.ts: duplicate stage name "a"$/
  },
  {
    name: "input from a stage not in the pipeline",
    body: `
const a = Stage.make({ name: "a", outputs: { out: Artifact.json<number>() }, run: () => Effect.succeed({ out: 1 }) })
const b = Stage.make({ name: "b", inputs: { x: Input.json(a.out.out) }, outputs: { out: Artifact.json<number>() }, run: () => Effect.succeed({ out: 2 }) })
export default Pipeline.make({ name: "unknown", stages: [b] })`,
    error: /^pinkflow: pipelines\/broken\.ts: stage b: input x: no stage named "a" in this pipeline$/
  },
  {
    name: "input naming an output the stage does not have",
    body: `
const a = Stage.make({ name: "a", outputs: { out: Artifact.json<number>() }, run: () => Effect.succeed({ out: 1 }) })
const b = Stage.make({ name: "b", inputs: { x: Input.json(Artifact.ref<"json", number>("a", "nope", "json")) }, outputs: { out: Artifact.json<number>() }, run: () => Effect.succeed({ out: 2 }) })
export default Pipeline.make({ name: "unknown-output", stages: [a, b] })`,
    error: /stage b: input x: stage a has no output "nope" \(outputs: out\)$/
  },
  {
    name: "missing project file",
    body: `
const a = Stage.make({ name: "a", inputs: { raw: Input.file("data/absent.csv") }, outputs: { out: Artifact.json<number>() }, run: () => Effect.succeed({ out: 1 }) })
export default Pipeline.make({ name: "missing", stages: [a] })`,
    error: /stage a: input raw: project file data\/absent\.csv does not exist$/
  },
  {
    name: "syntax error",
    body: `export default Pipeline.make({ name: "x", stages: [ }`,
    error: /^pinkflow: pipelines\/broken\.ts: pipelines\/broken\.ts:\d+:\d+: /
  },
  {
    name: "default export is not a pipeline",
    body: `export default 42`,
    error: /the default export is not a pipeline/
  },
  {
    name: "a pipeline file that throws while loading",
    body: `throw new Error("boom at load")\nexport default Pipeline.make({ name: "x", stages: [] })`,
    error: /^pinkflow: pipelines\/broken\.ts: failed while loading: boom at load$/
  }
]

for (const c of cases) {
  test(`one-line error: ${c.name}`, (t) => {
    const p = project()
    p.write("pipelines/broken.ts", HEADER + c.body)
    oneLineError(t, p.pinkflow("run", "pipelines/broken.ts"), c.error)
    t.false(fs.existsSync(path.join(p.store, "lineage.json")), "nothing ran")
  })
}

test("one-line errors for bad params and arguments", (t) => {
  const p = project()
  const pipeline = "pipelines/examples/diamond.ts"
  oneLineError(t, p.pinkflow("run", pipeline, "--set", "split.testFraction=2"), /^pinkflow: pipelines\/examples\/diamond\.ts: stage split: invalid params: .*testFraction/)
  oneLineError(t, p.pinkflow("run", pipeline, "--set", "split.seed=\"seven\""), /stage split: invalid params: .*seed/)
  oneLineError(t, p.pinkflow("run", pipeline, "--set", "split.sede=3"), /stage split: invalid params: .*sede/)
  oneLineError(t, p.pinkflow("run", pipeline, "--set", "nostage.x=1"), /cannot set nostage\.x: no stage named "nostage"/)
  oneLineError(t, p.pinkflow("run", pipeline, "--set", "novalue"), /--set novalue: expected stage\.param=value/)
  oneLineError(t, p.pinkflow("run", pipeline, "--force", "ghost"), /--force ghost: no stage named "ghost"/)
  oneLineError(t, p.pinkflow("run", "pipelines/none.ts"), /pipelines\/none\.ts: no such pipeline file/)
  oneLineError(t, p.pinkflow("lineage", "zz"), /zz: expected a digest/)
  oneLineError(t, p.pinkflow("show", "nope"), /nope: no such run/)
})

test("a bad flag value exits 2 naming the flag; a store path that cannot be used is named in one line", (t) => {
  const p = project()
  const bad = p.pinkflow("run", "pipelines/examples/diamond.ts", "--concurrency", "many")
  t.is(bad.code, 2)
  t.regex(bad.stderr, /Invalid value for flag --concurrency: "many"/)
  const file = path.join(p.dir, "not-a-directory")
  fs.writeFileSync(file, "x")
  const store = p.pinkflow("run", "pipelines/examples/diamond.ts", "--store", file)
  t.is(store.code, 1)
  t.is(store.stderr.trim(), `pinkflow: cannot use ${file}: EEXIST (mkdir)`)
})
