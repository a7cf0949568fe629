/**
 * Pretraining of the parts Pink keeps frozen, since CLIP and Llama cannot be downloaded here:
 *
 * - `vit`: CLIP-style contrastive training of the ViT on image–caption pairs. A small text tower
 *   (mean of token embeddings → linear) and an image head (mean-pooled ViT output → linear) map
 *   both into one space; the loss is the symmetric InfoNCE over the batch. The heads are dropped
 *   afterwards; only the ViT is kept.
 * - `vitDense` (an alternative to `vit`, used by the REC diagnostics in `bench/`): every patch of the
 *   feature block predicts the colour, shape and size of the object covering it (or background) and
 *   that object's box, from linear heads that are dropped afterwards — patch-level supervision, so
 *   the frozen features say what is where.
 * - `lm`: next-token training of the LM on text.
 *
 * Batches depend only on the seed and the step, so both resume from checkpoints exactly.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Box from "../data/Box.ts"
import * as Scene from "../data/Scene.ts"
import * as Config from "../model/Config.ts"
import * as Freeze from "../model/Freeze.ts"
import * as L from "../model/Layers.ts"
import * as Lm from "../model/Lm.ts"
import * as Pink from "../model/Pink.ts"
import * as Tok from "../model/Tokenizer.ts"
import * as Vit from "../model/Vit.ts"
import * as W from "../model/Weights.ts"
import * as Loop from "./Loop.ts"

export interface Pair {
  /** [S, S, 3] in [0, 1], row-major. */
  readonly image: Float32Array
  readonly caption: string
}

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
}

/** `batchSize` indices into `n` items for `step`, drawn from the seed. */
export const sampleIndices = (n: number, batchSize: number, seed: number, step: number): Array<number> => {
  const next = W.rng(W.seedFor(seed, `batch-${step}`))
  return Array.from({ length: batchSize }, () => Math.floor(next() * n))
}

const EMBED = 64
const LOGIT_SCALE = 1 / 0.07

const initHeads = (w: W.Weights, seed: number, c: Config.Config, vocab: number) => {
  L.initLinear(w, seed, "clip/img", c.vit.width, EMBED)
  W.add(w, seed, "clip/txt/wte", [vocab, EMBED], { kind: "normal", std: 0.02 })
  L.initLinear(w, seed, "clip/txt/proj", EMBED, EMBED)
}

const normalise = (x: tf.Tensor) => tf.div(x, tf.add(tf.norm(x, "euclidean", -1, true), 1e-6)) // [B, E]

/** Symmetric InfoNCE between images [B, S, S, 3] and captions ids [B, L] (mask [B, L]). */
export const contrastiveLoss = (w: W.Weights, c: Config.Config, images: tf.Tensor, ids: tf.Tensor, mask: tf.Tensor): tf.Scalar => {
  const img = normalise(L.linear(w, "clip/img", Vit.pooled(w, c, images))) // [B, E]
  const tokens = tf.gather(W.get(w, "clip/txt/wte"), tf.cast(ids, "int32")) // [B, L, E]
  const m = tf.expandDims(mask, -1) // [B, L, 1]
  const pooled = tf.div(tf.sum(tf.mul(tokens, m), 1), tf.maximum(tf.sum(m, 1), 1)) // [B, E]
  const txt = normalise(L.linear(w, "clip/txt/proj", pooled)) // [B, E]
  const logits = tf.mul(tf.matMul(img, txt, false, true), LOGIT_SCALE) // [B, B]
  const B = logits.shape[0]!
  const labels = tf.oneHot(tf.range(0, B, 1, "int32"), B) // [B, B]
  const ce = (x: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(x, -1), labels), -1))) // []
  return tf.div(tf.add(ce(logits), ce(tf.transpose(logits))), 2) as tf.Scalar
}

