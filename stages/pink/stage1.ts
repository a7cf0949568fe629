/** Stage 1: the projection learns to map the frozen ViT's features into the frozen LM, on captions. */
import { Input } from "pinkflow"
import * as Data from "./data.ts"
import { jsonl, trainingStage } from "./lib/training.ts"
import { tokenizer } from "./tokenizer.ts"
import { pretrainLm, pretrainVision } from "./towers.ts"

export const stage1 = trainingStage({
  name: "stage1",
  description: "Stage 1: the projection, on captions (everything else frozen)",
  defaults: [300, 16, 2e-3, 0, 0.03, 13],
  inputs: {
    vocab: Input.json(tokenizer.out.vocab),
    vision: Input.model(pretrainVision.out.model),
    lm: Input.model(pretrainLm.out.model),
    captions: Input.directory(Data.captions.out.captions)
  },
  train: async (inputs, model, o) =>
    (await import("../../src/train/Recipe.ts")).trainStage(
      { from: "pretrained", vision: inputs.vision, lm: inputs.lm, vocab: inputs.vocab },
      [jsonl(inputs.captions)],
      "projectionOnly",
      true,
      model,
      o
    )
})
