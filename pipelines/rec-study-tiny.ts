/**
 * The REC study at `nano` size, for tests and CI: the foundation and the recipe over its towers
 * with little data and few steps, and the study's two-point sweep over stage 1's objective, which
 * shares everything upstream of stage 1. It checks that the study runs, shares and compares, not that it learns.
 */
import { Pipeline } from "pinkflow"
import foundation from "./foundation-tiny.ts"
import study from "./rec-study.ts"

const nano = (steps: number, batchSize = 4) => ({ preset: "nano", steps, batchSize })

export default Pipeline.make({
  name: "rec-study-tiny",
  stages: study.stages,
  params: {
    ...study.params,
    ...foundation.params,
    scenes: { images: 12 },
    "general-data": { images: 6 },
    captions: { images: 8 },
    "eval-data": { images: 8 },
    instructions: { samplesPerImage: 2 },
    "study-stage1": { ...nano(2), requireGates: false, scenes: 6, turns: 2 },
    "study-stage2": nano(2),
    "study-evaluate": { limit: 3, batchSize: 8 },
    "study-evaluate-stage1": { limit: 3, batchSize: 8 }
  },
  sweep: { "study-stage1.objective": ["captions", "layouts"] }
})