const padIds = (rows: ReadonlyArray<ReadonlyArray<number>>, length: number) => {
  const ids = new Int32Array(rows.length * length)
  const mask = new Float32Array(rows.length * length)
  rows.forEach((r, b) => r.slice(0, length).forEach((id, t) => {
    ids[b * length + t] = id
    mask[b * length + t] = 1
  }))
  return { ids, mask }
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

/** Contrastive pretraining of the model's ViT (its adapters, if any, are not used). */
export const vit = (model: Pink.Model, tok: Tok.Tokenizer, pairs: ReadonlyArray<Pair>, o: Options): Promise<Loop.Result> => {
  const c = model.config
  const S = c.vit.imageSize
  const w = model.weights
  const captions = pairs.map((p) => tok.encode(p.caption))
  const L_ = Math.max(1, Math.min(48, Math.max(...captions.map((x) => x.length))))
  return withHeads(model, "clip/", () => initHeads(w, o.seed, c, tok.size), (step) => {
    const idx = sampleIndices(pairs.length, o.batchSize, o.seed, step)
    const pixels = new Float32Array(idx.length * S * S * 3)
    idx.forEach((i, b) => pixels.set(pairs[i]!.image, b * S * S * 3))
    const { ids, mask } = padIds(idx.map((i) => captions[i]!), L_)
    return contrastiveLoss(w, c, tf.tensor4d(pixels, [idx.length, S, S, 3]), tf.tensor2d(ids, [idx.length, L_], "int32"), tf.tensor2d(mask, [idx.length, L_]))
  }, o)
}

/** Per-patch targets of one scene for `vitDense`, patches in row-major order. */
export interface PatchTargets {
  /** Index into `Scene.COLOURS`' keys; their count for background. */
  readonly colour: Int32Array
  /** Index into `Scene.CATEGORIES`; their count for background. */
  readonly shape: Int32Array
  /** Index into `Scene.SIZES`; their count for background. */
  readonly size: Int32Array
  /** The covering object's normalised box, 4 per patch (zeros for background). */
  readonly box: Float32Array
  /** 1 where the patch belongs to an object. */
  readonly object: Float32Array
}

const COLOUR_NAMES = Object.keys(Scene.COLOURS)

/**
 * A patch of a `grid` × `grid` split of the (resized) image belongs to the object whose box covers
 * most of it, if that is at least 15 % of the patch (so a small object still owns a patch).
 */
export const patchTargets = (scene: Scene.Scene, grid: number): PatchTargets => {
  const N = grid * grid
  const t = {
    colour: new Int32Array(N).fill(COLOUR_NAMES.length),
    shape: new Int32Array(N).fill(Scene.CATEGORIES.length),
    size: new Int32Array(N).fill(Scene.SIZES.length),
    box: new Float32Array(N * 4),
    object: new Float32Array(N)
  }
  const boxes = scene.objects.map((o) => Box.normalise(o.box, scene.width, scene.height))
  const e = 1 / grid
  for (let p = 0; p < N; p++) {
    const x0 = (p % grid) * e
    const y0 = Math.floor(p / grid) * e
    let best = -1
    let bestArea = 0.15 * e * e
    boxes.forEach((b, k) => {
      const a = Math.max(0, Math.min(b[2], x0 + e) - Math.max(b[0], x0)) * Math.max(0, Math.min(b[3], y0 + e) - Math.max(b[1], y0))
      if (a > bestArea) {
        bestArea = a
        best = k
      }
    })
    if (best < 0) continue
    const o = scene.objects[best]!
    t.colour[p] = COLOUR_NAMES.indexOf(o.attributes[0]!)
    t.size[p] = Scene.SIZES.indexOf(o.attributes[1] as (typeof Scene.SIZES)[number])
    t.shape[p] = Scene.CATEGORIES.indexOf(o.name as (typeof Scene.CATEGORIES)[number])
    t.box.set(boxes[best]!, p * 4)
    t.object[p] = 1
  }
  return t
}

export interface DenseItem {
  /** [S, S, 3] in [0, 1], row-major. */
  readonly image: Float32Array
  readonly targets: PatchTargets
}

/** Box regression (mean L1 over object patches) weighs this much against the three cross-entropies. */
const BOX_WEIGHT = 20

const crossEntropy = (logits: tf.Tensor, labels: tf.Tensor, classes: number) =>
  tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits, -1), tf.oneHot(labels, classes)), -1))) // []

