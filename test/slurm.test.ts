/**
 * The Slurm executor against a real single-node Slurm (`scripts/slurm-local.sh`, started by
 * `.ci/run`): the example and pink-tiny give the local executor's exact results, a second run
 * submits nothing, a failing stage and a cancelled job are reported clearly, independent stages run
 * at the same time, and Ctrl-C cancels the submitted jobs. Without a cluster these tests are
 * skipped, unless PINKFLOW_REQUIRE_SLURM=1 (CI) makes that a failure.
 */
import test from "ava"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Slurm from "../src/core/Slurm.ts"
import { project, ran, repo, statuses } from "./helpers/project.ts"

const clusterUp = (() => {
  try {
    return /^(idle|mix|alloc)/m.test(execFileSync("sinfo", ["-h", "-o", "%t"], { encoding: "utf8" }))
  } catch {
    return false
  }
})()
const required = process.env.PINKFLOW_REQUIRE_SLURM === "1"
const cluster = clusterUp || required ? test.serial : test.skip

if (!clusterUp && required) test("a Slurm cluster is up (PINKFLOW_REQUIRE_SLURM=1)", (t) => t.fail("sinfo shows no usable node: run scripts/slurm-local.sh"))

const outputsOf = (lines: ReadonlyArray<any>) =>
  Object.fromEntries(lines.filter((l) => l.type === "stage").map((l) => [l.stage, l.outputs]))
const submitted = (lines: ReadonlyArray<any>) => lines.filter((l) => l.type === "submitted")
const inQueue = (ids: ReadonlyArray<string>) =>
  execFileSync("squeue", ["-h", "-o", "%i", "-j", ids.join(",")], { encoding: "utf8" }).split("\n").filter((l) => l.trim() !== "")

const HEADER = `import { Effect, Schema } from "effect"
import * as Artifact from "../src/core/Artifact.ts"
import * as Input from "../src/core/Input.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Stage from "../src/core/Stage.ts"
const sleeper = (name: string, ms: number, inputs = {}) => Stage.make({
  name, inputs, outputs: { out: Artifact.json<string>() },
  run: ({ log }) => Effect.gen(function*() {
    log(\`start \${Date.now()}\`)
    yield* Effect.sleep(ms)
    log(\`end \${Date.now()}\`)
    return { out: name }
  })
})
`

test("Slurm's terminal states become stage errors that say what to do", (t) => {
  const r = { memory: "2G", time: "0:10:00" }
  t.is(Slurm.failureOf("7", "COMPLETED", "0:0", "None", r), undefined)
  t.is(Slurm.failureOf("7", "OUT_OF_MEMORY", "0:125", "OutOfMemory", r), "Slurm job 7 ran out of memory (--mem=2G; raise the stage's resources.memory)")
  t.is(Slurm.failureOf("7", "TIMEOUT", "0:15", "TimeLimit", r), "Slurm job 7 hit its time limit (--time=0:10:00; raise the stage's resources.time)")
  t.is(Slurm.failureOf("7", "NODE_FAIL", "0:0", "NodeDown", {}), "Slurm job 7 lost its node (node fail); run again to retry")
  t.is(Slurm.failureOf("7", "CANCELLED", "0:15", "None", {}), "Slurm job 7 was cancelled")
  t.is(Slurm.failureOf("7", "FAILED", "1:0", "NonZeroExitCode", {}), "Slurm job 7 ended failed (exit code 1:0)")
  t.deepEqual(Slurm.resourceArgs({ cpu: 4, gpu: 2, memory: "16G", time: "2:00:00" }), ["--cpus-per-task=4", "--mem=16G", "--gres=gpu:2", "--time=2:00:00"])
  t.deepEqual(Slurm.resourceArgs({}), ["--cpus-per-task=1"])
})

cluster("the example through Slurm: the local executor's results, job ids in lineage, a second run submits nothing", (t) => {
  const p = project()
  const local = p.json("run", "pipelines/examples/diamond.ts", "--store", path.join(p.dir, "local-store"))
  t.is(local.code, 0, local.stderr)
  const viaSlurm = p.json("run", "pipelines/examples/diamond.ts", "--executor", "slurm")
  t.is(viaSlurm.code, 0, viaSlurm.stderr)
  t.is(submitted(viaSlurm.lines).length, 6)
  t.deepEqual(outputsOf(viaSlurm.lines), outputsOf(local.lines))
  const db = JSON.parse(p.read("artifacts/lineage.json"))
  const jobs = Object.values(db.executions).map((e: any) => e.slurmJob)
  t.is(jobs.length, 6)
  t.true(jobs.every((j) => /^\d+$/.test(j)), jobs.join(","))
  const again = p.json("run", "pipelines/examples/diamond.ts", "--executor", "slurm")
  t.is(again.code, 0)
  t.deepEqual(submitted(again.lines), [])
  t.deepEqual(ran(again.lines), [])
  // The project's config file sends runs to Slurm with no flag.
  p.write("pinkflow.config.json", JSON.stringify({ executor: { kind: "slurm" } }))
  const configured = p.json("run", "pipelines/examples/diamond.ts", "--force", "report")
  t.is(configured.code, 0, configured.stderr)
  t.deepEqual(submitted(configured.lines).map((l) => l.stage), ["report"])
  t.is(p.pinkflow("verify").code, 0)
})

