/**
 * The Pink recipe (CVPR 2024) in miniature, the main job (`npm start`): data build, pretraining of
 * the frozen ViT and LM, stage 1 (projection), stage 2 (adapters + projection + delimiter rows),
 * self-consistent bootstrapping and Pink*, the ablations behind the paper's three claims
 * (projection only, general data only, no bootstrapping), evaluation and the report.
 */
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Data from "../stages/pink/data.ts"
import * as Model from "../stages/pink/model.ts"

export default Pipeline.make({ name: "pink", stages: [...Data.all, ...Model.all] })
