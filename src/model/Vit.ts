/**
 * The vision transformer: stride-p patch embedding (reshape → 4-D transpose → matmul, which every
 * backend can differentiate), learned positions, pre-norm blocks, no CLS token. Pink reads the
 * hidden states after the penultimate block; blocks after it are not run and carry no adapter.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Config from "./Config.ts"
import * as L from "./Layers.ts"
import * as W from "./Weights.ts"

export const init = (w: W.Weights, seed: number, c: Config.Config, withAdapters: boolean): void => {
  const { patchSize: p, width: C, depth, mlpRatio } = c.vit
  L.initLinear(w, seed, "vit/patch", p * p * 3, C)
  if (c.vit.positions === "sincos") W.add(w, seed, "vit/pos", [Config.imageTokens(c), C], { kind: "values", values: sincosPositions(c.vit.imageSize / p, C) }, { trainable: false })
  else W.add(w, seed, "vit/pos", [Config.imageTokens(c), C], { kind: "normal", std: 0.02 })
  for (let i = 0; i < depth; i++) L.initBlock(w, seed, `vit/h${i}`, C, mlpRatio, depth)
  L.initLayerNorm(w, seed, "vit/lnpost", C)
  if (withAdapters) initAdapters(w, seed, c)
}

/**
 * Fixed 2-D sin-cos positions for a g × g grid of width C: for the patch centre (u, v) in (0, 1)²,
 * cos and sin of πk·u for k = 1…C/4, then the same of v, so a box edge is a linear read-out.
 */
export const sincosPositions = (g: number, C: number): Float32Array => {
  const F = C / 4
  const out = new Float32Array(g * g * C)
  for (let i = 0; i < g; i++) {
    for (let j = 0; j < g; j++) {
      const o = (i * g + j) * C
      for (let k = 0; k < F; k++) {
        const f = Math.PI * (k + 1)
        out.set([Math.cos((f * (j + 0.5)) / g), Math.sin((f * (j + 0.5)) / g)], o + 2 * k)
        out.set([Math.cos((f * (i + 0.5)) / g), Math.sin((f * (i + 0.5)) / g)], o + 2 * F + 2 * k)
      }
    }
  }
  return out
}

/** Adapters for every block Pink uses (all but the last). */
export const initAdapters = (w: W.Weights, seed: number, c: Config.Config): void => {
  for (let i = 0; i < Config.featureBlocks(c); i++) L.initAdapter(w, seed, `vit/h${i}/adapter`, c.vit.width, c.adapter.r)
}

/** Images [B, S, S, 3] in [0, 1] → patch embeddings with positions [B, N, C]. */
const embed = (w: W.Weights, c: Config.Config, images: tf.Tensor): tf.Tensor => {
  const [B, S] = images.shape as [number, number]
  const p = c.vit.patchSize
  const g = S / p
  const rows = tf.reshape(images, [B * g, p, g, p * 3]) // [B·g, p, g, p·3]
  const patches = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [B, g * g, p * p * 3]) // [B, N, p·p·3]
  const centred = tf.sub(patches, 0.5) // [B, N, p·p·3]
  return tf.add(L.linear(w, "vit/patch", centred), W.get(w, "vit/pos")) // [B, N, C]
}

/** Pink's visual features: hidden states after the penultimate block, [B, N, C]. */
export const features = (w: W.Weights, c: Config.Config, images: tf.Tensor, adapters: L.AdapterOptions | undefined): tf.Tensor => {
  let x = embed(w, c, images) // [B, N, C]
  for (let i = 0; i < Config.featureBlocks(c); i++) {
    x = L.block(w, `vit/h${i}`, x, c.vit.heads, undefined, adapters && { ...adapters, seed: adapters.seed + i }) // [B, N, C]
  }
  return x
}

/** A pooled image embedding through every block, for contrastive pretraining: [B, C]. */
export const pooled = (w: W.Weights, c: Config.Config, images: tf.Tensor): tf.Tensor => {
  let x = embed(w, c, images) // [B, N, C]
  for (let i = 0; i < c.vit.depth; i++) x = L.block(w, `vit/h${i}`, x, c.vit.heads, undefined, undefined) // [B, N, C]
  return tf.mean(L.layerNorm(w, "vit/lnpost", x), 1) // [B, C]
}
