/**
 * Trials of the LM tower's pretraining (pipelines/lm-study.ts). Until 2026-12-04 the LM tower
 * learned to read a box out of a layout cell in a few hundred steps, then stayed at a phrase-blind
 * choice among the scene's objects. A trial pretrains the same LM on the same layouts, changing
 * which positions each block's attention may see and how it weighs distance, what the loss covers
 * and whether the pointer guide teaches two heads where to look, and measures held-out grounding
 * against steps with the LM gate's prompt and metric, decoded under the same attention. Every
 * design is a set of additive masks, so the blocks are the LM's own (Layers.block).
 *
 * - `causal`: plain causal attention, the LM towers' before 2026-12-04.
 * - `alibi`: plus ALiBi's distance penalty (−slope · distance) in half the heads, so a position
 *   weighs the tokens just before it (a question's phrase) without learning where they are: the
 *   LM's own attention since (Lm.positionBias).
 * - `prefix`: the image and the first question are read both ways (a prefix LM, as PaliGemma), so
 *   a layout cell can see the phrase asked about it; the answers stay causal.
 * - `image-from-1`: in the first block, text does not see the image, so an answer reads a cell only
 *   from the second block on, where the phrase can already be at its position.
 *
 * `cells: "own"` keeps each layout cell from reading the cells before it. `loss: "text"` trains
 * the next-token loss on all the text after the layout — the questions too, as a pretrained LM's
 * loss covers all its text: predicting a phrase's next word from the layout already asks which
 * described objects the words so far fit, and keeps the words worth carrying through the blocks.
 * `guide: "heads"` adds the pointer guide (Pointers.ts), weighted `guideWeight`. And
 * `background: "token"` writes a word of its own (` background`, new to the vocabulary) into each
 * empty cell. An empty cell is otherwise its position embedding alone, which the blocks' layer
 * norms scale up to a full-size vector; measured on the LM tower shipped before 2026-12-04, its
 * later blocks' heads put most of their attention there.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Box from "../data/Box.ts"
import * as Scene from "../data/Scene.ts"
import * as Config from "../model/Config.ts"
import * as Freeze from "../model/Freeze.ts"
import * as L from "../model/Layers.ts"
import * as Lm from "../model/Lm.ts"
import * as Pink from "../model/Pink.ts"
import * as Prompt from "../model/Prompt.ts"
import * as Tok from "../model/Tokenizer.ts"
import * as W from "../model/Weights.ts"
import * as Metrics from "../eval/Metrics.ts"
import { GROUNDING } from "./Answer.ts"
import * as Layouts from "./Layouts.ts"
import * as Loop from "./Loop.ts"
import * as Pointers from "./Pointers.ts"
import { checkpointEvery, started, thin, type TrainOptions } from "./Session.ts"

export const DESIGNS = ["causal", "alibi", "prefix", "image-from-1"] as const
export type Design = (typeof DESIGNS)[number]

/**
 * Each block's additive attention mask for a batch of T positions whose rows' prefixes (image
 * and first question, up to the first answer token) have the given lengths: [B or 1, H or 1, T, T].
 */
export const masks = (design: Design, c: Config.Config, imageSlot: number, prefixes: ReadonlyArray<number>, T: number, cells: Cells = "causal"): Array<tf.Tensor> => {
  const ms = designMasks(design, c, imageSlot, prefixes, T)
  if (cells === "causal") return ms
  const N = Config.imageTokens(c)
  const apart = new Float32Array(T * T)
  for (let q = imageSlot; q < Math.min(imageSlot + N, T); q++) for (let k = imageSlot; k < q; k++) apart[q * T + k] = -1e9
  const extra = tf.tensor4d(apart, [1, 1, T, T])
  const memo = new Map<tf.Tensor, tf.Tensor>()
  const out = ms.map((m) => {
    if (!memo.has(m)) memo.set(m, tf.add(m, extra))
    return memo.get(m)!
  })
  extra.dispose()
  new Set(ms).forEach((m) => m.dispose())
  return out
}

/**
 * Whether a layout cell reads the cells before it (`causal`, the LM's order) or only itself
 * (`own`), so each cell's state stays a function of its own words and box, and only the text reads
 * across cells.
 */
export type Cells = "causal" | "own"

