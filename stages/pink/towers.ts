/**
 * The towers Pink keeps frozen — CLIP and Llama in the paper, which cannot be downloaded here —
 * pretrained on the data: the ViT contrastively on image–caption pairs, the LM on the data's text.
 */
import { Input } from "pinkflow"
import * as Data from "./data.ts"
import { jsonl, trainingStage } from "./lib/training.ts"
import { tokenizer } from "./tokenizer.ts"

const towers = () => import("../../src/train/Towers.ts")

export const pretrainVision = trainingStage({
  name: "pretrain-vision",
  description: "CLIP-style contrastive pretraining of the ViT on image–caption pairs",
  defaults: [400, 32, 2e-3, 0.01, 0.05, 11],
  inputs: { vocab: Input.json(tokenizer.out.vocab), captions: Input.directory(Data.captions.out.captions) },
  train: async (inputs, model, o) => (await towers()).pretrainVision(inputs.vocab, inputs.captions, model, o)
})

export const pretrainLm = trainingStage({
  name: "pretrain-lm",
  description: "Next-token pretraining of the LM on the data's text",
  defaults: [500, 16, 2e-3, 0.01, 0.05, 12],
  inputs: {
    vocab: Input.json(tokenizer.out.vocab),
    captions: Input.directory(Data.captions.out.captions),
    instructions: Input.directory(Data.instructions.out.train),
    general: Input.directory(Data.generalData.out.general)
  },
  train: async (inputs, model, o) =>
    (await towers()).pretrainLm(inputs.vocab, [jsonl(inputs.captions), jsonl(inputs.instructions), jsonl(inputs.general)], model, o)
})