/** The patch-level loss of `vitDense` for a batch of items. */
export const denseLoss = (w: W.Weights, c: Config.Config, items: ReadonlyArray<DenseItem>): tf.Scalar => {
  const S = c.vit.imageSize
  const N = Config.imageTokens(c)
  const B = items.length
  const cat = <T extends Float32Array | Int32Array>(f: (i: DenseItem) => T, make: (n: number) => T): T => {
    const size = f(items[0]!).length
    const out = make(B * size)
    items.forEach((item, b) => out.set(f(item), b * size))
    return out
  }
  const x = Vit.features(w, c, tf.tensor4d(cat((i) => i.image, (n) => new Float32Array(n)), [B, S, S, 3]), undefined) // [B, N, C]
  const flat = tf.reshape(x, [B * N, c.vit.width]) // [BN, C]
  const labels = (f: (t: PatchTargets) => Int32Array) => tf.tensor1d(cat((i) => f(i.targets), (n) => new Int32Array(n)), "int32") // [BN]
  const colour = crossEntropy(L.linear(w, "dense/colour", flat), labels((t) => t.colour), COLOUR_NAMES.length + 1)
  const shape = crossEntropy(L.linear(w, "dense/shape", flat), labels((t) => t.shape), Scene.CATEGORIES.length + 1)
  const size = crossEntropy(L.linear(w, "dense/size", flat), labels((t) => t.size), Scene.SIZES.length + 1)
  const predicted = tf.sigmoid(L.linear(w, "dense/box", flat)) // [BN, 4]
  const object = tf.tensor2d(cat((i) => i.targets.object, (n) => new Float32Array(n)), [B * N, 1]) // [BN, 1]
  const truth = tf.tensor2d(cat((i) => i.targets.box, (n) => new Float32Array(n)), [B * N, 4]) // [BN, 4]
  const box = tf.div(tf.sum(tf.mul(tf.abs(tf.sub(predicted, truth)), object)), tf.maximum(tf.mul(tf.sum(object), 4), 1)) // []
  return tf.add(tf.add(colour, shape), tf.add(size, tf.mul(box, BOX_WEIGHT))) as tf.Scalar
}

/** Patch-level pretraining of the model's ViT (its adapters, if any, are not used). */
export const vitDense = (model: Pink.Model, items: ReadonlyArray<DenseItem>, o: Options): Promise<Loop.Result> => {
  const c = model.config
  const w = model.weights
  return withHeads(model, "dense/", () => {
    L.initLinear(w, o.seed, "dense/colour", c.vit.width, COLOUR_NAMES.length + 1)
    L.initLinear(w, o.seed, "dense/shape", c.vit.width, Scene.CATEGORIES.length + 1)
    L.initLinear(w, o.seed, "dense/size", c.vit.width, Scene.SIZES.length + 1)
    L.initLinear(w, o.seed, "dense/box", c.vit.width, 4)
  }, (step) => denseLoss(w, c, sampleIndices(items.length, o.batchSize, o.seed, step).map((i) => items[i]!)), o)
}

/** Next-token pretraining of the model's LM on text. */
export const lm = async (model: Pink.Model, tok: Tok.Tokenizer, texts: ReadonlyArray<string>, o: Options): Promise<Loop.Result> => {
  const c = model.config
  const T = c.lm.maxLen
  const encoded = texts.map((t) => [Tok.BOS, ...tok.encode(t), Tok.EOS])
  const length = Math.min(T, Math.max(...encoded.map((e) => e.length)) - 1)
  return Loop.train(model.weights, Freeze.policy("lm", model), (step) => {
    const idx = sampleIndices(texts.length, o.batchSize, o.seed, step)
    const B = idx.length
    const ids = new Int32Array(B * length)
    const targets = new Int32Array(B * length)
    const weights = new Float32Array(B * length)
    idx.forEach((i, b) => {
      const e = encoded[i]!
      for (let t = 0; t < Math.min(length, e.length - 1); t++) {
        ids[b * length + t] = e[t]!
        targets[b * length + t] = e[t + 1]!
        weights[b * length + t] = 1
      }
    })
    const idT = tf.tensor2d(ids, [B, length], "int32")
    const x = tf.add(Lm.tokens(model.weights, idT), Lm.positions(model.weights, tf.range(0, length, 1, "int32"))) // [B, T, C]
    const hidden = Lm.run(model.weights, c, x, Lm.causalMask(length), undefined) // [B, T, C]
    return Pink.maskedLoss(Lm.logits(model.weights, hidden), tf.tensor2d(targets, [B, length], "int32"), tf.tensor2d(weights, [B, length]))
  }, loopOptions(o, o.batchSize * length))
}