cluster("pink-tiny through Slurm gives exactly the local executor's results", (t) => {
  const p = project()
  for (const f of ["pipelines/pink.ts", "pipelines/pink-tiny.ts"]) fs.cpSync(path.join(repo, f), path.join(p.dir, f))
  fs.cpSync(path.join(repo, "src/eval"), path.join(p.dir, "src/eval"), { recursive: true })
  const local = p.json("run", "pipelines/pink-tiny.ts", "--store", path.join(p.dir, "local-store"))
  t.is(local.code, 0, local.stderr)
  const viaSlurm = p.json("run", "pipelines/pink-tiny.ts", "--executor", "slurm")
  t.is(viaSlurm.code, 0, viaSlurm.stderr + viaSlurm.lines.filter((l) => l.status === "failed").map((l) => l.error).join("\n"))
  // Every stage the local executor ran is one Slurm job, and nothing else is submitted.
  t.deepEqual(submitted(viaSlurm.lines).map((l) => l.stage).sort(), ran(local.lines))
  t.deepEqual(outputsOf(viaSlurm.lines), outputsOf(local.lines))
})

cluster("a failing stage and a cancelled job are reported in one line; dependents are skipped", async (t) => {
  const p = project()
  p.write("pipelines/fails.ts", `${HEADER}
const bad = Stage.make({ name: "bad", outputs: { out: Artifact.json<string>() }, run: () => Effect.fail(new Error("the data is wrong")) })
const child = sleeper("child", 0, { x: Input.json(bad.out.out) })
export default Pipeline.make({ name: "fails", stages: [bad, child] })`)
  const failed = p.pinkflow("run", "pipelines/fails.ts", "--executor", "slurm")
  t.is(failed.code, 1)
  t.is(failed.stderr, "pinkflow: stage bad failed: the data is wrong\n")
  t.regex(failed.stdout, /skipped +child +upstream bad did not complete/)

  p.write("pipelines/slow.ts", `${HEADER}
const slow = sleeper("slow", 60000)
export default Pipeline.make({ name: "slow", stages: [slow, sleeper("after", 0, { x: Input.json(slow.out.out) })] })`)
  let job = ""
  const cancelled = await p.start(["run", "pipelines/slow.ts", "--executor", "slurm", "--verbose"], (line) => {
    if (line.type === "submitted" && line.stage === "slow") job = line.job
    if (line.type === "log" && line.stage === "slow" && line.line.startsWith("start ")) execFileSync("scancel", [job])
  })
  t.is(cancelled.code, 1)
  t.is(cancelled.stderr, `pinkflow: stage slow failed: Slurm job ${job} was cancelled\n`)
  t.is(statuses(cancelled.lines).after, "skipped")
})

cluster("independent stages run as concurrent jobs; Ctrl-C on the submitter cancels its jobs", async (t) => {
  const p = project()
  p.write("pipelines/wide.ts", `${HEADER}
const a = sleeper("a", 4000)
const b = sleeper("b", 4000)
export default Pipeline.make({ name: "wide", stages: [a, b, sleeper("join", 0, { a: Input.json(a.out.out), b: Input.json(b.out.out) })] })`)
  const r = p.json("run", "pipelines/wide.ts", "--executor", "slurm", "--verbose")
  t.is(r.code, 0, r.stderr)
  const at = (stage: string, what: string) => Number(r.lines.find((l) => l.type === "log" && l.stage === stage && l.line.startsWith(what)).line.split(" ")[1])
  t.true(at("a", "start") < at("b", "end") && at("b", "start") < at("a", "end"), "a and b overlapped in time")

  p.write("pipelines/long.ts", `${HEADER}
export default Pipeline.make({ name: "long", stages: [sleeper("long-a", 60000), sleeper("long-b", 60000)] })`)
  const jobs: Array<string> = []
  const stopped = await p.start(["run", "pipelines/long.ts", "--executor", "slurm", "--verbose"], (line, child) => {
    if (line.type === "submitted") jobs.push(line.job)
    if (line.type === "log" && line.line.startsWith("start ")) child.kill("SIGINT")
  })
  t.is(stopped.code, 130)
  t.is(jobs.length, 2)
  for (let i = 0; i < 50 && inQueue(jobs).length > 0; i++) spawnSync("sleep", ["0.2"])
  t.deepEqual(inQueue(jobs), [], "no job of the interrupted run is left in the queue")
})
