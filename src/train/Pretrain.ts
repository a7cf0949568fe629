/**
 * Pretraining of the parts Pink keeps frozen (the foundation's towers), since CLIP and Llama
 * cannot be downloaded here:
 *
 * - `vitDense` (the foundation's vision tower): every patch of the feature block predicts the
 *   colour, shape and size of the object covering it (or background) and the bin of each corner of
 *   that object's box, from linear heads that are dropped afterwards — patch-level supervision, so
 *   the frozen features say what is where. With `readout` > 0 a least-squares head also regresses
 *   the same facts as one vector (`readoutTargets`), so that they are linear in the features — the
 *   miniature's CLIP, whose features a linear projection carries into the LM.
 * - `lmLayouts` (the foundation's LM): the LM reads scene layouts (Layouts.ts) at the image slot
 *   and answers questions about them; the loss covers the answers or all the text after the
 *   layout, plus the pointer guide (Pointers.ts) on two heads' attention, weighted `guide`.
 *
 * Batches depend only on the seed and the step, so all of them resume from checkpoints exactly.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Patches from "../data/Patches.ts"
import * as Raster from "../data/Raster.ts"
import * as Scene from "../data/Scene.ts"
import * as Config from "../model/Config.ts"
import * as Freeze from "../model/Freeze.ts"
import * as L from "../model/Layers.ts"
import * as Lm from "../model/Lm.ts"
import * as Pink from "../model/Pink.ts"
import * as Tok from "../model/Tokenizer.ts"
import * as Vit from "../model/Vit.ts"
import * as W from "../model/Weights.ts"
import * as Layouts from "./Layouts.ts"
import * as Loop from "./Loop.ts"
import * as Pointers from "./Pointers.ts"

export interface Options {
  readonly steps: number
  readonly batchSize: number
  readonly lr: number
  readonly seed: number
  readonly warmupFraction?: number
  readonly weightDecay?: number
  readonly checkpointDir?: string
  readonly checkpointEvery?: number
  readonly onProgress?: (p: Loop.Progress) => void
  /** Held-out metrics against steps (Loop.Options.evaluate). */
  readonly evaluate?: Loop.Options["evaluate"]
}

/** `batchSize` indices into `n` items for `step`, drawn from the seed. */
export const sampleIndices = (n: number, batchSize: number, seed: number, step: number): Array<number> => {
  const next = W.rng(W.seedFor(seed, `batch-${step}`))
  return Array.from({ length: batchSize }, () => Math.floor(next() * n))
}

/** Options for Loop.train shared by the pretrainings. */
const loopOptions = (o: Options, tokensPerStep: number): Loop.Options => ({
  steps: o.steps,
  lr: o.lr,
  warmupFraction: o.warmupFraction ?? 0.05,
  seed: o.seed,
  adamw: { weightDecay: o.weightDecay ?? 0.01 },
  tokensPerStep,
  checkpointDir: o.checkpointDir,
  checkpointEvery: o.checkpointEvery,
  onProgress: o.onProgress,
  evaluate: o.evaluate,
  progressEveryMs: 1000
})

/** Trains the ViT with the heads `init` adds (weights named `prefix…`), then drops the heads. */
const withHeads = async (model: Pink.Model, prefix: string, init: () => void, loss: (step: number) => tf.Scalar, o: Options): Promise<Loop.Result> => {
  const w = model.weights
  init()
  const heads = [...w.keys()].filter((n) => n.startsWith(prefix))
  const policy: Freeze.Policy = { name: "vit", trainable: [...Freeze.policy("vit", model).trainable, ...heads], rows: new Map() }
  try {
    return await Loop.train(w, policy, loss, loopOptions(o, o.batchSize))
  } finally {
    for (const n of heads) {
      w.get(n)!.dispose()
      w.delete(n)
    }
  }
}

export interface DenseItem {
  /** [S, S, 3] in [0, 1], row-major. */
  readonly image: Float32Array
  readonly targets: Patches.PatchTargets
}

const crossEntropy = (logits: tf.Tensor, labels: tf.Tensor, classes: number) =>
  tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits, -1), tf.oneHot(labels, classes)), -1))) // []

