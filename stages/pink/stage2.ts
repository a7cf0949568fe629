/**
 * Stage 2: the adapters in the ViT and the LM, the projection and the delimiter rows train on the
 * RC tasks mixed with general data. Pink, Pink* (bootstrap.ts) and the ablations (ablations.ts) are
 * all this stage with other data or without adapters.
 */
import { Schema } from "effect"
import { Input, Stage } from "pinkflow"
import * as Data from "./data.ts"
import { jsonl, trainingStage } from "./lib/training.ts"
import { stage1 } from "./stage1.ts"

/** A stage-2 training from a stage-1 model (the pipeline's `stage1` unless given), on `data.instructions` (and `data.extra`), with or without adapters. */
export const stage2 = (
  name: string,
  description: string,
  data: { readonly instructions: Input.FromStage<"directory", string>; readonly extra?: Input.FromStage<"directory", string> },
  adapters: boolean,
  from: { readonly init: Input.FromStage<"model", string>; readonly preset?: "small" | "hires" } = { init: Input.model(stage1.out.model), preset: "hires" }
) =>
  trainingStage({
    name,
    description,
    defaults: [500, 16, 1e-3, 0.02, 0.05, 14],
    ...(from.preset === undefined ? {} : { preset: from.preset }),
    // The weight of the projection's pull toward stage 1's map (Recipe.projectionAnchor; 0: none).
    // Whether the ViT's adapters train (Pink's recipe: they do); off, they stay the identity.
    params: { anchor: Stage.param(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0)), 0), vitAdapters: Stage.param(Schema.Boolean, true) },
    inputs: { init: from.init, instructions: data.instructions, ...(data.extra === undefined ? {} : { extra: data.extra }) },
    train: async (inputs, model, o, params) => {
      const extra = (inputs as { extra?: string }).extra
      const sources = [jsonl(inputs.instructions), ...(extra === undefined ? [] : [jsonl(extra)])]
      return (await import("../../src/train/Recipe.ts")).trainStage({ from: "model", dir: inputs.init }, sources, "adaptersAndProjection", adapters, model, o, { anchor: params.anchor, vitAdapters: params.vitAdapters })
    }
  })

export const pink = stage2(
  "stage2",
  "Stage 2 (Pink): adapters + projection + delimiter rows on the RC and general mix",
  { instructions: Input.directory(Data.instructions.out.train) },
  true
)
