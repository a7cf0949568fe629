/**
 * The recipe's two training stages as a library function the stages call: stage 1
 * (`projectionOnly` on captions) and stage 2 (`adaptersAndProjection` on the instruction mix, and
 * its ablations). It reads and writes plain directories.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Checkpoint from "../model/Checkpoint.ts"
import * as Config from "../model/Config.ts"
import * as Freeze from "../model/Freeze.ts"
import * as Pink from "../model/Pink.ts"
import * as Prompt from "../model/Prompt.ts"
import * as Tok from "../model/Tokenizer.ts"
import * as W from "../model/Weights.ts"
import * as Data from "./Data.ts"
import * as Loop from "./Loop.ts"
import { loopOptions, started, thin, type TrainOptions } from "./Session.ts"

export type Init =
  | { readonly from: "pretrained"; readonly vision: string; readonly lm: string; readonly vocab: ReadonlyArray<string> }
  | { readonly from: "model"; readonly dir: string }

/** The model a training stage starts from: fresh with the pretrained towers loaded, or a saved model (adapters dropped when `adapters` is off). */
export const initModel = async (init: Init, adapters: boolean, o: Pick<TrainOptions, "preset" | "seed">): Promise<{ readonly model: Pink.Model; readonly tok: Tok.Tokenizer }> => {
  if (init.from === "pretrained") {
    const tok = Tok.fromVocab(init.vocab)
    const model = Pink.init(Config.presets[o.preset], tok.size, Prompt.imageSlot(tok), o.seed, adapters)
    await Checkpoint.loadParts(model, init.vision, ["vit/"])
    await Checkpoint.loadParts(model, init.lm, ["lm/"])
    return { model, tok }
  }
  const { model, tokenizer: tok } = await Checkpoint.load(init.dir)
  if (!adapters && Pink.hasAdapters(model)) {
    for (const n of [...model.weights.keys()].filter((n) => n.includes("/adapter/"))) {
      model.weights.get(n)!.dispose()
      model.weights.delete(n)
    }
  }
  return { model, tok }
}

/**
 * A training stage: stage 1 (`projectionOnly` on captions) or stage 2 (`adaptersAndProjection` on
 * the instruction mix). `adapters: false` builds the model without adapters (the projection-only
 * ablation of stage 2).
 */
export const trainStage = async (init: Init, sources: ReadonlyArray<{ readonly dir: string; readonly file: string }>, policyName: Freeze.Name, adapters: boolean, out: string, o: TrainOptions) => {
  const backend = await started(o.log)
  const { model, tok } = await initModel(init, adapters, o)
  const c = model.config
  const set = Data.load(sources, tok, c)
  o.log(`${set.items.length} training samples${set.tooLong > 0 ? ` (${set.tooLong} longer than the context left out)` : ""}`)
  const policy = Freeze.policy(policyName, model, tok)
  const counts = Freeze.counts(model, policy)
  o.log(`training ${counts.trainable} of ${counts.total} parameters (${(counts.fraction * 100).toFixed(2)} %)`)
  const avgTokens = o.batchSize * Math.min(c.lm.maxLen, set.items.reduce((n, i) => n + i.example.ids.length, 0) / Math.max(1, set.items.length))
  const r = await Loop.train(model.weights, policy, (step, seed) => {
    const b = Data.batch(set, c, o.batchSize, o.seed, step)
    tf.dispose([b.targets, b.weights])
    return Pink.answerLoss(model, Pink.hidden(model, b.ids, { images: b.images }, { training: true, seed }), b.targetIds, b.weightValues)
  }, loopOptions(o, avgTokens))
  await Checkpoint.save(out, model, tok, { stage: policyName })
  W.dispose(model.weights)
  return { losses: thin(r.losses), trainable: counts.trainable, total: counts.total, samples: set.items.length, backend: backend.name, matmul: backend.matmul }
}
