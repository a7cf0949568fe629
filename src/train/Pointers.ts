/**
 * The pointer guide of the LM's pretraining: an auxiliary loss on two heads' attention at the
 * positions that write a grounding answer's box. The first block's head 0 should read the
 * phrase's words (gather), and the second block's last head the cells of the object the phrase
 * means (point): the two hops of "find the described object, copy its box". Trained on the answers
 * alone, the LM learns the copy and never the choice (the LM study, pipelines/lm-study.ts); with
 * these two heads shown where to look, the choice follows. The targets come with each layout item
 * (Layouts.Pointer); the loss is −log of each head's share of attention on its targets.
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Config from "../model/Config.ts"
import * as L from "../model/Layers.ts"
import type * as Pink from "../model/Pink.ts"
import type * as Layouts from "./Layouts.ts"

/** The heads the guide teaches: the first block's head 0 gathers the phrase; the second block's last head (no ALiBi slope) points at the object. */
export const heads = (c: Config.Config) => ({ gather: { block: 0, head: 0 }, point: { block: 1, head: c.lm.heads - 1 } })

/** Pointers as dense targets for a batch of T positions: rows [B, T] (1 at a query) and keys [B, T, T] for the phrase and for the cells. */
export const targets = (pointers: ReadonlyArray<ReadonlyArray<Layouts.Pointer>>, T: number) => {
  const B = pointers.length
  const rows = new Float32Array(B * T)
  const phrase = new Float32Array(B * T * T)
  const cells = new Float32Array(B * T * T)
  pointers.forEach((ps, b) => {
    for (const p of ps) {
      for (const q of p.queries) {
        if (q >= T) continue
        rows[b * T + q] = 1
        for (const k of p.phrase) if (k <= q) phrase[(b * T + q) * T + k] = 1
        for (const k of p.cells) if (k <= q) cells[(b * T + q) * T + k] = 1
      }
    }
  })
  return { rows, phrase, cells }
}

/**
 * Head `head` of block `b`, entered with `x` [B, T, C] under its additive mask ([B or 1, H or 1,
 * T, T]): its attention share on `keys` [B, T, T] at every position → [B, T].
 */
export const share = (model: Pink.Model, b: number, head: number, x: tf.Tensor, mask: tf.Tensor, keys: tf.Tensor): tf.Tensor => {
  const { width: C, heads: H } = model.config.lm
  const D = C / H
  const T = x.shape[1]!
  const qkv = L.linear(model.weights, `lm/h${b}/attn/qkv`, L.layerNorm(model.weights, `lm/h${b}/ln1`, x)) // [B, T, 3C]
  const q = tf.slice(qkv, [0, 0, head * D], [-1, -1, D]) // [B, T, D]
  const k = tf.slice(qkv, [0, 0, C + head * D], [-1, -1, D]) // [B, T, D]
  const m = tf.reshape(tf.slice(mask, [0, mask.shape[1] === 1 ? 0 : head, 0, 0], [-1, 1, -1, -1]), [-1, T, T]) // [B or 1, T, T]
  const p = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D)), m), -1) // [B, T, T]
  return tf.sum(tf.mul(p, keys), -1) // [B, T]
}

/** −log of a head's share on `keys` at the rows marked 1, averaged over them. */
const shareLoss = (s: tf.Tensor, rows: tf.Tensor, count: number): tf.Scalar =>
  tf.div(tf.neg(tf.sum(tf.mul(rows, tf.log(tf.add(s, 1e-6))))), Math.max(1, count)) as tf.Scalar

/**
 * Both heads' shares for a batch whose blocks were entered with `entering` under `masks` (one
 * per block): the mean share at the queries (`gather`, `point`) and the loss, the sum of both heads'
 * −log shares.
 */
export const guide = (model: Pink.Model, entering: ReadonlyArray<tf.Tensor>, masks: ReadonlyArray<tf.Tensor>, pointers: ReadonlyArray<ReadonlyArray<Layouts.Pointer>>) => {
  const B = pointers.length
  const T = entering[0]!.shape[1]!
  const t = targets(pointers, T)
  const count = t.rows.reduce((n, x) => n + x, 0)
  const rows = tf.tensor2d(t.rows, [B, T])
  const h = heads(model.config)
  const gather = share(model, h.gather.block, h.gather.head, entering[h.gather.block]!, masks[h.gather.block]!, tf.tensor3d(t.phrase, [B, T, T]))
  const point = share(model, h.point.block, h.point.head, entering[h.point.block]!, masks[h.point.block]!, tf.tensor3d(t.cells, [B, T, T]))
  const mean = (s: tf.Tensor) => tf.div(tf.sum(tf.mul(rows, s)), Math.max(1, count)) as tf.Scalar
  return { loss: tf.add(shareLoss(gather, rows, count), shareLoss(point, rows, count)) as tf.Scalar, gather: mean(gather), point: mean(point), count }
}
