/** Evaluation of each model on the held-out splits (and an external RefCOCO-format split, if given). */
import { Effect, Schema } from "effect"
import { Artifact, Input, Stage } from "pinkflow"
import { generalOnly, projectionOnly } from "./ablations.ts"
import { pinkStar } from "./bootstrap.ts"
import * as Data from "./data.ts"
import { env } from "./lib/training.ts"
import { pink } from "./stage2.ts"

/** The evaluation of one model. */
export const evaluate = (name: string, model: Input.FromStage<"model", string>) =>
  Stage.make({
    name,
    params: Schema.Struct({
      limit: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 300),
      batchSize: Stage.param(Schema.Int, 32),
      seed: Stage.param(Schema.Int, 17),
      externalRefs: Stage.param(Schema.String, ""),
      externalInstances: Stage.param(Schema.String, ""),
      externalImages: Stage.param(Schema.String, "")
    }),
    inputs: { model, eval: Input.directory(Data.evalData.out.eval) },
    outputs: { metrics: Artifact.metrics(), predictions: Artifact.directory() },
    env,
    isolated: true,
    run: ({ params, inputs, outputs, log }) =>
      Effect.promise(async () => {
        const Evaluate = await import("../../src/eval/Evaluate.ts")
        const external = params.externalRefs === "" ? undefined : { refs: params.externalRefs, instances: params.externalInstances, images: params.externalImages }
        return { metrics: await Evaluate.evaluate(inputs.model, inputs.eval, outputs.predictions, { ...params, log, external }) }
      })
  })

export const evaluatePink = evaluate("evaluate-pink", Input.model(pink.out.model))
export const evaluatePinkStar = evaluate("evaluate-pink-star", Input.model(pinkStar.out.model))
export const evaluateProjectionOnly = evaluate("evaluate-projection-only", Input.model(projectionOnly.out.model))
export const evaluateGeneralOnly = evaluate("evaluate-general-only", Input.model(generalOnly.out.model))
