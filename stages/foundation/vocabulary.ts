/** The foundation's vocabulary — the LM's tokenizer, like Llama's — from generated scenes alone. */
import { Effect, Schema } from "effect"
import { Artifact, Stage } from "pinkflow"
import type { Vocab } from "../pink/lib/training.ts"

export const vocabulary = Stage.make({
  name: "foundation-vocab",
  description: "The LM's vocabulary: every text the data builders write about generated scenes, with binned coordinates",
  params: Schema.Struct({
    seed: Stage.param(Schema.Int, 101),
    scenes: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 2000),
    maxWords: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 2000),
    coordinates: Stage.param(Schema.Literals(["bins", "decimal"]), "bins")
  }),
  outputs: { vocab: Artifact.json<Vocab>() },
  run: ({ params }) => Effect.promise(async () => ({ vocab: (await import("../../src/train/Vocabulary.ts")).fromScenes(params) }))
})
