/**
 * The foundation's LM, the miniature's Llama (pipelines/foundation.ts): pretrained on scene
 * layouts written as text, so it reads and writes boxes and finds which described object a phrase
 * means. It never sees an image.
 */
import type * as Layout from "../data/Layout.ts"
import * as Checkpoint from "../model/Checkpoint.ts"
import * as Config from "../model/Config.ts"
import * as Lm from "../model/Lm.ts"
import * as Pink from "../model/Pink.ts"
import * as Prompt from "../model/Prompt.ts"
import * as Tok from "../model/Tokenizer.ts"
import * as W from "../model/Weights.ts"
import * as Gates from "../eval/Gates.ts"
import * as Layouts from "./Layouts.ts"
import * as Pretrain from "./Pretrain.ts"
import { checkpointEvery, pretrainOptions, started, thin, type TrainOptions } from "./Session.ts"

/**
 * The foundation's LM: pretraining on scene layouts (Pretrain.lmLayouts) of `scenes` generated
 * scenes of `sceneSeed`, `turns` questions of `questions` each (Layout.Questions), each made when the training reads it (so a
 * fresh layout every sequence costs no memory), the next-token loss on `loss` plus the pointer
 * guide weighted `guide`; only the LM is saved, with the vocabulary. At each
 * checkpoint it is scored by the LM gate's measure on `heldOutScenes` scenes of `heldOutSeed`, so
 * its curve says what held-out grounding it reached against steps.
 */
export const lmTower = async (
  vocab: ReadonlyArray<string>,
  out: string,
  o: TrainOptions,
  data: { readonly sceneSeed: number; readonly scenes: number; readonly turns: number; readonly heldOutSeed: number; readonly heldOutScenes: number; readonly loss: Layouts.Loss; readonly guide: number; readonly questions: Layout.Questions }
) => {
  const backend = await started(o.log)
  const tok = Tok.fromVocab(vocab)
  const c = Config.presets[o.preset]
  const model = Pink.init(c, tok.size, Prompt.imageSlot(tok), o.seed, false)
  if (tok.coordinates === "bins") Lm.initCoordinateRows(model.weights, tok.vocab)
  const source = { seed: data.sceneSeed, turns: data.turns, questions: data.questions }
  o.log(`${data.scenes} layouts made as they are read, up to ${data.turns} questions each (${data.questions})`)
  const heldOut = { seed: data.heldOutSeed, scenes: data.heldOutScenes, batchSize: 32 }
  const evaluate = { every: checkpointEvery(o), run: async (step: number) => {
    const g = await Gates.lmGrounding(model, tok, heldOut)
    o.log(`step ${step}: held-out grounding ${(100 * g.accuracy).toFixed(1)} % of ${g.n}`)
    return { grounding: g.accuracy, ...g.byForm }
  } }
  const r = await Pretrain.lmLayouts(model, { scenes: data.scenes, at: (i) => Layouts.itemAt(tok, c, source, i) }, { ...pretrainOptions(o), evaluate, loss: data.loss, guide: data.guide })
  await Checkpoint.saveParts(out, model, tok, ["lm/"], { stage: "lm-tower" })
  W.dispose(model.weights)
  return { losses: thin(r.losses), heldOut: r.evaluations, backend: backend.name }
}
