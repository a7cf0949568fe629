/**
 * Self-consistent bootstrapping and Pink*: the stage-2 model describes each box of the
 * detection-only split and grounds its own description; the pairs that agree are kept and stage 2
 * trains again with them added.
 */
import { Effect, Schema } from "effect"
import { Artifact, Input, Stage } from "pinkflow"
import * as Data from "./data.ts"
import { env, type Json } from "./lib/training.ts"
import { pink, stage2 } from "./stage2.ts"

const bootstrap = () => import("../../src/train/Bootstrap.ts")

export const bootstrapGenerate = Stage.make({
  name: "bootstrap-generate",
  description: "Pink describes each box of the detection-only split, then grounds its own description",
  params: Schema.Struct({
    maxAnnotations: Stage.param(Schema.Int, 15),
    minArea: Stage.param(Schema.Number, 200),
    maxObjects: Stage.param(Schema.Int, 600),
    batchSize: Stage.param(Schema.Int, 32),
    seed: Stage.param(Schema.Int, 15)
  }),
  inputs: { model: Input.model(pink.out.model), detection: Input.directory(Data.detectionData.out.detection) },
  outputs: { candidates: Artifact.directory() },
  env,
  isolated: true,
  run: ({ params, inputs, outputs, log }) =>
    Effect.promise(async () => void (await (await bootstrap()).bootstrapGenerate(inputs.model, inputs.detection, outputs.candidates, { ...params, log })))
})

export const bootstrapFilter = Stage.make({
  name: "bootstrap-filter",
  description: "Keep a pair when its own grounding parses to one box with IoU ≥ the threshold",
  params: Schema.Struct({
    minIou: Stage.param(Schema.Number, 0.5),
    samplesPerImage: Stage.param(Schema.Int, 6),
    seed: Stage.param(Schema.Int, 16)
  }),
  inputs: { candidates: Input.directory(bootstrapGenerate.out.candidates), detection: Input.directory(Data.detectionData.out.detection) },
  outputs: { pairs: Artifact.directory(), stats: Artifact.json<Json>() },
  run: ({ params, inputs, outputs }) =>
    Effect.promise(async () => ({ stats: (await bootstrap()).bootstrapFilter(inputs.candidates, inputs.detection, outputs.pairs, params) }))
})

export const pinkStar = stage2(
  "stage2-star",
  "Stage 2 again with the bootstrapped pairs added (Pink*)",
  { instructions: Input.directory(Data.instructions.out.train), extra: Input.directory(bootstrapFilter.out.pairs) },
  true
)