/** The four corner bins (Tokenizer.bin) of every patch's covering object, 0 for background: [N·4]. */
export const boxBins = (t: Patches.PatchTargets): Int32Array => Int32Array.from(t.box, (v, i) => (t.object[Math.floor(i / 4)] === 1 ? Tok.bin(v) : 0))

/** Mean cross-entropy over the object patches only: logits [BN, K], labels [BN], object [BN]. */
const objectCrossEntropy = (logits: tf.Tensor, labels: tf.Tensor, object: tf.Tensor, classes: number) => {
  const ce = tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits, -1), tf.oneHot(labels, classes)), -1)) // [BN]
  return tf.div(tf.sum(tf.mul(ce, object)), tf.maximum(tf.sum(object), 1)) // []
}

const concat = <T extends Float32Array | Int32Array>(items: ReadonlyArray<T>, make: (n: number) => T): T => {
  const out = make(items.reduce((n, x) => n + x.length, 0))
  let o = 0
  for (const x of items) {
    out.set(x, o)
    o += x.length
  }
  return out
}

/** The images of a batch of items as one tensor [B, S, S, 3]. */
export const imagesOf = (c: Config.Config, items: ReadonlyArray<{ readonly image: Float32Array }>) =>
  tf.tensor4d(concat(items.map((i) => i.image), (n) => new Float32Array(n)), [items.length, c.vit.imageSize, c.vit.imageSize, 3])

/** The linear heads of the patch-level loss: `prefix` + colour, shape, size and the four corner bins. */
export const DENSE_HEADS = [
  ["colour", Patches.COLOUR_NAMES.length + 1],
  ["shape", Scene.CATEGORIES.length + 1],
  ["size", Scene.SIZES.length + 1],
  ["x0", Tok.BINS],
  ["y0", Tok.BINS],
  ["x1", Tok.BINS],
  ["y1", Tok.BINS]
] as const

/** The per-patch labels of items for each of DENSE_HEADS, and the object mask: [BN] each. */
export const denseLabels = (items: ReadonlyArray<DenseItem>) => {
  const bins = items.map((i) => boxBins(i.targets))
  const corner = (k: number) => concat(bins.map((b) => b.filter((_, i) => i % 4 === k)), (n) => new Int32Array(n))
  return {
    colour: concat(items.map((i) => i.targets.colour), (n) => new Int32Array(n)),
    shape: concat(items.map((i) => i.targets.shape), (n) => new Int32Array(n)),
    size: concat(items.map((i) => i.targets.size), (n) => new Int32Array(n)),
    x0: corner(0),
    y0: corner(1),
    x1: corner(2),
    y1: corner(3),
    object: concat(items.map((i) => i.targets.object), (n) => new Float32Array(n))
  }
}

/**
 * The patch-level loss of `vitDense` over flat patch features [BN, C]: cross-entropies for colour,
 * shape and size (background included) and, on object patches, for the bin of each corner of the
 * covering object's box.
 */
export const denseHeadLoss = (w: W.Weights, prefix: string, flat: tf.Tensor, labels: ReturnType<typeof denseLabels>): tf.Scalar => {
  const object = tf.tensor1d(labels.object)
  const terms = DENSE_HEADS.map(([name, classes]) => {
    const logits = L.linear(w, `${prefix}${name}`, flat)
    const y = tf.tensor1d(labels[name], "int32")
    return name === "colour" || name === "shape" || name === "size" ? crossEntropy(logits, y, classes) : tf.mul(objectCrossEntropy(logits, y, object, classes), 0.5)
  })
  return tf.addN(terms) as tf.Scalar
}

export const initDenseHeads = (w: W.Weights, seed: number, width: number, prefix: string) => {
  for (const [name, classes] of DENSE_HEADS) L.initLinear(w, seed, `${prefix}${name}`, width, classes)
}

/** Generated scene `i` of `seed` as a patch-level item at `c`'s input size, the same on every call. */
export const denseItemAt = (c: Config.Config, seed: number, i: number, minObjects = 3): DenseItem => {
  const { scene, image } = Scene.generate(i, { seed, minObjects, maxObjects: 6 })
  return { image: Raster.toInput(image, c.vit.imageSize), targets: Patches.patchTargets(scene, c.vit.imageSize / c.vit.patchSize) }
}