const designMasks = (design: Design, c: Config.Config, imageSlot: number, prefixes: ReadonlyArray<number>, T: number): Array<tf.Tensor> => {
  const depth = c.lm.depth
  const causal = Lm.causalMask(T) // [1, 1, T, T]
  switch (design) {
    case "causal":
      return Array.from({ length: depth }, () => causal)
    case "alibi": {
      const m = tf.tidy(() => tf.add(causal, Lm.positionBias(c.lm.heads, T, T))) // [1, H, T, T]: the LM's own penalty
      causal.dispose()
      return Array.from({ length: depth }, () => m)
    }
    case "prefix": {
      const open = new Float32Array(prefixes.length * T * T)
      prefixes.forEach((p, b) => {
        for (let q = 0; q < Math.min(p, T); q++) for (let k = q + 1; k < Math.min(p, T); k++) open[(b * T + q) * T + k] = 1e9
      })
      const m = tf.tidy(() => tf.add(causal, tf.tensor4d(open, [prefixes.length, 1, T, T]))) // [B, 1, T, T]
      causal.dispose()
      return Array.from({ length: depth }, () => m)
    }
    case "image-from-1": {
      const N = Config.imageTokens(c)
      const blind = new Float32Array(T * T)
      for (let q = imageSlot + N; q < T; q++) for (let k = imageSlot; k < imageSlot + N; k++) blind[q * T + k] = -1e9
      const first = tf.tidy(() => tf.add(causal, tf.tensor4d(blind, [1, 1, T, T]))) // [1, 1, T, T]
      return Array.from({ length: depth }, (_, i) => (i === 0 ? first : causal))
    }
  }
}

/**
 * The LM's hidden states [B, T, C] over a layout in the image slot, each block under its mask:
 * Lm.run's loop with a mask per block and without Lm.run's own distance penalty, so a design's
 * masks are the whole of its attention (`alibi` adds the same penalty: that design is the LM's
 * forward pass). `entering` collects each block's input, as Lm.run's does.
 */
export const hidden = (model: Pink.Model, ids: tf.Tensor, embeddings: tf.Tensor, blockMasks: ReadonlyArray<tf.Tensor>, entering?: Array<tf.Tensor>): tf.Tensor => {
  let h = Pink.inputs(model, ids, { embeddings }, { training: true }) // [B, T, C]
  blockMasks.forEach((m, i) => {
    entering?.push(h)
    h = L.block(model.weights, `lm/h${i}`, h, model.config.lm.heads, m, undefined) // [B, T, C]
  })
  return L.layerNorm(model.weights, "lm/lnf", h) // [B, T, C]
}

const disposeAll = (ts: ReadonlyArray<tf.Tensor>) => new Set(ts).forEach((t) => t.dispose())

/**
 * Greedy answers to prompts over their layouts, under the design's masks: no cache, each row
 * right-padded and read at its own last token, `maxNewTokens` at most, cut at the end token.
 */
export const answers = (model: Pink.Model, tok: Tok.Tokenizer, design: Design, layouts: { readonly cells: tf.Tensor; readonly mask: tf.Tensor }, prompts: ReadonlyArray<ReadonlyArray<number>>, maxNewTokens: number, cells: Cells = "causal"): Array<string> => {
  const c = model.config
  const seqs = prompts.map((p) => [...p])
  const done = prompts.map(() => false)
  const embeddings = tf.tidy(() => Layouts.embed(model.weights, layouts.cells, layouts.mask, Config.imageTokens(c)))
  for (let s = 0; s < maxNewTokens && done.some((d) => !d); s++) {
    const T = Math.max(...seqs.map((x) => x.length))
    if (T > c.lm.maxLen) break
    const next = tf.tidy(() => {
      const ids = tf.tensor2d(seqs.flatMap((x) => [...x, ...Array<number>(T - x.length).fill(Tok.PAD)]), [seqs.length, T], "int32")
      const ms = masks(design, c, model.imageSlot, prompts.map((p) => p.length), T, cells)
      const h = hidden(model, ids, embeddings, ms) // [B, T, C]
      disposeAll(ms)
      const last = tf.gather(tf.reshape(h, [-1, c.lm.width]), tf.tensor1d(seqs.map((x, b) => b * T + x.length - 1), "int32")) // [B, C]
      return tf.argMax(tf.matMul(last, W.get(model.weights, "lm/head"), false, true), -1) // [B]
    })
    const ids = Array.from(next.dataSync())
    next.dispose()
    seqs.forEach((x, b) => {
      if (done[b]) return
      if (ids[b] === Tok.EOS) done[b] = true
      else x.push(ids[b]!)
    })
  }
  embeddings.dispose()
  return seqs.map((x, b) => tok.decode(x.slice(prompts[b]!.length)).trim())
}

