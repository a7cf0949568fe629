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
 * The pull of the projection toward where the stage started (L2-SP): `weight` × ‖P − P₀‖² / ‖P₀‖²
 * over the projection's weights, so the projection still trains but pays for leaving the map the
 * stage was given. Returns the term and, apart, how far it has gone (‖P − P₀‖ / ‖P₀‖).
 */
export const projectionAnchor = (model: Pink.Model) => {
  const names = [...model.weights.keys()].filter((n) => n.startsWith("proj/"))
  const start = new Map(names.map((n) => [n, tf.keep(W.get(model.weights, n).clone())]))
  const scale = tf.tidy(() => tf.addN(names.map((n) => tf.sum(tf.square(start.get(n)!)))).dataSync()[0]!)
  const distance = () => tf.tidy(() => tf.addN(names.map((n) => tf.sum(tf.square(tf.sub(W.get(model.weights, n), start.get(n)!))))).div(scale))
  return {
    loss: (weight: number): tf.Scalar => tf.mul(distance(), weight) as tf.Scalar,
    drift: (): number => Math.sqrt(tf.tidy(() => distance().dataSync()[0]!)),
    dispose: () => tf.dispose([...start.values()])
  }
}

/**
 * A training stage: stage 1 (`projectionOnly` on captions) or stage 2 (`adaptersAndProjection` on
 * the instruction mix). `adapters: false` builds the model without adapters (the projection-only
 * ablation of stage 2). `anchor` > 0 adds `projectionAnchor`'s term at that weight; the projection's
 * drift from its start is logged and returned either way. `vitAdapters: false` keeps the ViT's
 * adapters at their start (the identity), so only the LM's train.
 */
export const trainStage = async (
  init: Init,
  sources: ReadonlyArray<{ readonly dir: string; readonly file: string }>,
  policyName: Freeze.Name,
  adapters: boolean,
  out: string,
  o: TrainOptions,
  { anchor = 0, vitAdapters = true }: { readonly anchor?: number; readonly vitAdapters?: boolean } = {}
) => {
  const backend = await started(o.log)
  const { model, tok } = await initModel(init, adapters, o)
  const c = model.config
  const set = Data.load(sources, tok, c)
  o.log(`${set.items.length} training samples${set.tooLong > 0 ? ` (${set.tooLong} longer than the context left out)` : ""}`)
  const full = Freeze.policy(policyName, model, tok)
  // Freeze's own adapter test is not exported, and exporting it would move both towers' code keys.
  const policy = vitAdapters ? full : { ...full, trainable: full.trainable.filter((n) => !(n.startsWith("vit/") && n.includes("/adapter/"))) }
  const counts = Freeze.counts(model, policy)
  o.log(`training ${counts.trainable} of ${counts.total} parameters (${(counts.fraction * 100).toFixed(2)} %)`)
  const projection = projectionAnchor(model)
  const avgTokens = o.batchSize * Math.min(c.lm.maxLen, set.items.reduce((n, i) => n + i.example.ids.length, 0) / Math.max(1, set.items.length))
  const r = await Loop.train(model.weights, policy, (step, seed) => {
    const b = Data.batch(set, c, o.batchSize, o.seed, step)
    tf.dispose([b.targets, b.weights])
    const answers = Pink.answerLoss(model, Pink.hidden(model, b.ids, { images: b.images }, { training: true, seed }), b.targetIds, b.weightValues)
    return anchor > 0 ? tf.add(answers, projection.loss(anchor)) : answers
  }, loopOptions(o, avgTokens))
  const drift = projection.drift()
  o.log(`the projection moved ${(100 * drift).toFixed(1)} % from where the stage started (‖P − P₀‖ / ‖P₀‖${anchor > 0 ? `, anchored at weight ${anchor}` : ""})`)
  projection.dispose()
  await Checkpoint.save(out, model, tok, { stage: policyName })
  W.dispose(model.weights)
  return { losses: thin(r.losses), projectionDrift: drift, trainable: counts.trainable, total: counts.total, samples: set.items.length, backend: backend.name, matmul: backend.matmul }
}
