/**
 * The example pipeline: clean a table, split it, train two models on the same split (the diamond),
 * evaluate both, report the better one.
 *
 *   prepare → split → train-linear ─┐
 *                   → train-knn ────┴→ evaluate → report
 */
import { Pipeline } from "pinkflow"
import { evaluate } from "../../stages/examples/evaluate.ts"
import { prepare } from "../../stages/examples/prepare.ts"
import { report } from "../../stages/examples/report.ts"
import { split } from "../../stages/examples/split.ts"
import { trainKnn } from "../../stages/examples/train-knn.ts"
import { trainLinear } from "../../stages/examples/train-linear.ts"

export default Pipeline.make({
  name: "diamond",
  stages: [prepare, split, trainLinear, trainKnn, evaluate, report]
})
