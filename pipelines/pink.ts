/**
 * The Pink recipe (CVPR 2024) in miniature, the main job (`npm start`), in the order of the paper:
 * data build, the tokenizer, pretraining of the frozen ViT and LM, stage 1 (projection), stage 2
 * (adapters + projection + delimiter rows), self-consistent bootstrapping and Pink*, the ablations
 * behind the paper's three claims (projection only, general data only, no bootstrapping),
 * evaluation and the report. Each file of stages/pink/ is one stage family.
 */
import { Pipeline } from "pinkflow"
import * as Ablations from "../stages/pink/ablations.ts"
import * as Bootstrap from "../stages/pink/bootstrap.ts"
import * as Data from "../stages/pink/data.ts"
import * as Evaluate from "../stages/pink/evaluate.ts"
import { report } from "../stages/pink/report.ts"
import { stage1 } from "../stages/pink/stage1.ts"
import { pink } from "../stages/pink/stage2.ts"
import { tokenizer } from "../stages/pink/tokenizer.ts"
import * as Towers from "../stages/pink/towers.ts"

export default Pipeline.make({
  name: "pink",
  stages: [
    ...Data.all,
    tokenizer,
    Towers.pretrainVision,
    Towers.pretrainLm,
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
  ]
})
