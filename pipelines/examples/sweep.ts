/**
 * A sweep over the example: three learning rates × two values of k. Every variant shares the
 * cached prepare and split stages; `pinkflow compare` puts the variants side by side.
 */
import { Pipeline } from "pinkflow"
import diamond from "./diamond.ts"

export default Pipeline.make({
  name: "diamond-sweep",
  stages: diamond.stages,
  params: { "train-linear": { epochs: 100 } },
  sweep: { "train-linear.lr": [0.05, 0.5, 2], "train-knn.k": [1, 7] }
})
