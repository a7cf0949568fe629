/**
 * The Pink pipeline at `nano` size, for tests and CI: the same stages as pipelines/pink.ts with
 * little data and few steps. It checks that everything runs and caches, not that the model learns.
 */
import { Pipeline } from "pinkflow"
import pink from "./pink.ts"

const nano = (steps: number, batchSize = 4) => ({ preset: "nano", steps, batchSize })

export default Pipeline.make({
  name: "pink-tiny",
  stages: pink.stages,
  params: {
    ...pink.params,
    scenes: { images: 16 },
    "general-data": { images: 8 },
    captions: { images: 12 },
    "detection-data": { images: 6 },
    "eval-data": { images: 8 },
    instructions: { samplesPerImage: 3 },
    "instructions-general-only": { samplesPerImage: 3 },
    "foundation-vocab": { scenes: 40, maxWords: 400 },
    "vision-tower": { ...nano(4, 8), scenes: 16 },
    "lm-tower": { ...nano(4), scenes: 16, turns: 2 },
    "vision-gate": { fitScenes: 6, testScenes: 4, steps: 5 },
    "lm-gate": { scenes: 2, batchSize: 8 },
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
