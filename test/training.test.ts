/**
 * A training stage inside a pipeline: it declares its tensor environment, imports TF.js only when
 * it runs, checkpoints into the directory pinkflow gives it, and after a SIGKILL the rerun resumes
 * from the last checkpoint instead of step 0.
 */
import test from "ava"
import * as fs from "node:fs"
import * as path from "node:path"
import { project, ran } from "./helpers/project.ts"
import { tinyTrainingModule } from "./helpers/tiny-training.ts"

const PIPELINE = `import { Effect, Schema } from "effect"
import * as Artifact from "../src/core/Artifact.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Stage from "../src/core/Stage.ts"
import * as Environment from "../src/model/Environment.ts"

const train = Stage.make({
  name: "train",
  params: Schema.Struct({ steps: Stage.param(Schema.Int, 60) }),
  outputs: { model: Artifact.model(), metrics: Artifact.metrics() },
  env: { tensors: Environment.fingerprint },
  run: (ctx) => Effect.promise(async () => (await import("./train-body.ts")).run(ctx.params.steps, ctx.outputs.model, ctx.checkpointDir, ctx.log))
})
export default Pipeline.make({ name: "train", stages: [train] })
`

const BODY = tinyTrainingModule({
  signature: "steps: number, out: string, checkpointDir: string, log: (l: string) => void",
  batch: 2,
  train: `  const r = await Loop.train(m.weights, Freeze.policy("adaptersAndProjection", m, tok), (_s, seed) => loss(seed),
    { steps, lr: 1e-3, warmupFraction: 0, seed: 1, tokensPerStep: 1, checkpointDir, checkpointEvery: 10,
      onCheckpoint: (e) => log(e.saved !== undefined ? \`checkpoint \${e.saved}\` : \`resumed from step \${e.resumed}\`),
      onProgress: () => { const until = Date.now() + 15; while (Date.now() < until) {} } })
  await W.save(out, m.weights, { steps })
  return { metrics: { finalLoss: r.losses.at(-1)!, resumedFrom: r.resumedFrom } }`
})

test("a killed training stage resumes from its last checkpoint", async (t) => {
  const p = project()
  p.write("pipelines/train.ts", PIPELINE)
  p.write("pipelines/train-body.ts", BODY)
  const killed = await p.start(["run", "pipelines/train.ts", "--verbose"], (line, child) => {
    if (line.type === "log" && line.line === "checkpoint 20") child.kill("SIGKILL")
  })
  t.is(killed.signal, "SIGKILL")
  const checkpoints = fs.readdirSync(path.join(p.store, "checkpoints"))
  t.is(checkpoints.length, 1, "one key's checkpoints survive the kill")
  const again = p.json("run", "pipelines/train.ts", "--verbose")
  t.is(again.code, 0, again.stderr)
  t.deepEqual(ran(again.lines), ["train"])
  const logs = again.lines.filter((l) => l.type === "log").map((l) => l.line)
  const resumed = logs.find((l) => l.startsWith("resumed from step "))
  t.truthy(resumed, logs.join("\n"))
  t.true(Number(resumed!.split(" ").at(-1)) >= 20)
  t.false(fs.existsSync(path.join(p.store, "checkpoints", checkpoints[0]!)), "checkpoints are removed once the result is stored")
  // The stored model is a TF.js model directory.
  const model = again.lines.find((l) => l.type === "stage").outputs.model
  t.regex(model, /^[0-9a-f]{64}$/)
  const noop = p.json("run", "pipelines/train.ts")
  t.deepEqual(ran(noop.lines), [])
  // The tensor backend is part of the stage's key.
  const other = p.json("run", "pipelines/train.ts", "--dry-run", "--backend", "cpu")
  const stale = other.lines.find((l) => l.type === "stage")
  t.is(stale.status, "stale")
  t.regex(stale.reasons[0], /^env tensors: .*"backend":"auto".* -> .*"backend":"cpu"/)
})
