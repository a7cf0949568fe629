/**
 * The Pink pipeline at `nano` size, for tests and CI: the same stages as pipelines/pink.ts with
 * little data and few steps, over the nano foundation (foundation-tiny.ts). It checks that everything runs and caches, not that the model learns.
 */
import { Pipeline } from "pinkflow"
import foundation from "./foundation-tiny.ts"
import pink from "./pink.ts"

const nano = (steps: number, batchSize = 4) => ({ preset: "nano", steps, batchSize })

export default Pipeline.make({
  name: "pink-tiny",
  stages: pink.stages,
  params: {
    ...pink.params,
    ...foundation.params,
    scenes: { images: 16 },
    "general-data": { images: 8 },
    captions: { images: 12 },
    "detection-data": { images: 6 },
    "eval-data": { images: 8 },
    instructions: { samplesPerImage: 3 },
    "instructions-general-only": { samplesPerImage: 3 },
    stage1: { ...nano(3), requireGates: false, scenes: 8, turns: 2 },
    stage2: nano(4),
    "stage2-star": nano(4),
    "stage2-projection-only": nano(4),
    "stage2-general-only": nano(4),
    "bootstrap-generate": { maxObjects: 8, batchSize: 8 },
    "evaluate-pink": { limit: 4, batchSize: 8 },
    "evaluate-pink-star": { limit: 4, batchSize: 8 },
    "evaluate-projection-only": { limit: 4, batchSize: 8 },
    "evaluate-general-only": { limit: 4, batchSize: 8 }
  }
})
