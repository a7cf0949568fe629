/**
 * The building blocks shared by the ViT and the LM: linear, layer norm, MLP, Pink's bottleneck
 * adapter, and multi-head attention with an optional key/value cache. Every function takes the
 * weights and a name prefix; shapes are in the comments (B batch, T tokens, C width, H heads,
 * D head width, R adapter rank).
 *
 * Attention reshapes stay 4-D (rank-5 transposes are slow on wasm) and masks are additive
 * constants built outside the gradient tape.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Fused from "./Fused.ts"
import * as W from "./Weights.ts"

export const linear = (w: W.Weights, name: string, x: tf.Tensor): tf.Tensor => {
  const weight = W.get(w, `${name}/w`) // [Cin, Cout]
  const bias = W.get(w, `${name}/b`) // [Cout]
  const shape = x.shape
  const flat = tf.reshape(x, [-1, shape[shape.length - 1]!]) // [N, Cin]
  const y = tf.add(tf.matMul(flat, weight), bias) // [N, Cout]
  return tf.reshape(y, [...shape.slice(0, -1), weight.shape[1]!]) // [..., Cout]
}

export const initLinear = (w: W.Weights, seed: number, name: string, cin: number, cout: number, init: W.Init = { kind: "normal", std: 0.02 }) => {
  W.add(w, seed, `${name}/w`, [cin, cout], init)
  W.add(w, seed, `${name}/b`, [cout], { kind: "zeros" })
}

export const layerNorm = (w: W.Weights, name: string, x: tf.Tensor): tf.Tensor =>
  Fused.layerNorm(x, W.get(w, `${name}/g`), W.get(w, `${name}/b`)) // [..., C]

export const initLayerNorm = (w: W.Weights, seed: number, name: string, c: number) => {
  W.add(w, seed, `${name}/g`, [c], { kind: "ones" })
  W.add(w, seed, `${name}/b`, [c], { kind: "zeros" })
}

export const mlp = (w: W.Weights, name: string, x: tf.Tensor): tf.Tensor =>
  linear(w, `${name}/proj`, Fused.gelu(linear(w, `${name}/fc`, x))) // [B, T, C]

export const initMlp = (w: W.Weights, seed: number, name: string, c: number, ratio: number, depth: number) => {
  initLinear(w, seed, `${name}/fc`, c, c * ratio)
  initLinear(w, seed, `${name}/proj`, c * ratio, c, { kind: "normal", std: 0.02 / Math.sqrt(2 * depth) })
}

export interface AdapterOptions {
  readonly activation: "identity" | "silu"
  readonly dropout: number
  readonly training: boolean
  readonly seed: number
}

/** Pink's adapter: h + up(drop(act(down(h)))); `up` starts at zero, so it starts as the identity. */
export const adapter = (w: W.Weights, name: string, h: tf.Tensor, o: AdapterOptions): tf.Tensor => {
  const down = linear(w, `${name}/down`, h) // [B, T, R]
  const act = o.activation === "silu" ? tf.mul(down, tf.sigmoid(down)) : down // [B, T, R]
  const dropped = o.training && o.dropout > 0 ? tf.dropout(act, o.dropout, undefined, o.seed) : act // [B, T, R]
  return tf.add(h, linear(w, `${name}/up`, dropped)) // [B, T, C]
}

export const initAdapter = (w: W.Weights, seed: number, name: string, c: number, r: number) => {
  initLinear(w, seed, `${name}/down`, c, r, { kind: "xavier" })
  initLinear(w, seed, `${name}/up`, r, c, { kind: "zeros" })
}

/** Keys and values of earlier positions, per layer: [B, H, Tpast, D] each. */
export interface LayerCache {
  k: tf.Tensor
  v: tf.Tensor
}

/**
 * Multi-head self-attention. `mask` is additive, [B or 1, 1, Tq, Tk]. With `cache`, the new keys
 * and values are appended to it and attention covers past and present.
 */
export const attention = (
  w: W.Weights,
  name: string,
  h: tf.Tensor,
  heads: number,
  mask: tf.Tensor | undefined,
  cache?: { readonly past: LayerCache | undefined; readonly store: (c: LayerCache) => void }
): tf.Tensor => {
  const [B, T, C] = h.shape as [number, number, number]
  const D = C / heads
  const qkv = linear(w, `${name}/qkv`, h) // [B, T, 3C]
  const [q, k, v] = tf.split(qkv, 3, -1) as [tf.Tensor, tf.Tensor, tf.Tensor] // [B, T, C] each
  const toHeads = (x: tf.Tensor) => tf.transpose(tf.reshape(x, [B, T, heads, D]), [0, 2, 1, 3]) // [B, H, T, D]
  let kh = toHeads(k)
  let vh = toHeads(v)
  if (cache !== undefined) {
    if (cache.past !== undefined) {
      kh = tf.concat([cache.past.k, kh], 2) // [B, H, Tpast+T, D]
      vh = tf.concat([cache.past.v, vh], 2) // [B, H, Tpast+T, D]
    }
    cache.store({ k: kh, v: vh })
  }
  const weights = Fused.attentionWeights(tf.matMul(toHeads(q), kh, false, true), mask, 1 / Math.sqrt(D)) // [B, H, T, Tk]
  const y = tf.matMul(weights, vh) // [B, H, T, D]
  const merged = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B, T, C]) // [B, T, C]
  return linear(w, `${name}/proj`, merged) // [B, T, C]
}

export const initAttention = (w: W.Weights, seed: number, name: string, c: number, depth: number) => {
  initLinear(w, seed, `${name}/qkv`, c, 3 * c)
  initLinear(w, seed, `${name}/proj`, c, c, { kind: "normal", std: 0.02 / Math.sqrt(2 * depth) })
}

/** One pre-norm block with Pink's adapter on the attention branch, after the pre-attention norm. */
export const block = (
  w: W.Weights,
  name: string,
  x: tf.Tensor,
  heads: number,
  mask: tf.Tensor | undefined,
  adapterOptions: AdapterOptions | undefined,
  cache?: { readonly past: LayerCache | undefined; readonly store: (c: LayerCache) => void }
): tf.Tensor => {
  const normed = layerNorm(w, `${name}/ln1`, x) // [B, T, C]
  const h = adapterOptions === undefined ? normed : adapter(w, `${name}/adapter`, normed, adapterOptions) // [B, T, C]
  const afterAttn = tf.add(x, attention(w, `${name}/attn`, h, heads, mask, cache)) // [B, T, C]
  return tf.add(afterAttn, mlp(w, `${name}/mlp`, layerNorm(w, `${name}/ln2`, afterAttn))) // [B, T, C]
}

export const initBlock = (w: W.Weights, seed: number, name: string, c: number, ratio: number, depth: number) => {
  initLayerNorm(w, seed, `${name}/ln1`, c)
  initAttention(w, seed, `${name}/attn`, c, depth)
  initLayerNorm(w, seed, `${name}/ln2`, c)
  initMlp(w, seed, `${name}/mlp`, c, ratio, depth)
}
