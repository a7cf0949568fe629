/**
 * A stage must never change a stored object unnoticed. Its file inputs are the stored objects
 * themselves and a read-only mode does not stop root (these tests run as root where CI does): a
 * body that writes into an input fails naming it, the object is evicted with the results that
 * need it, `verify` stays clean, and the next run recomputes the producer instead of serving
 * mutated bytes as cached.
 */
import test from "ava"
import * as fs from "node:fs"
import { project } from "./helpers/project.ts"

const PIPELINE = (mutate: string) => `import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Artifact from "../src/core/Artifact.ts"
import * as Input from "../src/core/Input.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Stage from "../src/core/Stage.ts"

const make = Stage.make({
  name: "make",
  outputs: { table: Artifact.file(), dir: Artifact.directory() },
  run: ({ outputs }) => Effect.sync(() => {
    fs.writeFileSync(outputs.table, "a,b\\n1,2\\n")
    fs.writeFileSync(path.join(outputs.dir, "x.txt"), "x")
  })
})
const use = Stage.make({
  name: "use",
  inputs: { table: Input.file(make.out.table), dir: Input.directory(make.out.dir) },
  outputs: { rows: Artifact.json<number>() },
  run: ({ inputs }) => Effect.sync(() => {
    ${mutate}
    return { rows: fs.readFileSync(inputs.table, "utf8").trim().split("\\n").length }
  })
})
export default Pipeline.make({ name: "inputs", stages: [make, use] })
`

const cases = [
  { name: "appends to its input file", mutate: `fs.appendFileSync(inputs.table, "3,4\\n")`, error: /^pinkflow: stage use failed: input table \(make\.table\): the stage changed the stored object it was given; the object was removed from the store, so the stage that produced it runs again$/, reruns: true },
  { name: "rewrites a file of its input directory", mutate: `fs.writeFileSync(path.join(inputs.dir, "x.txt"), "changed")`, error: /^pinkflow: stage use failed: input dir \(make\.dir\): the stage changed the stored object it was given/, reruns: true },
  { name: "adds a file to its input directory", mutate: `fs.writeFileSync(path.join(inputs.dir, "extra.txt"), "new")`, error: /^pinkflow: stage use failed: input dir \(make\.dir\): the stage changed the directory it was given \(files added, removed or replaced\); its stored objects are intact$/, reruns: false }
]

for (const c of cases) {
  test(`a stage that ${c.name} fails naming it; the store stays consistent and nothing mutated is served`, (t) => {
    const p = project()
    if (process.getuid?.() === 0) t.log("running as root: file modes do not protect the store")
    p.write("pipelines/inputs.ts", PIPELINE(c.mutate))
    const first = p.json("run", "pipelines/inputs.ts")
    t.is(first.code, 1)
    t.regex(first.stderr.trim(), c.error)
    t.is(first.stderr.trim().split("\n").length, 1)
    const made = first.lines.find((l) => l.type === "stage" && l.stage === "make").outputs
    const v = p.pinkflow("verify")
    t.is(v.code, 0, v.stdout)

    // The body no longer writes: the producer reruns if its object was evicted, and the result is the original.
    p.write("pipelines/inputs.ts", PIPELINE(""))
    const second = p.json("run", "pipelines/inputs.ts")
    t.is(second.code, 0, second.stderr)
    const make = second.lines.find((l) => l.type === "stage" && l.stage === "make")
    t.is(make.status, c.reruns ? "ran" : "cached")
    t.deepEqual(make.outputs, made, "the same bytes as before the mutation")
    t.is(JSON.parse(fs.readFileSync(p.pinkflow("path", "use.rows").stdout.trim(), "utf8")), 2)
    t.is(p.pinkflow("verify").code, 0)
  })
}
