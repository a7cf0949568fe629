/**
 * The LM tower's study (src/train/LmTrial.ts): the foundation's LM pretraining on its vocabulary
 * and layouts, past the plateau where the tower stops (800 steps), with the loss on all the text
 * and under the attention designs that the tower's diagnosis (lm-diagnosis) points at — the
 * tower's causal attention, and the first block's text kept off the layout, so that the reading
 * happens where the phrase can be known. Every point shares the vocabulary. `pinkflow compare` of
 * its runs gives held-out grounding against steps; each row is
 * `pinkflow run pipelines/lm-study.ts --set lm-trial.design=<design>`, and any other trial
 * (`--set lm-trial.loss=answers`, `lm-trial.background=token`, `lm-trial.design=alibi|prefix`)
 * one more `--set`.
 */
import { Pipeline } from "pinkflow"
import { lmTrial } from "../stages/foundation/trial.ts"
import { vocabulary } from "../stages/foundation/vocabulary.ts"

export default Pipeline.make({
  name: "lm-study",
  stages: [vocabulary, lmTrial],
  params: { "lm-trial": { loss: "text", steps: 1500 } },
  sweep: { "lm-trial.design": ["causal", "image-from-1"] }
})
