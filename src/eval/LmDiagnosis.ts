/**
 * What an LM tower does with a grounding question, read off its activations on held-out layouts
 * with the LM gate's prompt (no training, no decoding):
 * - `attention`: at the position that writes the answer's first token, the share of each block's
 *   heads on the cells of the object the phrase means, on other objects' cells, on empty cells,
 *   and on the phrase's tokens;
 * - `norms`: the residual stream's mean norm at text and at cell positions entering each block
 *   (and after the last);
 * - `identity`: whether the phrase's shape word can still be read (nearest class mean of
 *   standardised activations, fitted on 70 % of the phrases, scored on the rest) at its own
 *   position and at the answering position, entering each block.
 * A tower that grounds must keep the phrase's words readable and attend to the object they mean.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Patches from "../data/Patches.ts"
import * as Scene from "../data/Scene.ts"
import * as Config from "../model/Config.ts"
import * as L from "../model/Layers.ts"
import * as Lm from "../model/Lm.ts"
import * as Pink from "../model/Pink.ts"
import * as Prompt from "../model/Prompt.ts"
import type * as Tok from "../model/Tokenizer.ts"
import { GROUNDING } from "../train/Answer.ts"
import * as Layouts from "../train/Layouts.ts"

export const SHARES = ["target", "others", "empty", "phrase"] as const
export type Share = (typeof SHARES)[number]

export interface Diagnosis {
  readonly n: number
  /** [block][head] → mean share of attention at the answering position. */
  readonly attention: ReadonlyArray<ReadonlyArray<Readonly<Record<Share, number>>>>
  /** Entering block i (i = depth: after the last): mean residual norm at text and cell positions. */
  readonly norms: ReadonlyArray<{ readonly text: number; readonly cells: number }>
  /** Entering block i: shape-word accuracy at its own position and at the answering position. */
  readonly identity: ReadonlyArray<{ readonly word: number; readonly answer: number }>
}

/** Nearest-class-mean accuracy on standardised features: fitted on the first `split` rows, scored on the rest. */
export const centroidAccuracy = (features: ReadonlyArray<ReadonlyArray<number>>, labels: ReadonlyArray<number>, classes: number, split: number): number =>
  tf.tidy(() => {
    const X = tf.tensor2d(features as Array<Array<number>>) // [n, C]
    const fit = tf.slice(X, [0, 0], [split, -1])
    const mean = tf.mean(fit, 0)
    const sd = tf.add(tf.sqrt(tf.mean(tf.square(tf.sub(fit, mean)), 0)), 1e-6)
    const Z = tf.div(tf.sub(X, mean), sd) // [n, C]
    const Y = tf.cast(tf.oneHot(tf.tensor1d(labels.slice(0, split) as Array<number>, "int32"), classes), "float32") // [split, K]
    const centres = tf.div(tf.matMul(Y, tf.slice(Z, [0, 0], [split, -1]), true, false), tf.maximum(tf.reshape(tf.sum(Y, 0), [classes, 1]), 1)) // [K, C]
    const present = tf.reshape(tf.greater(tf.sum(Y, 0), 0), [1, classes]) // [1, K]
    const test = tf.slice(Z, [split, 0], [-1, -1])
    const d = tf.sub(tf.reshape(tf.sum(tf.square(centres), 1), [1, classes]), tf.mul(tf.matMul(test, centres, false, true), 2)) // [m, K]
    const predicted = tf.argMin(tf.where(present, d, tf.fill(d.shape, 1e30)), -1).dataSync()
    let right = 0
    predicted.forEach((p, i) => (right += p === labels[split + i] ? 1 : 0))
    return labels.length - split === 0 ? 0 : right / (labels.length - split)
  })

const mean = (xs: ReadonlyArray<number>) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)

