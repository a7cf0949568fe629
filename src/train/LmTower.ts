/**
 * The foundation's LM, the miniature's Llama (pipelines/foundation.ts): pretrained on scene
 * layouts written as text, so it reads and writes boxes and finds which described object a phrase
 * means. It never sees an image.
 */
import * as Checkpoint from "../model/Checkpoint.ts"
import * as Config from "../model/Config.ts"
import * as Lm from "../model/Lm.ts"
import * as Pink from "../model/Pink.ts"
import * as Prompt from "../model/Prompt.ts"
import * as Tok from "../model/Tokenizer.ts"
import * as W from "../model/Weights.ts"
import * as Layouts from "./Layouts.ts"
import * as Pretrain from "./Pretrain.ts"
import { pretrainOptions, started, thin, type TrainOptions } from "./Session.ts"

/**
 * The foundation's LM: pretraining on scene layouts (Pretrain.lmLayouts) of `scenes` generated
 * scenes of `sceneSeed`, `turns` questions each; only the LM is saved, with the vocabulary.
 */
export const lmTower = async (vocab: ReadonlyArray<string>, out: string, o: TrainOptions, data: { readonly sceneSeed: number; readonly scenes: number; readonly turns: number }) => {
  const backend = await started(o.log)
  const tok = Tok.fromVocab(vocab)
  const c = Config.presets[o.preset]
  const model = Pink.init(c, tok.size, Prompt.imageSlot(tok), o.seed, false)
  if (tok.coordinates === "bins") Lm.initCoordinateRows(model.weights, tok.vocab)
  const items = Layouts.items(tok, c, { seed: data.sceneSeed, scenes: data.scenes, turns: data.turns })
  o.log(`${items.length} layouts, ${data.turns} questions each`)
  const r = await Pretrain.lmLayouts(model, items, pretrainOptions(o))
  await Checkpoint.saveParts(out, model, tok, ["lm/"], { stage: "lm-tower" })
  W.dispose(model.weights)
  return { losses: thin(r.losses), backend: backend.name }
}