export type Background = "empty" | "token"

/** The word written into empty cells with `background: "token"`. */
export const BACKGROUND = " background"

/** A layout's cells with each empty one holding the background word (token `id`), in place. */
export const fillBackground = <A extends { readonly cells: Int32Array; readonly cellMask: Float32Array }>(e: A, width: number, id: number): A => {
  for (let p = 0; p < e.cells.length / width; p++) {
    if (e.cellMask[p * width] !== 0) continue
    e.cells[p * width] = id
    e.cellMask[p * width] = 1
  }
  return e
}

/** A layout's cells under `background`. */
const layoutOf = (tok: Tok.Tokenizer, background: Background) => {
  const width = Layouts.cellWidth(tok)
  const id = tok.vocab.indexOf(BACKGROUND)
  return <A extends { readonly cells: Int32Array; readonly cellMask: Float32Array }>(e: A): A => (background === "token" ? fillBackground(e, width, id) : e)
}

export type Guide = "none" | "heads"

/**
 * Held-out: the mean attention share of the pointer guide's heads (Pointers.ts) at the answers'
 * box positions — the gathering head's on the phrase, the pointing head's on the meant object's
 * cells — over `items` layouts of `seed` (whether or not the trial teaches them).
 */
export const guideShares = (model: Pink.Model, tok: Tok.Tokenizer, design: Design, o: { readonly seed: number; readonly items: number; readonly turns: number; readonly cells: Cells }): { readonly gather: number; readonly point: number } =>
  tf.tidy(() => {
    const c = model.config
    const items = Array.from({ length: o.items }, (_, i) => Layouts.itemAt(tok, c, { seed: o.seed, turns: o.turns }, i))
    const b = Layouts.batch(model, items)
    const ms = masks(design, c, model.imageSlot, items.map((it) => it.weights.indexOf(1)), b.ids.shape[1]!, o.cells)
    const entering: Array<tf.Tensor> = []
    hidden(model, b.ids, Layouts.embed(model.weights, b.cells, b.cellMask, Config.imageTokens(c)), ms, entering)
    const g = Pointers.guide(model, entering, ms, items.map((it) => it.pointers))
    return { gather: g.gather.dataSync()[0]!, point: g.point.dataSync()[0]! }
  })

/**
 * The LM gate's measure (Gates.lmGrounding's queries, prompt and metric) under a design. Its
 * queries are built as the gate builds them; sharing that code would move the shipped lm-gate's
 * key, so it waits for the next re-export too.
 */
export const grounding = (model: Pink.Model, tok: Tok.Tokenizer, design: Design, o: { readonly seed: number; readonly scenes: number; readonly batchSize: number; readonly background: Background; readonly cells: Cells }): { readonly accuracy: number; readonly n: number } => {
  const c = model.config
  const queries = Array.from({ length: o.scenes }, (_, i) => Scene.describeScene(i, { seed: o.seed, minObjects: 3, maxObjects: 6 }))
    .flatMap((scene) => scene.regions.map((r) => ({ scene, phrase: r.phrase, truth: Box.normalise(r.box, scene.width, scene.height) })))
  const results: Array<{ correct: boolean; formatError: boolean }> = []
  for (let i = 0; i < queries.length; i += o.batchSize) {
    const chunk = queries.slice(i, i + o.batchSize)
    const encoded = chunk.map((q) => layoutOf(tok, o.background)(Layouts.encodeCells(tok, c, q.scene)))
    const K = encoded[0]!.cells.length
    const cells = tf.tensor2d(Int32Array.from(encoded.flatMap((e) => [...e.cells])), [chunk.length, K], "int32")
    const mask = tf.tensor2d(Float32Array.from(encoded.flatMap((e) => [...e.cellMask])), [chunk.length, K])
    const prompts = chunk.map((q) => Prompt.promptIds(tok, c, GROUNDING.replace("<des>{phrase}</des>", q.phrase)))
    const out = answers(model, tok, design, { cells, mask }, prompts, 6, o.cells)
    cells.dispose()
    mask.dispose()
    chunk.forEach((q, k) => results.push(Metrics.rec(out[k]!, q.truth)))
  }
  const a = Metrics.accuracy(results)
  return { accuracy: a.accuracy, n: a.n }
}

