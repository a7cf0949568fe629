/**
 * The foundation's vision tower, the miniature's CLIP (pipelines/foundation.ts): the ViT trained
 * at patch level on generated scenes, so its frozen features say what is where.
 */
import * as Checkpoint from "../model/Checkpoint.ts"
import * as Config from "../model/Config.ts"
import * as Pink from "../model/Pink.ts"
import * as Prompt from "../model/Prompt.ts"
import * as Tok from "../model/Tokenizer.ts"
import * as W from "../model/Weights.ts"
import * as Pretrain from "./Pretrain.ts"
import { pretrainOptions, started, thin, type TrainOptions } from "./Session.ts"

/**
 * The foundation's vision tower: patch-level pretraining of the ViT (Pretrain.vitDense) on
 * `scenes` generated scenes of `sceneSeed` with 1–6 objects; only the ViT is saved.
 */
export const visionTower = async (out: string, o: TrainOptions, data: { readonly sceneSeed: number; readonly scenes: number }) => {
  const backend = await started(o.log)
  const c = Config.presets[o.preset]
  const tok = Tok.fromCorpus([])
  const model = Pink.init(c, tok.size, Prompt.imageSlot(tok), o.seed, false)
  const items = Pretrain.denseItems(c, data.sceneSeed, data.scenes, 1)
  o.log(`${items.length} scenes at ${c.vit.imageSize} px`)
  const r = await Pretrain.vitDense(model, items, pretrainOptions(o))
  await Checkpoint.saveParts(out, model, tok, ["vit/"], { stage: "vision-tower" })
  W.dispose(model.weights)
  return { losses: thin(r.losses), backend: backend.name }
}