/** The diagnosis of `model`'s LM on the phrases of `scenes` held-out scenes of `seed`. */
export const diagnose = (model: Pink.Model, tok: Tok.Tokenizer, o: { readonly seed: number; readonly scenes: number }): Diagnosis => {
  const c = model.config
  const w = model.weights
  const N = Config.imageTokens(c)
  const grid = c.vit.imageSize / c.vit.patchSize
  const { depth, heads, width } = c.lm
  const D = width / heads
  const shares = Array.from({ length: depth }, () => Array.from({ length: heads }, () => ({ target: [] as Array<number>, others: [] as Array<number>, empty: [] as Array<number>, phrase: [] as Array<number> })))
  const norms = Array.from({ length: depth + 1 }, () => ({ text: [] as Array<number>, cells: [] as Array<number> }))
  const atWord = Array.from({ length: depth + 1 }, () => [] as Array<Array<number>>)
  const atAnswer = Array.from({ length: depth + 1 }, () => [] as Array<Array<number>>)
  const labels: Array<number> = []
  for (let i = 0; i < o.scenes; i++) {
    const scene = Scene.describeScene(i, { seed: o.seed, minObjects: 3, maxObjects: 6 })
    const owners = Patches.patchTargets(scene, grid)
    const encoded = Layouts.encodeCells(tok, c, scene)
    for (const region of scene.regions) {
      const shape = Scene.CATEGORIES.findIndex((s) => region.phrase.endsWith(` ${s}`))
      const target = scene.objects.findIndex((x) => x.box.x === region.box.x && x.box.y === region.box.y && x.box.w === region.box.w && x.box.h === region.box.h)
      if (shape < 0 || target < 0) continue
      const ids = Prompt.promptIds(tok, c, GROUNDING.replace("<des>{phrase}</des>", region.phrase))
      const T = ids.length
      const phraseIds = new Set(tok.encode(` ${region.phrase}`))
      const shapeId = tok.encode(` ${Scene.CATEGORIES[shape]}`)[0]!
      const word = ids.lastIndexOf(shapeId)
      tf.tidy(() => {
        const embeddings = Layouts.embed(w, tf.tensor2d(encoded.cells, [1, encoded.cells.length], "int32"), tf.tensor2d(encoded.cellMask, [1, encoded.cellMask.length]), N)
        let x = Pink.inputs(model, tf.tensor2d(ids, [1, T], "int32"), { embeddings }, { training: false }) // [1, T, C]
        const mask = tf.add(Lm.causalMask(T), Lm.positionBias(heads, T, T)) // [1, H, T, T]: what Lm.run attends under
        for (let b = 0; b <= depth; b++) {
          const rows = tf.reshape(x, [T, width]).arraySync() as Array<Array<number>>
          const norm = rows.map((r) => Math.hypot(...r))
          norms[b]!.text.push(mean(norm.slice(model.imageSlot + N)))
          norms[b]!.cells.push(mean(norm.slice(model.imageSlot, model.imageSlot + N)))
          atWord[b]!.push(rows[word]!)
          atAnswer[b]!.push(rows[T - 1]!)
          if (b === depth) break
          const qkv = L.linear(w, `lm/h${b}/attn/qkv`, L.layerNorm(w, `lm/h${b}/ln1`, x)) // [1, T, 3C]
          const [q, k] = tf.split(qkv, 3, -1) as [tf.Tensor, tf.Tensor, tf.Tensor]
          const toHeads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [1, T, heads, D]), [0, 2, 1, 3]) // [1, H, T, D]
          const weights = tf.softmax(tf.add(tf.mul(tf.matMul(toHeads(q), toHeads(k), false, true), 1 / Math.sqrt(D)), mask), -1) // [1, H, T, T]
          const last = tf.reshape(tf.slice(weights, [0, 0, T - 1, 0], [1, heads, 1, T]), [heads, T]).arraySync() as Array<Array<number>>
          last.forEach((row, h) => {
            const s = { target: 0, others: 0, empty: 0, phrase: 0 }
            row.forEach((p, j) => {
              const cell = j - model.imageSlot
              if (cell >= 0 && cell < N) {
                if (owners.object[cell] !== 1) s.empty += p
                else if (owners.owner[cell] === target) s.target += p
                else s.others += p
              } else if (j > model.imageSlot + N && phraseIds.has(ids[j]!)) s.phrase += p
            })
            for (const key of SHARES) shares[b]![h]![key].push(s[key])
          })
          x = L.block(w, `lm/h${b}`, x, heads, mask, undefined)
        }
      })
      labels.push(shape)
    }
  }
  const split = Math.floor(labels.length * 0.7)
  return {
    n: labels.length,
    attention: shares.map((block) => block.map((h) => Object.fromEntries(SHARES.map((k) => [k, mean(h[k])])) as Record<Share, number>)),
    norms: norms.map((x) => ({ text: mean(x.text), cells: mean(x.cells) })),
    identity: atWord.map((_, b) => ({
      word: centroidAccuracy(atWord[b]!, labels, Scene.CATEGORIES.length, split),
      answer: centroidAccuracy(atAnswer[b]!, labels, Scene.CATEGORIES.length, split)
    }))
  }
}

/** A diagnosis as flat metrics: `block1.head0.empty`, `block1.norm.text`, `block1.identity.word`, … */
export const metrics = (d: Diagnosis): Record<string, number> => ({
  n: d.n,
  ...Object.fromEntries(d.attention.flatMap((block, b) => block.flatMap((h, i) => SHARES.map((k) => [`block${b}.head${i}.${k}`, h[k]])))),
  ...Object.fromEntries(d.norms.flatMap((x, b) => [[`block${b}.norm.text`, x.text], [`block${b}.norm.cells`, x.cells]])),
  ...Object.fromEntries(d.identity.flatMap((x, b) => [[`block${b}.identity.word`, x.word], [`block${b}.identity.answer`, x.answer]]))
})
