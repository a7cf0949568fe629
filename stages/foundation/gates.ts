/**
 * The towers' gates, the foundation pipeline's metrics: linear probes of the frozen ViT's patch
 * features, the LM's text-only grounding on held-out layouts, and the pair's grounding from
 * images through a least-squares projection. Each says whether its tower (or pair) passes its
 * threshold; the recipe's stage 1 refuses towers that fail (stages/pink/stage1.ts).
 */
import { Effect, Schema } from "effect"
import { Artifact, Input, Stage } from "pinkflow"
import { env, type Json } from "../pink/lib/training.ts"
import { lmCoordinates, lmTower, visionTower } from "./towers.ts"
import { vocabulary } from "./vocabulary.ts"

const fraction = (v: number) => Stage.param(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 })), v)

export const visionGate = Stage.make({
  name: "vision-gate",
  description: "Linear probes of the ViT's frozen patch features on held-out scenes: colour, shape, size, box",
  params: Schema.Struct({
    fitSeed: Stage.param(Schema.Int, 202),
    testSeed: Stage.param(Schema.Int, 203),
    fitScenes: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 400),
    testScenes: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 200),
    steps: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 400),
    minShape: fraction(0.9),
    minBox: fraction(0.8)
  }),
  inputs: { vision: Input.model(visionTower.out.model) },
  outputs: { metrics: Artifact.json<Json>() },
  env,
  isolated: true,
  run: ({ params, inputs, log }) =>
    Effect.promise(async () => ({ metrics: await (await import("../../src/eval/Gates.ts")).visionGate(inputs.vision, params, log) }))
})

export const lmGate = Stage.make({
  name: "lm-gate",
  description: "The LM's text-only grounding on held-out scene layouts (the evaluation's prompt, Acc@0.5)",
  params: Schema.Struct({
    seed: Stage.param(Schema.Int, 103),
    scenes: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 150),
    batchSize: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 32),
    minAccuracy: fraction(0.8)
  }),
  inputs: { vocab: Input.json(vocabulary.out.vocab), lm: Input.model(lmCoordinates.out.model) },
  outputs: { metrics: Artifact.json<Json>() },
  env,
  isolated: true,
  run: ({ params, inputs, log }) =>
    Effect.promise(async () => ({ metrics: await (await import("../../src/eval/Gates.ts")).lmGate(inputs.lm, params, log) }))
})

export const alignmentGate = Stage.make({
  name: "alignment-gate",
  description: "The pair of towers: the LM's grounding from held-out images through the least-squares projection (and from their layouts)",
  params: Schema.Struct({
    fitSeed: Stage.param(Schema.Int, 302),
    fitScenes: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 1000),
    seed: Stage.param(Schema.Int, 105),
    scenes: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 120),
    batchSize: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 32),
    minAccuracy: fraction(0.5)
  }),
  inputs: { vision: Input.model(visionTower.out.model), lm: Input.model(lmCoordinates.out.model) },
  outputs: { metrics: Artifact.json<Json>() },
  env,
  isolated: true,
  run: ({ params, inputs, log }) =>
    Effect.promise(async () => ({ metrics: await (await import("../../src/eval/Gates.ts")).alignmentGate(inputs, params, log) }))
})

export const all = [vocabulary, visionTower, lmTower, lmCoordinates, visionGate, lmGate, alignmentGate] as const
