/**
 * Trials of the LM tower's attention design (pipelines/lm-study.ts). The LM tower (LmTower.ts)
 * learns to read a box out of a layout cell in a few hundred steps, then stays at a phrase-blind
 * choice among the scene's objects. A trial pretrains the same LM on the same layouts with the
 * same loss, changing only which positions each block's attention may see and how it weighs
 * distance, and measures held-out grounding against steps with the LM gate's prompt and metric,
 * decoded under the same attention. Every design is a set of additive masks, so the blocks are
 * the LM's own (Layers.block).
 *
 * - `causal`: the LM tower's attention.
 * - `alibi`: plus ALiBi's distance penalty (−slope · distance) in half the heads, so a position
 *   weighs the tokens just before it (a question's phrase) without learning where they are.
 * - `prefix`: the image and the first question are read both ways (a prefix LM, as PaliGemma), so
 *   a layout cell can see the phrase asked about it; the answers stay causal.
 * - `image-from-1`: in the first block, text does not see the image, so an answer reads a cell only
 *   from the second block on, where the phrase can already be at its position.
 *
 * Apart from the design, `loss: "text"` trains the next-token loss on all the text after the
 * layout — the questions too, as a pretrained LM's loss covers all its text — where the tower's
 * covers only the answers: predicting a phrase's next word from the layout already asks which
 * described objects the words so far fit, and keeps the words worth carrying through the blocks.
 * And `background: "token"` writes a word of its own (` background`, new to
 * the vocabulary) into each empty cell. An empty cell is otherwise its position embedding alone,
 * which the blocks' layer norms scale up to a full-size vector; measured on the shipped LM tower,
 * its later blocks' heads put most of their attention there.
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
import { checkpointEvery, started, thin, type TrainOptions } from "./Session.ts"

export const DESIGNS = ["causal", "alibi", "prefix", "image-from-1"] as const
export type Design = (typeof DESIGNS)[number]

/** ALiBi slopes: 1/2, 1/8, … for the first half of the heads, none for the rest. */
export const alibiSlopes = (heads: number): Array<number> => Array.from({ length: heads }, (_, h) => (h < heads / 2 ? 2 ** -(1 + 2 * h) : 0))

/**
 * Each block's additive attention mask for a batch of T positions whose rows' prefixes (image
 * and first question, up to the first answer token) have the given lengths: [B or 1, H or 1, T, T].
 */
