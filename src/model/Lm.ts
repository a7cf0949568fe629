/**
 * The causal decoder LM: token and position embeddings, pre-norm blocks with Pink's adapters,
 * final norm, an untied output head (so stage 2 can train just the delimiter rows of both).
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Config from "./Config.ts"
import * as L from "./Layers.ts"
import * as W from "./Weights.ts"

export const init = (w: W.Weights, seed: number, c: Config.Config, vocab: number, withAdapters: boolean): void => {
  const { width: C, depth, mlpRatio, maxLen } = c.lm
  W.add(w, seed, "lm/wte", [vocab, C], { kind: "normal", std: 0.02 })
  W.add(w, seed, "lm/wpe", [maxLen, C], { kind: "normal", std: 0.01 })
  for (let i = 0; i < depth; i++) L.initBlock(w, seed, `lm/h${i}`, C, mlpRatio, depth)
  L.initLayerNorm(w, seed, "lm/lnf", C)
  W.add(w, seed, "lm/head", [vocab, C], { kind: "normal", std: 0.02 })
  if (withAdapters) initAdapters(w, seed, c)
}

export const initAdapters = (w: W.Weights, seed: number, c: Config.Config): void => {
  for (let i = 0; i < c.lm.depth; i++) L.initAdapter(w, seed, `lm/h${i}/adapter`, c.lm.width, c.adapter.r)
}

/** Token embeddings without positions: ids [B, T] → [B, T, C]. */
export const tokens = (w: W.Weights, ids: tf.Tensor): tf.Tensor => tf.gather(W.get(w, "lm/wte"), tf.cast(ids, "int32")) // [B, T, C]

/** Position embeddings for positions [B, T] (or [T]). */
export const positions = (w: W.Weights, pos: tf.Tensor): tf.Tensor => tf.gather(W.get(w, "lm/wpe"), tf.cast(pos, "int32")) // [B, T, C] or [T, C]

/** An additive causal mask [1, 1, T, T]: 0 where key ≤ query, −1e9 above the diagonal. */
export const causalMask = (T: number): tf.Tensor =>
  tf.tidy(() => tf.reshape(tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9), [1, 1, T, T]))

/** Runs the blocks and the final norm over embeddings x [B, T, C] → hidden [B, T, C]. */
export const run = (
  w: W.Weights,
  c: Config.Config,
  x: tf.Tensor,
  mask: tf.Tensor | undefined,
  adapters: L.AdapterOptions | undefined,
  caches?: { readonly past: ReadonlyArray<L.LayerCache> | undefined; readonly next: Array<L.LayerCache> }
): tf.Tensor => {
  let h = x // [B, T, C]
  for (let i = 0; i < c.lm.depth; i++) {
    const cache = caches && { past: caches.past?.[i], store: (lc: L.LayerCache) => void (caches.next[i] = lc) }
    h = L.block(w, `lm/h${i}`, h, c.lm.heads, mask, adapters && { ...adapters, seed: adapters.seed + 1000 + i }, cache) // [B, T, C]
  }
  return L.layerNorm(w, "lm/lnf", h) // [B, T, C]
}

/** Hidden [B, T, C] → logits [B, T, V]. */
export const logits = (w: W.Weights, hidden: tf.Tensor): tf.Tensor => {
  const [B, T, C] = hidden.shape as [number, number, number]
  const head = W.get(w, "lm/head") // [V, C]
  return tf.reshape(tf.matMul(tf.reshape(hidden, [B * T, C]), head, false, true), [B, T, head.shape[0]!]) // [B, T, V]
}
