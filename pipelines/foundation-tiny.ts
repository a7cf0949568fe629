/**
 * The foundation at `nano` size, for tests and CI: the vocabulary, both towers and the gates
 * with little data and few steps. pink-tiny and rec-study-tiny take the same params, so they share
 * its results (and pink-tiny can take them from its export).
 */
import { Pipeline } from "pinkflow"
import foundation from "./foundation.ts"

const nano = (steps: number, batchSize = 4) => ({ preset: "nano", steps, batchSize })

export default Pipeline.make({
  name: "foundation-tiny",
  stages: foundation.stages,
  params: {
    "foundation-vocab": { scenes: 40, maxWords: 400 },
    "vision-tower": { ...nano(4, 8), scenes: 16, heldOutScenes: 6 },
    "lm-tower": { ...nano(4), scenes: 16, turns: 2, heldOutScenes: 3 },
    "lm-coordinates": { ...nano(4), scenes: 16, turns: 2, heldOutScenes: 3 },
    "vision-gate": { fitScenes: 6, testScenes: 4, steps: 5 },
    "lm-gate": { scenes: 2, batchSize: 8 },
    "alignment-gate": { fitScenes: 6, scenes: 2, batchSize: 8 }
  }
})
