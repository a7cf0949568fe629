/**
 * The REC study: the Pink recipe (stage 1, stage 2, evaluation) over the foundation's towers
 * (pipelines/foundation.ts), on the main pipeline's data. Its sweep compares what stage 1 aligns
 * the projection on — the paper's captions, or the scene layouts the LM tower was pretrained on
 * (src/train/Alignment.ts); every point shares the data stages and both towers, and each row of
 * `pinkflow compare` is reproduced by `pinkflow run pipelines/rec-study.ts --set <its point>`.
 *
 * The gates are reported, not enforced: the study measures what REC a tower of a given quality
 * gives, including towers below their gate (`requireGates: false`).
 */
import { Input, Pipeline } from "pinkflow"
import foundation from "./foundation.ts"
import { DATA, STAGE2_SETTINGS } from "./pink.ts"
import * as Foundation from "../stages/foundation/gates.ts"
import { lmCoordinates, visionTower } from "../stages/foundation/towers.ts"
import { vocabulary } from "../stages/foundation/vocabulary.ts"
import * as Data from "../stages/pink/data.ts"
import { evaluate } from "../stages/pink/evaluate.ts"
import { stage1From } from "../stages/pink/stage1.ts"
import { stage2 } from "../stages/pink/stage2.ts"

const stage1 = stage1From("study-stage1", {
  vocab: Input.json(vocabulary.out.vocab),
  vision: Input.model(visionTower.out.model),
  lm: Input.model(lmCoordinates.out.model),
  gates: { vision: Input.json(Foundation.visionGate.out.metrics), lm: Input.json(Foundation.lmGate.out.metrics), alignment: Input.json(Foundation.alignmentGate.out.metrics) }
}, { preset: "hires" })

const pink = stage2("study-stage2", "Stage 2 (Pink) over the foundation's towers", { instructions: Input.directory(Data.instructions.out.train) }, true, { init: Input.model(stage1.out.model), preset: "hires" })

const evaluation = evaluate("study-evaluate", Input.model(pink.out.model))
/** Stage 1's model evaluated as it is: how much of REC the aligned projection alone gives. */
const evaluationStage1 = evaluate("study-evaluate-stage1", Input.model(stage1.out.model))

export default Pipeline.make({
  name: "rec-study",
  stages: [Data.scenes, Data.generalData, Data.instructions, Data.captions, Data.evalData, ...Foundation.all, stage1, pink, evaluation, evaluationStage1],
  params: {
    ...foundation.params,
    ...DATA,
    "study-stage1": { requireGates: false },
    "study-stage2": STAGE2_SETTINGS,
    "study-evaluate": { limit: 200 },
    "study-evaluate-stage1": { limit: 200 }
  },
  sweep: { "study-stage1.objective": ["captions", "layouts"] }
})