/** Generated scenes of `seed` as patch-level items at `c`'s input size. */
export const denseItems = (c: Config.Config, seed: number, scenes: number, minObjects = 3): Array<DenseItem> =>
  Array.from({ length: scenes }, (_, i) => denseItemAt(c, seed, i, minObjects))

/** Width of a patch's readout target: the DENSE_HEADS' classes side by side. */
export const READOUT_WIDTH = DENSE_HEADS.reduce((n, [, k]) => n + k, 0)

/** Spread, in bins, of a corner's bump in the readout target: neighbouring bins are near misses, not errors. */
const READOUT_SPREAD = 1.5

/**
 * What the least-squares readout regresses, per patch [BN · READOUT_WIDTH]: one-hot colour, shape
 * and size (background included) and, on object patches, a bump (peak 1) around each corner's bin
 * (zeros on background). A linear map of features that fit these well can write any sum of
 * per-fact vectors — a layout cell's bag of word and box embeddings, for one.
 */
export const readoutTargets = (labels: ReturnType<typeof denseLabels>): Float32Array => {
  const rows = labels.object.length
  const out = new Float32Array(rows * READOUT_WIDTH)
  for (let r = 0; r < rows; r++) {
    let at = r * READOUT_WIDTH
    for (const [name, classes] of DENSE_HEADS) {
      const k = labels[name][r]!
      if (name === "colour" || name === "shape" || name === "size") out[at + k] = 1
      else if (labels.object[r] === 1) for (let j = 0; j < classes; j++) out[at + j] = Math.exp(-((j - k) ** 2) / (2 * READOUT_SPREAD ** 2))
      at += classes
    }
  }
  return out
}

/** The readout term: squared error of a linear head against `readoutTargets`, summed over a patch's target and averaged over patches. */
export const readoutLoss = (w: W.Weights, prefix: string, flat: tf.Tensor, labels: ReturnType<typeof denseLabels>): tf.Scalar => {
  const rows = labels.object.length
  const y = tf.tensor2d(readoutTargets(labels), [rows, READOUT_WIDTH])
  return tf.div(tf.sum(tf.squaredDifference(L.linear(w, `${prefix}readout`, flat), y)), rows) as tf.Scalar
}

/** The patch-level loss of `vitDense` for a batch of items, with the readout term at weight `readout`. */
export const denseLoss = (w: W.Weights, c: Config.Config, items: ReadonlyArray<DenseItem>, readout = 0): tf.Scalar => {
  const x = Vit.features(w, c, imagesOf(c, items), undefined) // [B, N, C]
  const flat = tf.reshape(x, [-1, c.vit.width]) // [BN, C]
  const labels = denseLabels(items)
  const loss = denseHeadLoss(w, "dense/", flat, labels)
  return readout === 0 ? loss : (tf.add(loss, tf.mul(readoutLoss(w, "dense/", flat, labels), readout)) as tf.Scalar)
}

/** Where `vitDense`'s scenes come from: `count` of them, item `i` the same on every call (so none need be held in memory). */
export interface DenseSource {
  readonly count: number
  readonly at: (i: number) => DenseItem
}

/** Patch-level pretraining of the model's ViT (its adapters, if any, are not used), with the readout term at weight `readout` (default 0: off). */
export const vitDense = (model: Pink.Model, items: ReadonlyArray<DenseItem> | DenseSource, o: Options & { readonly readout?: number }): Promise<Loop.Result> => {
  const c = model.config
  const w = model.weights
  const source: DenseSource = "count" in items ? items : { count: items.length, at: (i) => items[i]! }
  const readout = o.readout ?? 0
  const init = () => {
    initDenseHeads(w, o.seed, c.vit.width, "dense/")
    if (readout > 0) L.initLinear(w, o.seed, "dense/readout", c.vit.width, READOUT_WIDTH)
  }
  return withHeads(model, "dense/", init, (step) => denseLoss(w, c, sampleIndices(source.count, o.batchSize, o.seed, step).map((i) => source.at(i)), readout), o)
}

