/**
 * Stage 1 aligned to the LM's scene layouts (the foundation's towers): the projection alone
 * trains, so that the ViT's patches, projected, read to the frozen LM like the layout it was
 * pretrained on (Layouts.ts). Two terms over freshly generated scenes (their own seed; no
 * evaluation split): each patch's projected feature against its cell's bag of word and box
 * embeddings (squared error relative to the bags' energy), and the LM's answer loss on the layout
 * questions asked about the image instead of its layout — what the LM learned to answer from the
 * text, it should answer from the picture.
 *
 * The first term alone is a least-squares problem, so the projection starts at its exact
 * solution (ridge regression of the bags on the frozen features, `fitProjection`); the training
 * steps then take both terms from there, at their own small learning rate (`refineLr`). (From the
 * random start, 300 steps left the relative error at 7.3: the frozen features are large, and
 * clipped steps shrink a projection slowly. From the least-squares start, the frozen LM grounding
 * from images went 36.8 % → 16.2 % → 26.6 % over 150 and 300 steps at the recipe's 2e-3, and
 * 36.8 % → 36.4 % → 35.5 % at 1e-5: the weights are small beside the features, so Adam's steps
 * of a given size move the map far.)
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
import * as Vit from "../model/Vit.ts"
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
  /** Learning rate of the training steps after the least-squares start. */
  readonly refineLr: number
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

/** The projected patches of a batch of items and their layout bags: [B, N, C] each (and the batch, for the answer loss). */
const projectedAndBags = (model: Pink.Model, chosen: ReadonlyArray<Item>, seed: number) => {
  const b = Layouts.batch(model, chosen.map((i) => i.layout))
  const projected = Pink.imageEmbeddings(model, Pretrain.imagesOf(model.config, chosen), { training: true, seed }) // [B, N, C]
  const bags = Layouts.embed(model.weights, b.cells, b.cellMask, Config.imageTokens(model.config)) // [B, N, C]
  return { b, projected, bags }
}

/** The two terms for a batch of items: the answer loss with the image in place of the layout, and the relative error. */
export const losses = (model: Pink.Model, chosen: ReadonlyArray<Item>, seed: number) => {
  const { b, projected, bags } = projectedAndBags(model, chosen, seed)
  const hidden = Pink.hidden(model, b.ids, { embeddings: projected }, { training: true, seed }) // [B, T, C]
  return { answer: Pink.answerLoss(model, hidden, b.targets, b.weights), error: relativeError(projected, bags) }
}

/** The relative error alone (no LM pass), as a number. */
export const projectionError = (model: Pink.Model, chosen: ReadonlyArray<Item>): number =>
  tf.tidy(() => {
    const { projected, bags } = projectedAndBags(model, chosen, 0)
    return relativeError(projected, bags).dataSync()[0]!
  })

/** Solves (A + λ·tr(A)/n·I) x = b for a symmetric positive definite A [n × n], column by column of b [n × m] (Cholesky). */
export const ridgeSolve = (A: Float64Array, b: Float64Array, n: number, m: number, lambda: number): Float64Array => {
  const L = new Float64Array(n * n)
  let trace = 0
  for (let i = 0; i < n; i++) trace += A[i * n + i]!
  const ridge = (lambda * trace) / n
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j]! + (i === j ? ridge : 0)
      for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!
      L[i * n + j] = i === j ? Math.sqrt(s) : s / L[j * n + j]!
    }
  }
  const x = new Float64Array(n * m)
  for (let c = 0; c < m; c++) {
    const y = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      let s = b[i * m + c]!
      for (let k = 0; k < i; k++) s -= L[i * n + k]! * y[k]!
      y[i] = s / L[i * n + i]!
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i]!
      for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * x[k * m + c]!
      x[i * m + c] = s / L[i * n + i]!
    }
  }
  return x
}

/**
 * Sets the projection to the least-squares map from the frozen patch features to their layout
 * bags over `chosen` items (with a bias, and a small ridge), and returns the relative error it
 * leaves on them.
 */
export const fitProjection = (model: Pink.Model, chosen: ReadonlyArray<Item>, batchSize = 32): number => {
  const c = model.config
  const N = Config.imageTokens(c)
  const Cin = c.vit.width
  const Cout = c.lm.width
  const n = Cin + 1
  const xtx = new Float64Array(n * n)
  const xty = new Float64Array(n * Cout)
  for (let i = 0; i < chosen.length; i += batchSize) {
    const part = chosen.slice(i, i + batchSize)
    const [x, y] = tf.tidy(() => {
      const b = Layouts.batch(model, part.map((it) => it.layout))
      const feats = tf.reshape(Vit.features(model.weights, c, Pretrain.imagesOf(c, part), undefined), [-1, Cin]) // [B·N, Cin]
      const bags = tf.reshape(Layouts.embed(model.weights, b.cells, b.cellMask, N), [-1, Cout]) // [B·N, Cout]
      return [feats.dataSync() as Float32Array, bags.dataSync() as Float32Array]
    })
    const rows = x.length / Cin
    for (let r = 0; r < rows; r++) {
      for (let a = 0; a < n; a++) {
        const xa = a < Cin ? x[r * Cin + a]! : 1
        for (let bb = 0; bb <= a; bb++) xtx[a * n + bb] += xa * (bb < Cin ? x[r * Cin + bb]! : 1)
        for (let o = 0; o < Cout; o++) xty[a * Cout + o] += xa * y[r * Cout + o]!
      }
    }
  }
  for (let a = 0; a < n; a++) for (let bb = 0; bb < a; bb++) xtx[bb * n + a] = xtx[a * n + bb]!
  const sol = ridgeSolve(xtx, xty, n, Cout, 1e-4)
  W.get(model.weights, "proj/w").assign(tf.tensor2d(Float32Array.from(sol.subarray(0, Cin * Cout)), [Cin, Cout]))
  W.get(model.weights, "proj/b").assign(tf.tensor1d(Float32Array.from(sol.subarray(Cin * Cout))))
  return projectionError(model, chosen.slice(0, 64))
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
  const fitted = fitProjection(model, set.slice(0, Math.min(set.length, 1000)))
  o.log(`least-squares projection: relative error ${fitted.toFixed(3)} on the fitted scenes`)
  const meanLength = set.reduce((n, i) => n + i.layout.ids.length, 0) / Math.max(1, set.length)
  const r = await Loop.train(model.weights, policy, (step, seed) => {
    const l = losses(model, Pretrain.sampleIndices(set.length, o.batchSize, o.seed, step).map((i) => set[i]!), seed)
    return tf.add(l.answer, tf.mul(l.error, data.alignWeight)) as tf.Scalar
  }, loopOptions({ ...o, lr: data.refineLr }, Math.round(o.batchSize * meanLength)))
  // The two terms at the end, on up to 64 of the training scenes.
  const last = tf.tidy(() => {
    const l = losses(model, Pretrain.sampleIndices(set.length, Math.min(64, set.length), o.seed + 1, 0).map((i) => set[i]!), 0)
    return [l.answer.dataSync()[0]!, l.error.dataSync()[0]!] as const
  })
  o.log(`answer loss ${last[0].toFixed(3)}, relative error of the projected patches ${last[1].toFixed(3)}`)
  await Checkpoint.save(out, model, tok, { stage: "projectionOnly" })
  W.dispose(model.weights)
  return { losses: thin(r.losses), fittedError: fitted, answerLoss: last[0], relativeError: last[1], trainable: counts.trainable, total: counts.total, samples: set.length, backend: backend.name, matmul: backend.matmul }
}