/**
 * One trial: the LM tower's pretraining (`turns` questions over each of `scenes` layouts of
 * `sceneSeed`, made as read) under `design`, measured at each checkpoint on `heldOutScenes`
 * scenes of `heldOutSeed`. Returns the curve and the last measurement.
 */
export const lmTrial = async (
  vocab: ReadonlyArray<string>,
  o: TrainOptions,
  data: { readonly design: Design; readonly background: Background; readonly loss: Layouts.Loss; readonly guide: Guide; readonly guideWeight: number; readonly cells: Cells; readonly sceneSeed: number; readonly scenes: number; readonly turns: number; readonly heldOutSeed: number; readonly heldOutScenes: number }
) => {
  const backend = await started(o.log)
  const tok = Tok.fromVocab(data.background === "token" ? [...vocab, BACKGROUND] : vocab)
  const c = Config.presets[o.preset]
  const model = Pink.init(c, tok.size, Prompt.imageSlot(tok), o.seed, false)
  if (tok.coordinates === "bins") Lm.initCoordinateRows(model.weights, tok.vocab)
  const layout = layoutOf(tok, data.background)
  const source = { seed: data.sceneSeed, turns: data.turns }
  const N = Config.imageTokens(c)
  const measure = (step: number) => {
    const g = grounding(model, tok, data.design, { seed: data.heldOutSeed, scenes: data.heldOutScenes, batchSize: 32, background: data.background, cells: data.cells })
    const shares = data.background === "empty" ? guideShares(model, tok, data.design, { seed: data.heldOutSeed, items: 32, turns: data.turns, cells: data.cells }) : undefined
    o.log(`step ${step}: held-out grounding ${(100 * g.accuracy).toFixed(1)} % of ${g.n} (${data.design}, background ${data.background}, loss on ${data.loss}, guide ${data.guide}, cells ${data.cells})`)
    return Promise.resolve({ grounding: g.accuracy, ...(shares && { gather: shares.gather, point: shares.point }) })
  }
  const sample = Array.from({ length: Math.min(64, data.scenes) }, (_, i) => Layouts.itemAt(tok, c, source, i).ids.length)
  const r = await Loop.train(model.weights, Freeze.policy("lm", model), (step) => {
    const items = Array.from({ length: o.batchSize }, (_, k) => layout(Layouts.itemAt(tok, c, source, (step * o.batchSize + k) % data.scenes)))
    // The prefix design's prefix ends where the answers start, whatever the loss covers.
    const prefixes = items.map((it) => it.weights.indexOf(1))
    const b = Layouts.batch(model, items.map((it) => Layouts.withLoss(it, data.loss, model.imageSlot + N + 1)))
    const ms = masks(data.design, c, model.imageSlot, prefixes, b.ids.shape[1]!, data.cells)
    const entering: Array<tf.Tensor> = []
    const loss = Pink.answerLoss(model, hidden(model, b.ids, Layouts.embed(model.weights, b.cells, b.cellMask, N), ms, entering), b.targets, b.weights)
    if (data.guide === "none") return loss
    const g = Pointers.guide(model, entering, ms, items.map((it) => it.pointers))
    return tf.add(loss, tf.mul(g.loss, data.guideWeight)) as tf.Scalar
  }, {
    steps: o.steps,
    lr: o.lr,
    warmupFraction: o.warmup,
    seed: o.seed,
    adamw: { weightDecay: o.weightDecay },
    tokensPerStep: Math.round(o.batchSize * sample.reduce((n, l) => n + l, 0) / sample.length),
    checkpointDir: o.checkpointDir,
    checkpointEvery: checkpointEvery(o),
    evaluate: { every: checkpointEvery(o), run: measure },
    progressEveryMs: 3000
  })
  W.dispose(model.weights)
  const last = r.evaluations[r.evaluations.length - 1]
  return {
    metrics: { grounding: 0, ...last?.metrics, steps: o.steps, ...Object.fromEntries(r.evaluations.flatMap((e) => Object.entries(e.metrics).map(([k, v]) => [`${k}@${e.step}`, v]))) },
    curve: { losses: thin(r.losses), heldOut: r.evaluations, design: data.design, background: data.background, loss: data.loss, guide: data.guide, cells: data.cells, backend: backend.name }
  }
}