/** Frozen patch features of items, [n·N, C] flat, computed in batches. */
export const patchFeatures = (model: Pink.Model, items: ReadonlyArray<DenseItem>, batchSize = 32): Float32Array => {
  const c = model.config
  const chunks: Array<Float32Array> = []
  for (let i = 0; i < items.length; i += batchSize) {
    const x = tf.tidy(() => Vit.features(model.weights, c, imagesOf(c, items.slice(i, i + batchSize)), undefined))
    chunks.push(x.dataSync() as Float32Array)
    x.dispose()
  }
  return concat(chunks, (n) => new Float32Array(n))
}

/**
 * One step's loss of layout pretraining over `items` (with their loss weights, `Layouts.withLoss`):
 * the next-token loss plus the pointer guide at weight `guide` (0: none). `lmLayouts` computes the
 * same in its own body, which the LM tower's key covers; it goes over to this one at the tower's
 * next retraining.
 */
export const layoutLoss = (model: Pink.Model, items: ReadonlyArray<Layouts.Item>, guide: number): tf.Scalar => {
  const c = model.config
  const b = Layouts.batch(model, items)
  const T = b.ids.shape[1]!
  const mask = Lm.causalMask(T) // [1, 1, T, T]
  const entering: Array<tf.Tensor> = []
  const x = Pink.inputs(model, b.ids, { embeddings: Layouts.embed(model.weights, b.cells, b.cellMask, Config.imageTokens(c)) }, { training: true })
  const hidden = Lm.run(model.weights, c, x, mask, undefined, undefined, entering) // [B, T, C]
  const loss = Pink.answerLoss(model, hidden, b.targets, b.weights)
  if (guide === 0) return loss
  const blockMask = tf.add(mask, Lm.positionBias(c.lm.heads, T, T)) // what Lm.run's blocks attend under
  const g = Pointers.guide(model, entering, entering.map(() => blockMask), items.map((it) => it.pointers))
  return tf.add(loss, tf.mul(g.loss, guide)) as tf.Scalar
}

/**
 * The LM's pretraining on scene layouts: `scenes` of them (`at` makes layout i, the same on every
 * call), read in order, `batchSize` a step, so no layout repeats while steps × batchSize ≤ scenes
 * and none has to be held in memory; the loss covers the answers.
 */
export const lmLayouts = (
  model: Pink.Model,
  layouts: { readonly scenes: number; readonly at: (i: number) => Layouts.Item },
  o: Options & { readonly loss: Layouts.Loss; readonly guide: number }
): Promise<Loop.Result> => {
  const c = model.config
  const N = Config.imageTokens(c)
  const sample = Array.from({ length: Math.min(256, layouts.scenes) }, (_, i) => layouts.at(i).ids.length)
  const meanLength = sample.reduce((n, l) => n + l, 0) / Math.max(1, sample.length)
  return Loop.train(model.weights, Freeze.policy("lm", model), (step) => {
    const items = Array.from({ length: o.batchSize }, (_, k) => layouts.at((step * o.batchSize + k) % layouts.scenes))
    const b = Layouts.batch(model, items.map((it) => Layouts.withLoss(it, o.loss, model.imageSlot + N + 1)))
    const T = b.ids.shape[1]!
    const mask = Lm.causalMask(T) // [1, 1, T, T]
    const entering: Array<tf.Tensor> = []
    const x = Pink.inputs(model, b.ids, { embeddings: Layouts.embed(model.weights, b.cells, b.cellMask, N) }, { training: true })
    const hidden = Lm.run(model.weights, c, x, mask, undefined, undefined, entering) // [B, T, C]
    const loss = Pink.answerLoss(model, hidden, b.targets, b.weights)
    if (o.guide === 0) return loss
    const blockMask = tf.add(mask, Lm.positionBias(c.lm.heads, T, T)) // what Lm.run's blocks attend under
    const g = Pointers.guide(model, entering, entering.map(() => blockMask), items.map((it) => it.pointers))
    return tf.add(loss, tf.mul(g.loss, o.guide)) as tf.Scalar
  }, loopOptions(o, Math.round(o.batchSize * meanLength)))
}
