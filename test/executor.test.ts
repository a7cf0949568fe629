/**
 * The executor under failure, interruption, concurrent processes and inputs that change while a
 * stage runs.
 */
import test from "ava"
import * as fs from "node:fs"
import * as path from "node:path"
import { project, ran, statuses, summary } from "./helpers/project.ts"

const HEADER = `import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as Artifact from "../src/core/Artifact.ts"
import * as Input from "../src/core/Input.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Stage from "../src/core/Stage.ts"
const value = (name: string, ms = 0, inputs = {}) => Stage.make({
  name, inputs, outputs: { out: Artifact.json<string>() },
  run: () => Effect.as(Effect.sleep(ms), { out: name })
})
`

const failing = `${HEADER}
class Broken extends Schema.TaggedError<Broken>()("Broken", { why: Schema.String }) {}
const bad = Stage.make({ name: "bad", outputs: { out: Artifact.json<string>() }, run: () => Effect.fail(new Broken({ why: "the data is wrong" })) })
const child = value("child", 0, { x: Input.json(bad.out.out) })
const s1 = value("s1", 600)
const s2 = value("s2", 0, { x: Input.json(s1.out.out) })
export default Pipeline.make({ name: "failing", stages: [bad, child, s1, s2] })
`

test("a failing stage skips its descendants; --keep-going finishes the rest", (t) => {
  const p = project()
  p.write("pipelines/failing.ts", failing)
  const stop = p.json("run", "pipelines/failing.ts")
  t.is(stop.code, 1)
  const st = statuses(stop.lines)
  t.is(st.bad, "failed")
  t.is(st.child, "skipped")
  t.is(st.s1, "ran", "a stage already running finishes")
  t.is(st.s2, "skipped", "stages not yet started are skipped without --keep-going")
  const failed = stop.lines.find((l) => l.stage === "bad" && l.type === "stage")
  t.is(failed.error, "stage bad failed: Broken (why: the data is wrong)")
  t.is(summary(stop.lines).status, "failed")

  const keep = p.json("run", "pipelines/failing.ts", "--keep-going")
  t.is(keep.code, 1)
  const st2 = statuses(keep.lines)
  t.is(st2.child, "skipped")
  t.is(st2.s1, "cached")
  t.is(st2.s2, "ran")
})

const slow = `${HEADER}
const counter = process.env.COUNTER ?? "/dev/null"
const first = value("first")
const slow = Stage.make({
  name: "slow",
  inputs: { x: Input.json(first.out.out) },
  outputs: { data: Artifact.file() },
  run: ({ outputs }) => Effect.gen(function*() {
    fs.appendFileSync(counter, "computed\\n")
    fs.writeFileSync(outputs.data, "partial")
    // Wait for the test to open the gate (or for SLOW_MS without one).
    const gate = process.env.GATE
    if (gate === undefined) yield* Effect.sleep(Number(process.env.SLOW_MS ?? 1500))
    else for (let i = 0; i < 1500 && !fs.existsSync(gate); i++) yield* Effect.sleep(20)
    fs.appendFileSync(outputs.data, " and complete")
  })
})
const after = Stage.make({ name: "after", inputs: { d: Input.file(slow.out.data) }, outputs: { out: Artifact.json<string>() },
  run: ({ inputs }) => Effect.sync(() => ({ out: fs.readFileSync(inputs.d, "utf8") })) })
export default Pipeline.make({ name: "slow", stages: [first, slow, after] })
`

test("two processes on one store compute a stage key once; the second waits and reuses it", async (t) => {
  const p = project()
  p.write("pipelines/slow.ts", slow)
  const counter = path.join(p.dir, "counter.txt")
  const gate = path.join(p.dir, "gate")
  const env = { COUNTER: counter, GATE: gate }
  // The slow stage holds its key until the other process reports that it waits for it.
  const openGate = (line: any) => {
    if (line.type === "waiting" && line.stage === "slow") fs.writeFileSync(gate, "")
  }
  const [a, b] = await Promise.all([p.start(["run", "pipelines/slow.ts"], openGate, env), p.start(["run", "pipelines/slow.ts"], openGate, env)])
  t.is(a.code, 0, a.stderr)
  t.is(b.code, 0, b.stderr)
  t.is(fs.readFileSync(counter, "utf8"), "computed\n", "the slow stage ran exactly once")
  const slowStatus = [statuses(a.lines).slow, statuses(b.lines).slow].sort()
  t.deepEqual(slowStatus, ["cached", "ran"])
  const waited = [...a.lines, ...b.lines].filter((l) => l.type === "waiting" && l.stage === "slow")
  t.is(waited.length, 1, "the second process reported that it waited for the slow stage")
  const outs = [a, b].map((r) => r.lines.find((l) => l.type === "stage" && l.stage === "after").outputs.out)
  t.is(outs[0], outs[1])
  t.is(p.pinkflow("verify").code, 0)
})

