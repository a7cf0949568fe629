/**
 * The LM tower's second phase (pipelines/foundation.ts, `lm-coordinates`): the embedding rows of
 * the coordinate tokens are set back to their structured code (`Lm.initCoordinateRows`: a role
 * code and the bin's value as cos/sin) and held there, while the rest of the LM goes on with the
 * same layout pretraining and learns to read them. Over the first phase the rows drift, free,
 * into a code the ViT's frozen features cannot give linearly: fitted by least squares from the
 * patch features, the box part of a layout cell keeps a relative error of 0.34 in the learned
 * rows and 0.09 in the structured code, whose boxes then decode at IoU > 0.5 for 99 % of
 * held-out objects (the alignment gate's `boxesFromImages` measures what the LM makes of it).
 * The head's rows keep what the first phase learned: they write, they are not read from a cell.
 */
import type * as Layout from "../data/Layout.ts"
import * as Checkpoint from "../model/Checkpoint.ts"
import * as Config from "../model/Config.ts"
import * as Freeze from "../model/Freeze.ts"
import * as Lm from "../model/Lm.ts"
import * as Tok from "../model/Tokenizer.ts"
import * as W from "../model/Weights.ts"
import * as Gates from "../eval/Gates.ts"
import * as Layouts from "./Layouts.ts"
import * as Loop from "./Loop.ts"
import * as Pretrain from "./Pretrain.ts"
import { checkpointEvery, loopOptions, started, thin, type TrainOptions } from "./Session.ts"

/** Sets the embedding's coordinate rows to their structured code, leaving the head as it is; returns the rows set. */
export const resetRows = (w: W.Weights, tok: Tok.Tokenizer): ReadonlyArray<number> => {
  const head = W.get(w, "lm/head").clone()
  Lm.initCoordinateRows(w, tok.vocab)
  W.get(w, "lm/head").assign(head)
  head.dispose()
  return tok.vocab.flatMap((t, i) => (Tok.binOf(t) === undefined ? [] : [i]))
}

/** The LM's policy with the embedding's `held` rows kept bit for bit. */
export const holding = (policy: Freeze.Policy, vocabSize: number, held: ReadonlyArray<number>): Freeze.Policy => {
  const keep = new Set(held)
  return { ...policy, rows: new Map([...policy.rows, ["lm/wte", Array.from({ length: vocabSize }, (_, i) => i).filter((i) => !keep.has(i))]]) }
}

/**
 * The second phase over the LM tower in `lmDir`: rows reset and held, then `steps` of layout
 * pretraining (the first phase's loss and pointer guide, `Pretrain.layoutLoss`) on fresh
 * layouts of `sceneSeed`, scored at each checkpoint by the LM gate's measure; only the LM is saved.
 */
export const coordinatePhase = async (
  lmDir: string,
  out: string,
  o: TrainOptions,
  data: { readonly sceneSeed: number; readonly scenes: number; readonly turns: number; readonly heldOutSeed: number; readonly heldOutScenes: number; readonly loss: Layouts.Loss; readonly guide: number; readonly questions: Layout.Questions }
) => {
  const backend = await started(o.log)
  const { model, tokenizer: tok } = await Checkpoint.loadTower(lmDir)
  const c = model.config
  const held = resetRows(model.weights, tok)
  o.log(`${held.length} coordinate rows set to their structured code and held; ${data.scenes} layouts made as they are read (${data.questions})`)
  const source = { seed: data.sceneSeed, turns: data.turns, questions: data.questions }
  const at = (i: number) => Layouts.itemAt(tok, c, source, i % data.scenes)
  const heldOut = { seed: data.heldOutSeed, scenes: data.heldOutScenes, batchSize: 32 }
  const evaluate = { every: checkpointEvery(o), run: async (step: number) => {
    const g = await Gates.lmGrounding(model, tok, heldOut)
    o.log(`step ${step}: held-out grounding ${(100 * g.accuracy).toFixed(1)} % of ${g.n}`)
    return { grounding: g.accuracy, ...g.byForm }
  } }
  const N = Config.imageTokens(c)
  const tokens = o.batchSize * Math.round(Array.from({ length: 64 }, (_, i) => at(i).ids.length).reduce((a, b) => a + b, 0) / 64)
  const policy = holding(Freeze.policy("lm", model), tok.size, held)
  const r = await Loop.train(model.weights, policy, (step) => {
    const items = Array.from({ length: o.batchSize }, (_, k) => at(step * o.batchSize + k))
    return Pretrain.layoutLoss(model, items.map((it) => Layouts.withLoss(it, data.loss, model.imageSlot + N + 1)), data.guide)
  }, { ...loopOptions(o, tokens), evaluate })
  await Checkpoint.saveParts(out, model, tok, ["lm/"], { stage: "lm-coordinates" })
  W.dispose(model.weights)
  return { losses: thin(r.losses), heldOut: r.evaluations, backend: backend.name, heldRows: held.length }
}
