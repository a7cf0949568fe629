/**
 * The foundation's towers, the miniature's CLIP and Llama: the ViT pretrained at patch level on
 * generated scenes (it should know what is where), the LM on scene layouts written as text (it
 * should read and write boxes and find which described object a phrase means). Neither sees the
 * evaluation splits; the LM never sees an image.
 */
import { Schema } from "effect"
import { Input, Stage } from "pinkflow"
import { trainingStage } from "../pink/lib/training.ts"
import { vocabulary } from "./vocabulary.ts"

const vision = () => import("../../src/train/VisionTower.ts")
const lm = () => import("../../src/train/LmTower.ts")
const coordinates = () => import("../../src/train/CoordinateRows.ts")

/** The training scenes, and the held-out scenes its metrics are measured on at each checkpoint. */
const sceneParams = (sceneSeed: number, scenes: number, heldOutSeed: number, heldOutScenes: number) => ({
  sceneSeed: Stage.param(Schema.Int, sceneSeed),
  scenes: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), scenes),
  heldOutSeed: Stage.param(Schema.Int, heldOutSeed),
  heldOutScenes: Stage.param(Schema.Int.check(Schema.isGreaterThan(2)), heldOutScenes)
})

export const visionTower = trainingStage({
  name: "vision-tower",
  description: "Patch-level pretraining of the ViT: colour, shape, size and box bins of the object covering each patch",
  defaults: [3000, 32, 1e-3, 0.01, 0.05, 11],
  preset: "hires",
  params: {
    ...sceneParams(201, 6000, 204, 300),
    /** Weight of the least-squares readout term (src/train/Pretrain.ts); 0 turns it off. */
    readout: Stage.param(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0)), 1)
  },
  inputs: {},
  train: async (_inputs, model, o, extra) => (await vision()).visionTower(model, o, extra)
})

export const lmTower = trainingStage({
  name: "lm-tower",
  description: "Pretraining of the LM on scene layouts in text: captions, phrases to boxes, boxes to phrases",
  defaults: [3000, 32, 2e-3, 0.01, 0.05, 12],
  preset: "hires",
  params: {
    ...sceneParams(102, 96000, 104, 40),
    turns: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 8),
    /** The next-token loss on the answers only, or on all the text after the layout. */
    loss: Stage.param(Schema.Literals(["answers", "text"]), "text"),
    /** The pointer guide's weight (src/train/Pointers.ts); 0 turns it off. */
    guide: Stage.param(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0)), 0.1),
    /** What the layouts are asked (src/data/Layout.ts): grounding and captions, or all of Pink's RC tasks. */
    questions: Stage.param(Schema.Literals(["grounding", "rc"]), "grounding")
  },
  inputs: { vocab: Input.json(vocabulary.out.vocab) },
  train: async (inputs, model, o, extra) => (await lm()).lmTower(inputs.vocab, model, o, extra)
})

/**
 * The LM tower's second phase: its coordinate rows set back to their structured code and held
 * there while the rest of the LM goes on with the same layout pretraining (src/train/CoordinateRows.ts),
 * so the box in a layout cell is a code the ViT's features carry linearly. The recipe's LM.
 */
export const lmCoordinates = trainingStage({
  name: "lm-coordinates",
  description: "The LM tower's second phase: coordinate rows held at their structured code, the rest trained on the same layouts",
  defaults: [1200, 32, 5e-4, 0.01, 0.05, 13],
  preset: "hires",
  params: {
    ...sceneParams(103, 96000, 104, 40),
    turns: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 8),
    loss: Stage.param(Schema.Literals(["answers", "text"]), "text"),
    guide: Stage.param(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0)), 0.1),
    questions: Stage.param(Schema.Literals(["grounding", "rc"]), "rc")
  },
  inputs: { lm: Input.model(lmTower.out.model) },
  train: async (inputs, model, o, extra) => (await coordinates()).coordinatePhase(inputs.lm, model, o, extra)
})
