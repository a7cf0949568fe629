/**
 * The causal decoder LM: token and position embeddings, pre-norm blocks with Pink's adapters and
 * ALiBi's distance penalty in half the heads, final norm, an untied output head (so stage 2 can
 * train just the delimiter rows of both).
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Config from "./Config.ts"
import * as L from "./Layers.ts"
import * as Tok from "./Tokenizer.ts"
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

/**
 * Structured rows for the bin coordinate tokens (Tokenizer `bins`), the same in the embedding and
 * the head: a role code (one of six) and the bin's value as cos/sin at 1…F half-turns over [0, 1],
 * so neighbouring bins are alike and a token read from a layout cell is already the token to write.
 * Each box role writes its value in dimensions of its own (a point's px and py share x0's and
 * y0's, never being in one box with them), so the sum of a box's four tokens in a layout cell
 * still says which value is x0 and which y1; in dimensions all roles shared, the sum would keep
 * only the set of values. Every other row of the head starts as its embedding row (tied at the
 * start, free afterwards). Each bin row has the norm of the random rows (std 0.02).
 */
export const initCoordinateRows = (w: W.Weights, vocab: ReadonlyArray<string>): void => {
  const wte = W.get(w, "lm/wte")
  const [V, C] = wte.shape as [number, number]
  const rows = wte.arraySync() as Array<Array<number>>
  const span = Math.floor((C - 8) / 4)
  const F = Math.floor(span / 2)
  const norm = 0.02 * Math.sqrt(C)
  vocab.forEach((t, i) => {
    const b = Tok.binOf(t)
    if (b === undefined) return
    const v = (b.k + 0.5) / Tok.BINS
    const at = 8 + (b.role % 4) * span
    const row = new Array<number>(C).fill(0)
    row[b.role] = Math.SQRT1_2
    for (let f = 1; f <= F; f++) {
      row[at + 2 * (f - 1)] = Math.cos(Math.PI * f * v) * Math.SQRT1_2 / Math.sqrt(F)
      row[at + 2 * f - 1] = Math.sin(Math.PI * f * v) * Math.SQRT1_2 / Math.sqrt(F)
    }
    // A leading-space variant shares its token's value but not its exact row.
    if (/^\s/.test(t)) row[7] = 0.3
    const n = Math.hypot(...row)
    rows[i] = row.map((x) => (x / n) * norm)
  })
  const table = tf.tensor2d(rows, [V, C])
  wte.assign(table)
  W.get(w, "lm/head").assign(table)
  table.dispose()
}

/** Token embeddings without positions: ids [B, T] → [B, T, C]. */
export const tokens = (w: W.Weights, ids: tf.Tensor): tf.Tensor => tf.gather(W.get(w, "lm/wte"), tf.cast(ids, "int32")) // [B, T, C]

/** Position embeddings for positions [B, T] (or [T]). */
export const positions = (w: W.Weights, pos: tf.Tensor): tf.Tensor => tf.gather(W.get(w, "lm/wpe"), tf.cast(pos, "int32")) // [B, T, C] or [T, C]

/** An additive causal mask [1, 1, T, T]: 0 where key ≤ query, −1e9 above the diagonal. */
export const causalMask = (T: number): tf.Tensor =>
  tf.tidy(() => tf.reshape(tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9), [1, 1, T, T]))

/** ALiBi slopes: 1/2, 1/8, … for the first half of the heads, none for the rest. */
export const alibiSlopes = (heads: number): Array<number> => Array.from({ length: heads }, (_, h) => (h < heads / 2 ? 2 ** -(1 + 2 * h) : 0))

/**
 * The LM's distance penalty (ALiBi in half the heads) for Tq queries that are the last of Tk
 * keys: −slope · (query − key) at and below the diagonal, 0 above it (the causal mask's part):
 * [1, H, Tq, Tk]. Half the heads weigh the tokens just before them — a question's phrase —
 * without having to learn where those are; the other half read any distance alike (a layout cell
 * far back). Left padding leaves distances between real tokens as they are.
 */
export const positionBias = (heads: number, Tq: number, Tk: number): tf.Tensor => {
  const slopes = alibiSlopes(heads)
  const bias = new Float32Array(heads * Tq * Tk)
  slopes.forEach((s, h) => {
    if (s === 0) return
    for (let q = 0; q < Tq; q++) {
      const at = Tk - Tq + q
      for (let k = 0; k <= at; k++) bias[(h * Tq + q) * Tk + k] = -s * (at - k)
    }
  })
  return tf.tensor4d(bias, [1, heads, Tq, Tk])
}

/**
 * Runs the blocks and the final norm over embeddings x [B, T, C] → hidden [B, T, C]. `mask` is
 * the additive causal (and padding) mask; the distance penalty (positionBias) is added here, so
 * every use of the LM — training, the cached decoder — attends alike. `entering` collects each
 * block's input (the pointer guide reads its heads from them).
 */
export const run = (
  w: W.Weights,
  c: Config.Config,
  x: tf.Tensor,
  mask: tf.Tensor | undefined,
  adapters: L.AdapterOptions | undefined,
  caches?: { readonly past: ReadonlyArray<L.LayerCache> | undefined; readonly next: Array<L.LayerCache> },
  entering?: Array<tf.Tensor>
): tf.Tensor => {
  const Tq = x.shape[1]!
  const bias = positionBias(c.lm.heads, Tq, Tq + (caches?.past?.[0]?.k.shape[2] ?? 0)) // [1, H, Tq, Tk]
  const m = mask === undefined ? bias : tf.add(mask, bias)
  let h = x // [B, T, C]
  for (let i = 0; i < c.lm.depth; i++) {
    const cache = caches && { past: caches.past?.[i], store: (lc: L.LayerCache) => void (caches.next[i] = lc) }
    entering?.push(h)
    h = L.block(w, `lm/h${i}`, h, c.lm.heads, m, adapters && { ...adapters, seed: adapters.seed + 1000 + i }, cache) // [B, T, C]
  }
  return L.layerNorm(w, "lm/lnf", h) // [B, T, C]
}

/** Hidden [B, T, C] → logits [B, T, V]. */
export const logits = (w: W.Weights, hidden: tf.Tensor): tf.Tensor => {
  const [B, T, C] = hidden.shape as [number, number, number]
  const head = W.get(w, "lm/head") // [V, C]
  return tf.reshape(tf.matMul(tf.reshape(hidden, [B * T, C]), head, false, true), [B, T, head.shape[0]!]) // [B, T, V]
}
