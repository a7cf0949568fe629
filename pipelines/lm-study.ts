/**
 * The LM tower's study (src/train/LmTrial.ts): the foundation's LM pretraining on its vocabulary
 * and layouts, one thing changed at a time, with held-out grounding against steps and the pointer
 * guide's heads' attention shares as metrics. As defined, it compares the LM's attention (ALiBi in
 * half the heads) with the loss on all the text over 600 steps, without and with the pointer guide
 * (src/train/Pointers.ts) at weight 0.1 — the comparison that put the tower past its plateau.
 * Every point shares the vocabulary. `pinkflow compare` of its runs gives the table; each row is
 * `pinkflow run pipelines/lm-study.ts --set lm-trial.guide=<none|heads>`, and any other trial one
 * more `--set` (`lm-trial.design=causal|prefix|image-from-1`, `lm-trial.guideWeight=1`,
 * `lm-trial.cells=own`, `lm-trial.loss=answers`, `lm-trial.background=token`,
 * `lm-trial.steps=1500`, `lm-trial.seed=13`).
 */
import { Pipeline } from "pinkflow"
import { lmTrial } from "../stages/foundation/trial.ts"
import { vocabulary } from "../stages/foundation/vocabulary.ts"

export default Pipeline.make({
  name: "lm-study",
  stages: [vocabulary, lmTrial],
  params: { "lm-trial": { loss: "text", steps: 600, design: "alibi", guideWeight: 0.1 } },
  sweep: { "lm-trial.guide": ["none", "heads"] }
})
