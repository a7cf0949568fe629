/**
 * The Pink recipe (CVPR 2024) in miniature, the main job (`npm start`), in the order of the paper:
 * data build; the frozen towers and their vocabulary, the miniature's CLIP and Llama, from the
 * foundation (pipelines/foundation.ts; shipped as the export in towers/, which
 * pinkflow.config.json names as a substitute, the way Pink downloads its towers); stage 1
 * (projection); stage 2 (adapters + projection + delimiter rows), self-consistent bootstrapping and
 * Pink*, the ablations behind the paper's three claims (projection only, general data only, no
 * bootstrapping), evaluation and the report. Each file of stages/pink/ is one stage family.
 */
import { Pipeline } from "pinkflow"
import * as Foundation from "../stages/foundation/gates.ts"
import foundation from "./foundation.ts"
import * as Ablations from "../stages/pink/ablations.ts"
import * as Bootstrap from "../stages/pink/bootstrap.ts"
import * as Data from "../stages/pink/data.ts"
import * as Evaluate from "../stages/pink/evaluate.ts"
import { report } from "../stages/pink/report.ts"
import { stage1 } from "../stages/pink/stage1.ts"
import { pink } from "../stages/pink/stage2.ts"

export default Pipeline.make({
  name: "pink",
  stages: [
    ...Data.all,
    ...Foundation.all,
    stage1,
    pink,
    Bootstrap.bootstrapGenerate,
    Bootstrap.bootstrapFilter,
    Bootstrap.pinkStar,
    Evaluate.evaluatePink,
    Evaluate.evaluatePinkStar,
    Ablations.instructionsGeneralOnly,
    Ablations.projectionOnly,
    Ablations.generalOnly,
    Evaluate.evaluateProjectionOnly,
    Evaluate.evaluateGeneralOnly,
    report
  ],
  params: {
    ...foundation.params,
    // The shipped towers are below their gates (README, "The foundation"): the recipe runs on them
    // anyway, and the gates' numbers are in stage 1's log and the foundation's metrics.
    stage1: { requireGates: false }
  }
})