test("Ctrl-C interrupts cleanly: no partial artifact, run recorded as interrupted, no lock left", async (t) => {
  const p = project()
  p.write("pipelines/slow.ts", slow)
  const r = await p.start(["run", "pipelines/slow.ts"], (line, child) => {
    if (line.type === "started" && line.stage === "slow") setTimeout(() => child.kill("SIGINT"), 300)
  }, { SLOW_MS: "20000" })
  t.is(r.code, 130, r.stderr)
  const db = JSON.parse(fs.readFileSync(path.join(p.store, "lineage.json"), "utf8"))
  t.is(db.runs.at(-1).status, "interrupted")
  t.is(db.runs.at(-1).stages.first.status, "ran")
  t.not(db.runs.at(-1).stages.slow?.status, "ran")
  // Nothing named "partial" entered the store, nothing is left in tmp/ or locks/.
  const objects = fs.readdirSync(path.join(p.store, "objects"), { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
  t.false(objects.some((e) => fs.readFileSync(path.join(e.parentPath, e.name), "utf8") === "partial"))
  const left = (d: string) => (fs.existsSync(path.join(p.store, d))
    ? fs.readdirSync(path.join(p.store, d), { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => e.name)
    : [])
  t.deepEqual(left("tmp"), [])
  t.deepEqual(left("locks"), [])
  // The next run computes the interrupted stage and reuses the rest.
  const again = p.json("run", "pipelines/slow.ts")
  t.deepEqual(ran(again.lines), ["after", "slow"])
})

test("a project input edited while its stage runs: the result is not cached", async (t) => {
  const p = project()
  p.write("data/in.txt", "version 1")
  p.write("pipelines/edit.ts", `${HEADER}
const read = Stage.make({ name: "read", inputs: { src: Input.file("data/in.txt") }, outputs: { out: Artifact.json<string>() },
  run: ({ inputs }) => Effect.gen(function*() {
    const text = fs.readFileSync(inputs.src, "utf8")
    // Hold until the test has edited the input.
    for (let i = 0; i < 1500 && !fs.existsSync("edited"); i++) yield* Effect.sleep(20)
    return { out: text }
  }) })
export default Pipeline.make({ name: "edit", stages: [read] })
`)
  const r = await p.start(["run", "pipelines/edit.ts"], (line) => {
    if (line.type === "started") {
      p.write("data/in.txt", "version 2, edited during the run")
      p.write("edited", "")
    }
  })
  t.is(r.code, 1)
  const failed = r.lines.find((l) => l.type === "stage" && l.stage === "read")
  t.is(failed.status, "failed")
  t.regex(failed.error, /input src \(data\/in\.txt\) changed while the stage ran; its result was not cached/)
  const again = p.json("run", "pipelines/edit.ts")
  t.deepEqual(ran(again.lines), ["read"])
  t.is(again.lines.find((l) => l.type === "stage").status, "ran")
})

const parallel = `${HEADER}
// Each stage blocks its thread until both have arrived: only separate processes get through.
const barrier = (name: string) => Stage.make({
  name,
  isolated: true,
  outputs: { out: Artifact.json<number>() },
  run: ({ log }) => Effect.sync(() => {
    fs.writeFileSync(\`arrived-\${name}\`, String(process.pid))
    const other = name === "left" ? "arrived-right" : "arrived-left"
    const sleeper = new Int32Array(new SharedArrayBuffer(4))
    for (let i = 0; i < 500 && !fs.existsSync(other); i++) Atomics.wait(sleeper, 0, 0, 20)
    if (!fs.existsSync(other)) throw new Error("the other stage never ran at the same time")
    log(\`met \${other} in pid \${process.pid}\`)
    return { out: process.pid }
  })
})
const crash = Stage.make({ name: "crash", isolated: true, outputs: { out: Artifact.json<number>() },
  run: () => Effect.sync(() => process.exit(3)) })
export default Pipeline.make({ name: "parallel", stages: [barrier("left"), barrier("right"), ...(fs.existsSync("crash-on") ? [crash] : [])] })
`

test("isolated stages run in worker processes, truly in parallel, with their logs kept", async (t) => {
  const p = project()
  p.write("pipelines/parallel.ts", parallel)
  const r = p.json("run", "pipelines/parallel.ts", "--concurrency", "2", "--verbose")
  t.is(r.code, 0, r.stderr)
  t.deepEqual(ran(r.lines), ["left", "right"])
  const pids = r.lines.filter((l) => l.type === "stage").map((l) => l.outputs.out)
  t.is(new Set(pids).size, 2)
  const logs = r.lines.filter((l) => l.type === "log").map((l) => l.line)
  t.true(logs.some((l) => /^met arrived-right in pid \d+$/.test(l)))
})

test("a worker process that dies is a stage failure, not a crash of the run", (t) => {
  const p = project()
  p.write("pipelines/parallel.ts", parallel)
  fs.writeFileSync(path.join(p.dir, "arrived-left"), "")
  fs.writeFileSync(path.join(p.dir, "arrived-right"), "")
  const r = p.pinkflow("run", "pipelines/parallel.ts", "--json")
  t.is(r.code, 0, r.stderr)
  p.write("crash-on", "")
  const c = p.json("run", "pipelines/parallel.ts")
  t.is(c.code, 1)
  const crash = c.lines.find((l) => l.type === "stage" && l.stage === "crash")
  t.is(crash.status, "failed")
  t.is(crash.error, "stage crash failed: worker process exited with code 3 before finishing")
})
