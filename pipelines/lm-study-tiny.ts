/**
 * The LM study at `nano` size, for tests and CI: every point for a few steps on a few layouts. It checks that the study runs, shares the vocabulary and compares, not that it learns.
 */
import { Pipeline } from "pinkflow"
import study from "./lm-study.ts"

export default Pipeline.make({
  name: "lm-study-tiny",
  stages: study.stages,
  params: {
    "foundation-vocab": { scenes: 40, maxWords: 400 },
    "lm-trial": { ...study.params["lm-trial"], preset: "nano", steps: 4, batchSize: 4, scenes: 16, turns: 2, heldOutScenes: 3 }
  },
  sweep: study.sweep
})
