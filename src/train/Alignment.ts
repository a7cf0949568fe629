/**
 * Stage 1 aligned to the LM's scene layouts (the foundation's towers): the projection alone
 * trains, so that the ViT's patches, projected, read to the frozen LM like the layout it was
 * pretrained on (Layouts.ts). Two terms over freshly generated scenes (their own seed; no
 * evaluation split): each patch's projected feature against its cell's bag of word and box
 * embeddings (squared error relative to the bags' energy), and the LM's answer loss on the layout
 * questions asked about the image instead of its layout — what the LM learned to answer from the
 * text, it should answer from the picture.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Layout from "../data/Layout.ts"
import * as Random from "../data/Random.ts"
import * as Raster from "../data/Raster.ts"
import * as Scene from "../data/Scene.ts"
import * as Checkpoint from "../model/Checkpoint.ts"
import * as Config from "../model/Config.ts"
import * as Freeze from "../model/Freeze.ts"
import * as Pink from "../model/Pink.ts"
import type * as Tok from "../model/Tokenizer.ts"
import * as W from "../model/Weights.ts"
import * as Layouts from "./Layouts.ts"
import * as Loop from "./Loop.ts"
import * as Pretrain from "./Pretrain.ts"
import { type Init, initModel } from "./Recipe.ts"
import { loopOptions, started, thin, type TrainOptions } from "./Session.ts"

export interface Item {
  /** [S, S, 3] in [0, 1], row-major. */
  readonly image: Float32Array
  readonly layout: Layouts.Item
}

export interface Data {
  readonly sceneSeed: number
  readonly scenes: number
  readonly turns: number
  /** Weight of the projected-feature term beside the answer loss. */
  readonly alignWeight: number
}

/** Scenes of `seed` (3–6 objects, as the recipe's data) with their images and layout questions. */
export const items = (tok: Tok.Tokenizer, c: Config.Config, o: { readonly seed: number; readonly scenes: number; readonly turns: number }): Array<Item> =>
  Array.from({ length: o.scenes }, (_, i) => {
    const { scene, image } = Scene.generate(i, { seed: o.seed, minObjects: 3, maxObjects: 6 })
    const turns = Layout.questions(scene, o.turns, Random.rng(Random.derive(o.seed, 22, i)))
    return { image: Raster.toInput(image, c.vit.imageSize), layout: Layouts.item(tok, c, scene, turns) }
  })

/** Squared error of projected patches against the layout's bags, relative to the bags' energy: [B, N, C] each. */
export const relativeError = (projected: tf.Tensor, bags: tf.Tensor): tf.Scalar =>
  tf.div(tf.sum(tf.squaredDifference(projected, bags)), tf.maximum(tf.sum(tf.square(bags)), 1e-6)) as tf.Scalar

/** The two terms for a batch of items: the answer loss with the image in place of the layout, and the relative error. */
export const losses = (model: Pink.Model, chosen: ReadonlyArray<Item>, seed: number) => {
  const c = model.config
  const S = c.vit.imageSize
  const N = Config.imageTokens(c)
  const b = Layouts.batch(model, chosen.map((i) => i.layout))
  const pixels = new Float32Array(chosen.length * S * S * 3)
  chosen.forEach((i, k) => pixels.set(i.image, k * S * S * 3))
  const projected = Pink.imageEmbeddings(model, tf.tensor4d(pixels, [chosen.length, S, S, 3]), { training: true, seed }) // [B, N, C]
  const bags = Layouts.embed(model.weights, b.cells, b.cellMask, N) // [B, N, C]
  const hidden = Pink.hidden(model, b.ids, { embeddings: projected }, { training: true, seed }) // [B, T, C]
  return { answer: Pink.answerLoss(model, hidden, b.targets, b.weights), error: relativeError(projected, bags) }
}

/** Stage 1 on layouts: trains the projection only (the `projectionOnly` policy) and saves the whole model. */
export const alignStage = async (init: Init, data: Data, out: string, o: TrainOptions) => {
  const backend = await started(o.log)
  const { model, tok } = await initModel(init, true, o)
  const c = model.config
  const set = items(tok, c, { seed: data.sceneSeed, scenes: data.scenes, turns: data.turns })
  const policy = Freeze.policy("projectionOnly", model, tok)
  const counts = Freeze.counts(model, policy)
  o.log(`${set.length} scenes with layout questions; training ${counts.trainable} of ${counts.total} parameters (${(counts.fraction * 100).toFixed(2)} %)`)
  const meanLength = set.reduce((n, i) => n + i.layout.ids.length, 0) / Math.max(1, set.length)
  const r = await Loop.train(model.weights, policy, (step, seed) => {
    const l = losses(model, Pretrain.sampleIndices(set.length, o.batchSize, o.seed, step).map((i) => set[i]!), seed)
    return tf.add(l.answer, tf.mul(l.error, data.alignWeight)) as tf.Scalar
  }, loopOptions(o, Math.round(o.batchSize * meanLength)))
  // The two terms at the end, on up to 64 of the training scenes.
  const last = tf.tidy(() => {
    const l = losses(model, Pretrain.sampleIndices(set.length, Math.min(64, set.length), o.seed + 1, 0).map((i) => set[i]!), 0)
    return [l.answer.dataSync()[0]!, l.error.dataSync()[0]!] as const
  })
  o.log(`answer loss ${last[0].toFixed(3)}, relative error of the projected patches ${last[1].toFixed(3)}`)
  await Checkpoint.save(out, model, tok, { stage: "projectionOnly" })
  W.dispose(model.weights)
  return { losses: thin(r.losses), answerLoss: last[0], relativeError: last[1], trainable: counts.trainable, total: counts.total, samples: set.length, backend: backend.name, matmul: backend.matmul }
}
