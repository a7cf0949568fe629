/**
 * The crash harness: a pipeline with hashing, file, directory and value outputs and a checkpointed
 * training stage, run once to enumerate its fault points (`PINKFLOW_FAULT_TRACE`), then killed with
 * SIGKILL at chosen points (`PINKFLOW_FAULT=<point>@<n>`) and rerun. After every kill it checks that
 * `pinkflow verify` is clean, that the rerun succeeds with the reference run's exact outputs, that
 * stages completed before the kill are not recomputed, and that the interrupted training stage
 * resumes from its last checkpoint.
 */
import { spawnSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { cli, project, type Project } from "./project.ts"
import { tinyTrainingModule } from "./tiny-training.ts"

const PIPELINE = `import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Artifact from "../src/core/Artifact.ts"
import * as Input from "../src/core/Input.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Stage from "../src/core/Stage.ts"
import * as Environment from "../src/model/Environment.ts"
import { evaluate } from "../stages/examples/evaluate.ts"
import { prepare } from "../stages/examples/prepare.ts"
import { report } from "../stages/examples/report.ts"
import { split } from "../stages/examples/split.ts"
import { trainKnn } from "../stages/examples/train-knn.ts"
import { trainLinear } from "../stages/examples/train-linear.ts"

const shards = Stage.make({
  name: "shards",
  inputs: { big: Input.file("data/big.bin") },
  outputs: { parts: Artifact.directory(), sizes: Artifact.json<Array<number>>() },
  run: ({ inputs, outputs }) => Effect.promise(async () => {
    const bytes = await fs.promises.readFile(inputs.big)
    const third = Math.ceil(bytes.length / 3)
    const sizes = []
    for (let i = 0; i < 3; i++) {
      const part = bytes.subarray(i * third, (i + 1) * third)
      await fs.promises.writeFile(path.join(outputs.parts, \`part-\${i}.bin\`), part)
      sizes.push(part.length)
    }
    return { sizes }
  })
})

const train = Stage.make({
  name: "train",
  params: Schema.Struct({ steps: Stage.param(Schema.Int, 40) }),
  inputs: { sizes: Input.json(shards.out.sizes) },
  outputs: { model: Artifact.model(), metrics: Artifact.metrics() },
  env: { tensors: Environment.fingerprint },
  run: (ctx) => Effect.promise(async () => (await import("./crash-train.ts")).run(ctx.params.steps, ctx.outputs.model, ctx.checkpointDir, ctx.log))
})

export default Pipeline.make({ name: "crash", stages: [prepare, split, trainLinear, trainKnn, evaluate, report, shards, train] })
`

const TRAIN = tinyTrainingModule({
  signature: "steps: number, out: string, checkpointDir: string, log: (l: string) => void",
  batch: 2,
  train: `  const r = await Loop.train(m.weights, Freeze.policy("adaptersAndProjection", m, tok), (_s, seed) => loss(seed),
    { steps, lr: 1e-3, warmupFraction: 0, seed: 1, tokensPerStep: 1, checkpointDir, checkpointEvery: 10, progressEveryMs: 0,
      onCheckpoint: (e) => log(e.saved !== undefined ? \`checkpoint \${e.saved}\` : \`resumed from step \${e.resumed}\`),
      onProgress: (p) => {
        const until = Date.now() + Number(process.env.TRAIN_STEP_MS ?? 0)
        while (Date.now() < until) {}
        // TRAIN_HOLD: stop after step 12 for good (the process holds the stage until killed).
        if (process.env.TRAIN_HOLD === "1" && p.step >= 12) for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000)
        if (p.step % 5 === 0) log(\`step \${p.step}\`)
      } })
  await W.save(out, m.weights, { steps })
  return { metrics: { finalLoss: r.losses.at(-1)! } }`
})

export interface Run {
  readonly code: number | null
  readonly signal: string | null
  readonly lines: Array<any>
  readonly stderr: string
}

export interface CrashProject extends Project {
  /** `pinkflow ...args --json` against `store`, with `env` added. */
  readonly exec: (store: string, args: ReadonlyArray<string>, env?: Record<string, string>) => Run
}

export const crashProject = (): CrashProject => {
  const p = project()
  p.write("pipelines/crash.ts", PIPELINE)
  p.write("pipelines/crash-train.ts", TRAIN)
  // 9 MiB of seeded bytes: three 4 MiB hashing chunks.
  fs.mkdirSync(path.join(p.dir, "data"), { recursive: true })
  const big = Buffer.alloc(9 * 1024 * 1024)
  for (let i = 0; i < big.length; i += 32) crypto.createHash("sha256").update(String(i)).digest().copy(big, i)
  fs.writeFileSync(path.join(p.dir, "data", "big.bin"), big)
  const exec = (store: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): Run => {
    const r = spawnSync(process.execPath, [cli, ...args, "--json", "--store", store], {
      cwd: p.dir,
      encoding: "utf8",
      env: { ...process.env, PINKFLOW_FAULT: "", ...env },
      maxBuffer: 64 * 1024 * 1024
    })
    const lines = r.stdout.split("\n").filter((l) => l.trim().startsWith("{")).map((l) => JSON.parse(l))
    return { code: r.status, signal: r.signal, lines, stderr: r.stderr }
  }
  return { ...p, exec }
}

export const RUN = ["run", "pipelines/crash.ts", "--verbose", "--concurrency", "1"] as const

/** Output digests by `stage.output` from a run's stage lines. */
export const outputsOf = (lines: ReadonlyArray<any>): Record<string, string> =>
  Object.fromEntries(lines.filter((l) => l.type === "stage" && l.outputs !== undefined)
    .flatMap((l) => Object.entries(l.outputs as Record<string, string>).map(([o, d]) => [`${l.stage}.${o}`, d])))

export interface Reference {
  readonly outputs: Record<string, string>
  /** Every fault point the run reached, with how many times. */
  readonly points: ReadonlyMap<string, number>
}

export const reference = (p: CrashProject): Reference => {
  const store = fs.mkdtempSync(path.join(p.dir, "store-ref-"))
  const trace = path.join(p.dir, "trace.txt")
  const r = p.exec(store, RUN, { PINKFLOW_FAULT_TRACE: trace })
  if (r.code !== 0) throw new Error(`reference run failed: ${r.stderr}`)
  const points = new Map<string, number>()
  for (const name of fs.readFileSync(trace, "utf8").split("\n").filter((l) => l !== "")) points.set(name, (points.get(name) ?? 0) + 1)
  return { outputs: outputsOf(r.lines), points }
}

/** Up to `max` occurrences of each point, evenly spread over its count. */
export const killPoints = (ref: Reference, max: number): Array<{ readonly point: string; readonly n: number }> =>
  [...ref.points].flatMap(([point, count]) => {
    const picks = new Set<number>()
    const k = Math.min(max, count)
    for (let i = 0; i < k; i++) picks.add(k === 1 ? 1 : 1 + Math.round((i * (count - 1)) / (k - 1)))
    return [...picks].map((n) => ({ point, n }))
  })

export interface Outcome {
  readonly point: string
  readonly n: number
  /** False when the run finished before reaching the point (the run order can vary). */
  readonly killed: boolean
  readonly problems: ReadonlyArray<string>
  readonly resumedFrom?: number
}

/** Kills a run at `point`@`n` in a fresh store, then verifies and reruns it. */
export const killAndRecover = (p: CrashProject, ref: Reference, point: string, n: number): Outcome => {
  const store = fs.mkdtempSync(path.join(p.dir, "store-"))
  const killed = p.exec(store, RUN, { PINKFLOW_FAULT: `${point}@${n}` })
  const problems: Array<string> = []
  if (killed.signal !== "SIGKILL") {
    if (killed.code !== 0) problems.push(`the run without a kill failed: ${killed.stderr.trim()}`)
    return { point, n, killed: false, problems }
  }
  const verify = p.exec(store, ["verify"])
  const report = verify.lines[0]
  if (verify.code !== 0 || report?.ok !== true) problems.push(`verify after the kill: ${JSON.stringify(report ?? verify.stderr)}`)
  const completed = killed.lines.filter((l) => l.type === "stage" && l.status === "ran").map((l) => l.stage as string)
  const logs = (r: Run) => r.lines.filter((l) => l.type === "log" && l.stage === "train").map((l) => l.line as string)
  const saved = logs(killed).filter((l) => l.startsWith("checkpoint ")).map((l) => Number(l.split(" ")[1]))
  const again = p.exec(store, RUN)
  if (again.code !== 0) problems.push(`rerun failed: ${again.stderr.trim()}`)
  const status = Object.fromEntries(again.lines.filter((l) => l.type === "stage").map((l) => [l.stage, l.status]))
  for (const s of completed) if (status[s] !== "cached") problems.push(`${s} completed before the kill but was ${status[s]} on the rerun`)
  const outputs = outputsOf(again.lines)
  for (const [k, d] of Object.entries(ref.outputs)) if (outputs[k] !== d) problems.push(`${k}: ${outputs[k]} differs from the reference ${d}`)
  let resumedFrom: number | undefined
  // Unless its result was stored before the kill (then the rerun finds it cached), the training
  // stage must resume from the last checkpoint it saved.
  if (status.train === "ran" && saved.length > 0) {
    const resumed = logs(again).find((l) => l.startsWith("resumed from step "))
    resumedFrom = resumed === undefined ? undefined : Number(resumed.split(" ").at(-1))
    if (resumedFrom === undefined || resumedFrom < Math.max(...saved)) {
      problems.push(`train saved checkpoint ${Math.max(...saved)} before the kill but the rerun resumed from ${resumedFrom ?? "step 0"}`)
    }
  }
  const after = p.exec(store, ["verify"])
  if (after.lines[0]?.ok !== true) problems.push(`verify after the rerun: ${JSON.stringify(after.lines[0] ?? after.stderr)}`)
  fs.rmSync(store, { recursive: true, force: true })
  return { point, n, killed: true, problems, ...(resumedFrom === undefined ? {} : { resumedFrom }) }
}
