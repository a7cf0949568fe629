/** The tokenizer's vocabulary, from every text of the training and evaluation data. */
import { Effect, Schema } from "effect"
import { Artifact, Input, Stage } from "pinkflow"
import * as Data from "./data.ts"
import { jsonl, type Vocab } from "./lib/training.ts"

export const tokenizer = Stage.make({
  name: "tokenizer",
  params: Schema.Struct({ maxWords: Stage.param(Schema.Int, 2000) }),
  inputs: {
    captions: Input.directory(Data.captions.out.captions),
    instructions: Input.directory(Data.instructions.out.train),
    general: Input.directory(Data.generalData.out.general),
    eval: Input.directory(Data.evalData.out.eval)
  },
  outputs: { vocab: Artifact.json<Vocab>() },
  run: ({ params, inputs }) =>
    Effect.promise(async () => {
      const Vocabulary = await import("../../src/train/Vocabulary.ts")
      return { vocab: Vocabulary.fromData([jsonl(inputs.captions), jsonl(inputs.instructions), jsonl(inputs.general)], inputs.eval, params.maxWords) }
    })
})
