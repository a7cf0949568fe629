/**
 * The LM tower's diagnosis (src/eval/LmDiagnosis.ts): where its heads look when it answers a
 * grounding question, how large its residual stream grows, and whether the phrase's words can
 * still be read block by block. Metrics, so `pinkflow compare` can set towers side by side.
 */
import { Effect, Schema } from "effect"
import { Artifact, Input, Stage } from "pinkflow"
import { env } from "../pink/lib/training.ts"
import { lmTower } from "./towers.ts"

export const lmDiagnosis = Stage.make({
  name: "lm-diagnosis",
  description: "The LM tower's attention, residual norms and word identity on held-out grounding questions",
  params: Schema.Struct({
    seed: Stage.param(Schema.Int, 104),
    scenes: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 120)
  }),
  inputs: { lm: Input.model(lmTower.out.model) },
  outputs: { metrics: Artifact.metrics() },
  env,
  isolated: true,
  run: ({ params, inputs, log }) =>
    Effect.promise(async () => {
      const [{ loadTower }, Diagnosis, { started }] = await Promise.all([import("../../src/model/Checkpoint.ts"), import("../../src/eval/LmDiagnosis.ts"), import("../../src/train/Session.ts")])
      await started(log)
      const { model, tokenizer } = await loadTower(inputs.lm)
      const d = Diagnosis.diagnose(model, tokenizer, params)
      log(`${d.n} phrases; shape word readable at its position entering each block: ${d.identity.map((x) => `${(100 * x.word).toFixed(0)} %`).join(", ")}`)
      return { metrics: Diagnosis.metrics(d) }
    })
})
