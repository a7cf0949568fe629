/**
 * A trial of the LM tower's attention design (src/train/LmTrial.ts): the LM tower's pretraining
 * and data under one design, short, with its held-out grounding against steps as metrics, so
 * `pinkflow compare` tabulates a study of designs (pipelines/lm-study.ts).
 */
import { Effect, Schema } from "effect"
import { Artifact, Input, Stage } from "pinkflow"
import type * as Session from "../../src/train/Session.ts"
import { env, training, type Json } from "../pink/lib/training.ts"
import { vocabulary } from "./vocabulary.ts"

export const lmTrial = Stage.make({
  name: "lm-trial",
  description: "The LM tower's pretraining under one attention design, with held-out grounding against steps",
  params: Schema.Struct({
    ...training(600, 32, 2e-3, 0.01, 0.05, 12),
    preset: Stage.param(Schema.Literals(["nano", "small", "hires"]), "hires"),
    design: Stage.param(Schema.Literals(["causal", "alibi", "prefix", "image-from-1"]), "causal"),
    background: Stage.param(Schema.Literals(["empty", "token"]), "empty"),
    loss: Stage.param(Schema.Literals(["answers", "text"]), "answers"),
    guide: Stage.param(Schema.Literals(["none", "heads"]), "none"),
    guideWeight: Stage.param(Schema.Number.check(Schema.isGreaterThan(0)), 1),
    cells: Stage.param(Schema.Literals(["causal", "own"]), "causal"),
    sceneSeed: Stage.param(Schema.Int, 102),
    scenes: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 96000),
    turns: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 8),
    heldOutSeed: Stage.param(Schema.Int, 104),
    heldOutScenes: Stage.param(Schema.Int.check(Schema.isGreaterThan(2)), 40)
  }),
  inputs: { vocab: Input.json(vocabulary.out.vocab) },
  outputs: { metrics: Artifact.metrics(), curve: Artifact.json<Json>() },
  env,
  isolated: true,
  run: ({ params, inputs, checkpointDir, log }) =>
    Effect.promise(async () => {
      const { lmTrial } = await import("../../src/train/LmTrial.ts")
      return await lmTrial(inputs.vocab, { ...(params as unknown as Session.TrainOptions), checkpointDir, log }, params)
    })
})
