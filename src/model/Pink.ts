/**
 * The Pink model: ViT features (penultimate block) → linear projection → LM input at the image
 * slot; adapters in every used ViT block and every LM block; a masked next-token loss.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Config from "./Config.ts"
import type * as L from "./Layers.ts"
import * as Layers from "./Layers.ts"
import * as Lm from "./Lm.ts"
import * as Vit from "./Vit.ts"
import * as W from "./Weights.ts"

export interface Model {
  readonly config: Config.Config
  readonly vocab: number
  readonly weights: W.Weights
  /** Index of the first image token in every sequence (see Prompt.imageSlot). */
  readonly imageSlot: number
}

/** A fresh model: ViT, projection, LM and (optionally) adapters, from one seed. */
export const init = (config: Config.Config, vocab: number, imageSlot: number, seed: number, withAdapters = true): Model => {
  const weights: W.Weights = new Map()
  Vit.init(weights, seed, config, withAdapters)
  Layers.initLinear(weights, seed, "proj", config.vit.width, config.lm.width, { kind: "xavier" })
  Lm.init(weights, seed, config, vocab, withAdapters)
  return { config, vocab, weights, imageSlot }
}

export const hasAdapters = (m: Model): boolean => m.weights.has("lm/h0/adapter/down/w")

export interface RunOptions {
  readonly training: boolean
  /** Run the adapters (default: when the model has them). */
  readonly adapters?: boolean
  /** Dropout seed for this step. */
  readonly seed?: number
}

const adapterOptions = (m: Model, o: RunOptions): L.AdapterOptions | undefined =>
  (o.adapters ?? hasAdapters(m))
    ? { activation: m.config.adapter.activation, dropout: m.config.adapter.dropout, training: o.training, seed: o.seed ?? 0 }
    : undefined

/** Image tokens for the LM: images [B, S, S, 3] → [B, N, C_lm]. */
export const imageEmbeddings = (m: Model, images: tf.Tensor, o: RunOptions): tf.Tensor =>
  Layers.linear(m.weights, "proj", Vit.features(m.weights, m.config, images, adapterOptions(m, o))) // [B, N, C_lm]

/**
 * Input embeddings with the image slot filled and positions added: [B, T, C_lm]. `image` is either
 * images [B, S, S, 3] or image embeddings already computed [B, N, C_lm] (decoding reuses them).
 */
export const inputs = (
  m: Model,
  ids: tf.Tensor,
  image: { readonly images: tf.Tensor } | { readonly embeddings: tf.Tensor } | undefined,
  o: RunOptions,
  positions?: tf.Tensor
): tf.Tensor => {
  const [B, T] = ids.shape as [number, number]
  const text = Lm.tokens(m.weights, ids) // [B, T, C]
  let x = text
  if (image !== undefined) {
    const img = "embeddings" in image ? image.embeddings : imageEmbeddings(m, image.images, o) // [B, N, C]
    const N = img.shape[1]!
    const s = m.imageSlot
    x = tf.concat([tf.slice(text, [0, 0, 0], [B, s, -1]), img, tf.slice(text, [0, s + N, 0], [B, T - s - N, -1])], 1) // [B, T, C]
  }
  const pos = positions ?? tf.range(0, T, 1, "int32") // [T] or [B, T]
  return tf.add(x, Lm.positions(m.weights, pos)) // [B, T, C]
}

/** The LM's final hidden states for a batch: ids [B, T] (`<img>` at the slot when an image is given) → [B, T, C]. */
export const hidden = (m: Model, ids: tf.Tensor, image: { readonly images: tf.Tensor } | { readonly embeddings: tf.Tensor } | undefined, o: RunOptions): tf.Tensor => {
  const T = ids.shape[1]!
  const mask = Lm.causalMask(T) // [1, 1, T, T]
  return Lm.run(m.weights, m.config, inputs(m, ids, image, o), mask, adapterOptions(m, o)) // [B, T, C]
}

/** Logits for a batch: ids [B, T] (with `<img>` at the slot when `images` is given) → [B, T, V]. */
export const forward = (m: Model, ids: tf.Tensor, images: tf.Tensor | undefined, o: RunOptions): tf.Tensor =>
  Lm.logits(m.weights, hidden(m, ids, images && { images }, o)) // [B, T, V]

/**
 * `maskedLoss` with 0/1 weights, computing the head only where the weight is 1 (the answers):
 * hidden [B, T, C], targets and weights [B·T] on the CPU. Most positions of a Pink sequence are
 * image and prompt tokens, so this skips most of the head and its softmax.
 */
export const answerLoss = (m: Model, hidden: tf.Tensor, targets: Int32Array, weights: Float32Array): tf.Scalar => {
  const C = hidden.shape[2]!
  const rows = Int32Array.from(Array.from(weights).flatMap((w, i) => (w > 0 ? [i] : [])))
  if (rows.length === 0) return tf.mul(tf.sum(hidden), 0) as tf.Scalar
  const picked = tf.gather(tf.reshape(hidden, [-1, C]), tf.tensor1d(rows, "int32")) // [M, C]
  const logp = tf.logSoftmax(tf.matMul(picked, W.get(m.weights, "lm/head"), false, true), -1) // [M, V]
  const V = logp.shape[1]!
  const at = tf.tensor1d(Int32Array.from(rows, (r, i) => i * V + targets[r]!), "int32") // [M]
  return tf.neg(tf.mean(tf.gather(tf.reshape(logp, [-1]), at))) as tf.Scalar
}

/** Mean cross-entropy over positions with weight 1: logits [B, T, V], targets [B, T], weights [B, T]. */
export const maskedLoss = (logits: tf.Tensor, targets: tf.Tensor, weights: tf.Tensor): tf.Scalar => {
  const V = logits.shape[2]!
  const logp = tf.logSoftmax(logits, -1) // [B, T, V]
  const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.cast(targets, "int32"), V)), -1) // [B, T]
  const total = tf.maximum(tf.sum(weights), 1) // []
  return tf.div(tf.neg(tf.sum(tf.mul(picked, weights))), total) as tf.Scalar
}