export const masks = (design: Design, c: Config.Config, imageSlot: number, prefixes: ReadonlyArray<number>, T: number): Array<tf.Tensor> => {
  const depth = c.lm.depth
  const causal = Lm.causalMask(T) // [1, 1, T, T]
  switch (design) {
    case "causal":
      return Array.from({ length: depth }, () => causal)
    case "alibi": {
      const slopes = alibiSlopes(c.lm.heads)
      const bias = new Float32Array(slopes.length * T * T)
      slopes.forEach((s, h) => {
        if (s > 0) for (let q = 0; q < T; q++) for (let k = 0; k <= q; k++) bias[(h * T + q) * T + k] = -s * (q - k)
      })
      const m = tf.tidy(() => tf.add(causal, tf.tensor4d(bias, [1, slopes.length, T, T]))) // [1, H, T, T]
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
 * Lm.run's loop with a mask per block (Lm.run takes one for all; widening it would move every
 * shipped tower's key, so it waits for the next re-export).
 */
export const hidden = (model: Pink.Model, ids: tf.Tensor, embeddings: tf.Tensor, blockMasks: ReadonlyArray<tf.Tensor>): tf.Tensor => {
  let h = Pink.inputs(model, ids, { embeddings }, { training: true }) // [B, T, C]
  blockMasks.forEach((m, i) => {
    h = L.block(model.weights, `lm/h${i}`, h, model.config.lm.heads, m, undefined) // [B, T, C]
  })
  return L.layerNorm(model.weights, "lm/lnf", h) // [B, T, C]
}

const disposeAll = (ts: ReadonlyArray<tf.Tensor>) => new Set(ts).forEach((t) => t.dispose())

/**
 * Greedy answers to prompts over their layouts, under the design's masks: no cache, each row
 * right-padded and read at its own last token, `maxNewTokens` at most, cut at the end token.
 */
export const answers = (model: Pink.Model, tok: Tok.Tokenizer, design: Design, layouts: { readonly cells: tf.Tensor; readonly mask: tf.Tensor }, prompts: ReadonlyArray<ReadonlyArray<number>>, maxNewTokens: number): Array<string> => {
  const c = model.config
  const seqs = prompts.map((p) => [...p])
  const done = prompts.map(() => false)
  const embeddings = tf.tidy(() => Layouts.embed(model.weights, layouts.cells, layouts.mask, Config.imageTokens(c)))
  for (let s = 0; s < maxNewTokens && done.some((d) => !d); s++) {
    const T = Math.max(...seqs.map((x) => x.length))
    if (T > c.lm.maxLen) break
    const next = tf.tidy(() => {
      const ids = tf.tensor2d(seqs.flatMap((x) => [...x, ...Array<number>(T - x.length).fill(Tok.PAD)]), [seqs.length, T], "int32")
      const ms = masks(design, c, model.imageSlot, prompts.map((p) => p.length), T)
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
export type Loss = "answers" | "text"

/** An item's loss weights under `loss`: its answers (the tower's), or every token after the layout. */
export const withLoss = (item: Layouts.Item, loss: Loss, textFrom: number): Layouts.Item =>
  loss === "answers" ? item : { ...item, weights: item.ids.map((_, t) => (t >= textFrom ? 1 : 0)) }

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

/**
 * The LM gate's measure (Gates.lmGrounding's queries, prompt and metric) under a design. Its
 * queries are built as the gate builds them; sharing that code would move the shipped lm-gate's
 * key, so it waits for the next re-export too.
 */
export const grounding = (model: Pink.Model, tok: Tok.Tokenizer, design: Design, o: { readonly seed: number; readonly scenes: number; readonly batchSize: number; readonly background: Background }): { readonly accuracy: number; readonly n: number } => {
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
    const out = answers(model, tok, design, { cells, mask }, prompts, 6)
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
  data: { readonly design: Design; readonly background: Background; readonly loss: Loss; readonly sceneSeed: number; readonly scenes: number; readonly turns: number; readonly heldOutSeed: number; readonly heldOutScenes: number }
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
    const g = grounding(model, tok, data.design, { seed: data.heldOutSeed, scenes: data.heldOutScenes, batchSize: 32, background: data.background })
    o.log(`step ${step}: held-out grounding ${(100 * g.accuracy).toFixed(1)} % of ${g.n} (${data.design}, background ${data.background}, loss on ${data.loss})`)
    return Promise.resolve({ grounding: g.accuracy })
  }
  const sample = Array.from({ length: Math.min(64, data.scenes) }, (_, i) => Layouts.itemAt(tok, c, source, i).ids.length)
  const r = await Loop.train(model.weights, Freeze.policy("lm", model), (step) => {
    const items = Array.from({ length: o.batchSize }, (_, k) => layout(Layouts.itemAt(tok, c, source, (step * o.batchSize + k) % data.scenes)))
    // The prefix design's prefix ends where the answers start, whatever the loss covers.
    const prefixes = items.map((it) => it.weights.indexOf(1))
    const b = Layouts.batch(model, items.map((it) => withLoss(it, data.loss, model.imageSlot + N + 1)))
    const ms = masks(data.design, c, model.imageSlot, prefixes, b.ids.shape[1]!)
    const loss = Pink.answerLoss(model, hidden(model, b.ids, Layouts.embed(model.weights, b.cells, b.cellMask, N), ms), b.targets, b.weights)
    return loss
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
    metrics: { grounding: last?.metrics.grounding ?? 0, steps: o.steps, ...Object.fromEntries(r.evaluations.map((e) => [`grounding@${e.step}`, e.metrics.grounding])) },
    curve: { losses: thin(r.losses), heldOut: r.evaluations, design: data.design, background: data.background, loss: data.loss, backend: backend.name }
  }
}
