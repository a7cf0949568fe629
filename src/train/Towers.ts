/**
 * Pretraining of the two towers Pink keeps frozen (CLIP and Llama in the paper, which cannot be
 * downloaded here), trained inside the Pink pipeline on its own data: CLIP-style contrastive
 * pretraining of the ViT on the caption pairs, and next-token pretraining of the LM on the data's
 * text. The foundation's towers are VisionTower.ts and LmTower.ts.
 */
import * as path from "node:path"
import * as Build from "../data/Build.ts"
import * as RcTasks from "../data/RcTasks.ts"
import * as Checkpoint from "../model/Checkpoint.ts"
import * as Config from "../model/Config.ts"
import * as Pink from "../model/Pink.ts"
import * as Prompt from "../model/Prompt.ts"
import * as Tok from "../model/Tokenizer.ts"
import * as W from "../model/Weights.ts"
import * as Data from "./Data.ts"
import * as Pretrain from "./Pretrain.ts"
import { bar, started, thin, type TrainOptions } from "./Session.ts"

/** CLIP-style pretraining of the ViT on the caption pairs. */
export const pretrainVision = async (vocab: ReadonlyArray<string>, captionsDir: string, out: string, o: TrainOptions) => {
  const backend = await started(o.log)
  const tok = Tok.fromVocab(vocab)
  const c = Config.presets[o.preset]
  const model = Pink.init(c, tok.size, Prompt.imageSlot(tok), o.seed, false)
  const records = Build.readJsonl<Build.Record>(path.join(captionsDir, "train.jsonl"))
  const pixels = Data.pixelLoader(c)
  const pairs = records.map((r) => ({ image: pixels(path.join(captionsDir, r.image)), caption: r.answer }))
  const r = await Pretrain.vit(model, tok, pairs, { steps: o.steps, batchSize: o.batchSize, lr: o.lr, seed: o.seed, weightDecay: o.weightDecay, warmupFraction: o.warmup, checkpointDir: o.checkpointDir, checkpointEvery: Math.max(50, Math.round(o.steps / 5)), onProgress: (p) => o.log(bar(p)) })
  await Checkpoint.save(out, model, tok, { stage: "pretrain-vision" })
  W.dispose(model.weights)
  return { losses: thin(r.losses), backend: backend.name, matmul: backend.matmul }
}

/** The LM's pretraining text for instruction records: one user–assistant exchange each, markers removed (the LM never sees them). */
export const lmTexts = (records: ReadonlyArray<Build.Record>): Array<string> =>
  records.map((r) => `User: ${RcTasks.withoutMarkers(r.instruction)}\nAssistant: ${r.answer}`)

/** Next-token pretraining of the LM on the data's text (`lmTexts`). */
export const pretrainLm = async (vocab: ReadonlyArray<string>, sources: ReadonlyArray<{ readonly dir: string; readonly file: string }>, out: string, o: TrainOptions) => {
  const backend = await started(o.log)
  const tok = Tok.fromVocab(vocab)
  const c = Config.presets[o.preset]
  const model = Pink.init(c, tok.size, Prompt.imageSlot(tok), o.seed, false)
  const texts = sources.flatMap(({ dir, file }) => lmTexts(Build.readJsonl<Build.Record>(path.join(dir, file))))
  const r = await Pretrain.lm(model, tok, texts, { steps: o.steps, batchSize: o.batchSize, lr: o.lr, seed: o.seed, weightDecay: o.weightDecay, warmupFraction: o.warmup, checkpointDir: o.checkpointDir, checkpointEvery: Math.max(50, Math.round(o.steps / 5)), onProgress: (p) => o.log(bar(p)) })
  await Checkpoint.save(out, model, tok, { stage: "pretrain-lm" })
  W.dispose(model.weights)
  return { losses: thin(r.losses), backend: backend.name, matmul: backend.matmul }
}

