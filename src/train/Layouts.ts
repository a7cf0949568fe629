/**
 * The LM's scene layouts as training items and as model input: each cell of a layout
 * (src/data/Layout.ts) is the sum of its tokens' embeddings, placed where the image tokens go, so
 * the LM learns to read a scene laid out on the ViT's grid — and later, through the projection,
 * the ViT's patches in its place. A sequence is several turns about one layout, each answer
 * followed by the end token (the loss covers the answers and their end tokens, or all the text
 * after the layout: `withLoss`). Each grounding turn carries its pointer, where the answer should
 * look (Pointers.ts).
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Layout from "../data/Layout.ts"
import * as Random from "../data/Random.ts"
import * as RcTasks from "../data/RcTasks.ts"
import * as Scene from "../data/Scene.ts"
import * as Config from "../model/Config.ts"
import * as Lm from "../model/Lm.ts"
import type * as Pink from "../model/Pink.ts"
import * as Prompt from "../model/Prompt.ts"
import * as Tok from "../model/Tokenizer.ts"
import * as W from "../model/Weights.ts"

/**
 * Where a grounding answer should look (the pointer guide, Pointers.ts): at each position that
 * writes one of the answer's box tokens (`queries`), the phrase's words after ` the` (`phrase`) and
 * the cells of the object it means (`cells`); all as token indices of the item.
 */
export interface Pointer {
  readonly queries: ReadonlyArray<number>
  readonly phrase: ReadonlyArray<number>
  readonly cells: ReadonlyArray<number>
}

export interface Item {
  /** Token ids of each cell, `width` per cell, padded with PAD: [N · width]. */
  readonly cells: Int32Array
  /** 1 for a real token of a cell, 0 for padding: [N · width]. */
  readonly cellMask: Float32Array
  readonly ids: ReadonlyArray<number>
  /** 1 where the next token is an answer's or its end token. */
  readonly weights: ReadonlyArray<number>
  /** One per grounding turn whose phrase the question holds word for word. */
  readonly pointers: ReadonlyArray<Pointer>
}

/** The tokens of a cell: its words, then its box. */
const cellTokens = (tok: Tok.Tokenizer, cell: Layout.Cell): Array<number> => [...cell.words.flatMap((w) => tok.encode(w)), ...tok.encode(cell.box)]

/** Tokens per cell: the widest cell of the scheme (3 words + a box). */
export const cellWidth = (tok: Tok.Tokenizer): number => 3 + tok.encode("[0.100,0.200,0.300,0.400]").length

/** A scene's layout cells as ids and mask for `c`'s grid. */
export const encodeCells = (tok: Tok.Tokenizer, c: Config.Config, scene: Scene.Scene): { readonly cells: Int32Array; readonly cellMask: Float32Array } => {
  const grid = c.vit.imageSize / c.vit.patchSize
  const K = cellWidth(tok)
  const cells = new Int32Array(grid * grid * K)
  const cellMask = new Float32Array(grid * grid * K)
  Layout.cells(scene, grid).forEach((cell, p) => {
    if (cell === undefined) return
    cellTokens(tok, cell).slice(0, K).forEach((id, k) => {
      cells[p * K + k] = id
      cellMask[p * K + k] = 1
    })
  })
  return { cells, cellMask }
}

/** The two halves of a layout cell: its object's words, or its box. */
export type CellPart = "words" | "box"

/**
 * A scene's layout cells with only `part` of each cell's tokens (the others masked out): the words
 * come first in a cell, then the box (`cellTokens`), so the two parts' masks add up to the whole.
 */
export const cellPart = (tok: Tok.Tokenizer, c: Config.Config, scene: Scene.Scene, part: CellPart): { readonly cells: Int32Array; readonly cellMask: Float32Array } => {
  const { cells, cellMask } = encodeCells(tok, c, scene)
  const K = cellWidth(tok)
  const words = Layout.cells(scene, c.vit.imageSize / c.vit.patchSize).map((cell) => (cell === undefined ? 0 : cell.words.flatMap((w) => tok.encode(w)).length))
  return { cells, cellMask: cellMask.map((m, i) => ((i % K < words[Math.floor(i / K)]!) === (part === "words") ? m : 0)) }
}

const indexOfRun = (xs: ReadonlyArray<number>, run: ReadonlyArray<number>): number => {
  for (let i = 0; i + run.length <= xs.length; i++) if (run.every((x, k) => xs[i + k] === x)) return i
  return -1
}

/** A grounding turn's pointer, its question starting at token `at`; undefined for other turns. */
const pointer = (tok: Tok.Tokenizer, scene: Scene.Scene, cells: ReadonlyArray<Layout.Cell | undefined>, slot: number, t: Layout.Turn, at: number, question: ReadonlyArray<number>, answer: ReadonlyArray<number>): Pointer | undefined => {
  const region = t.task === "grounding" ? scene.regions.find((r) => RcTasks.boxText(scene, r.box) === t.answer) : undefined
  if (region === undefined) return undefined
  const words = tok.encode(` ${region.phrase}`)
  const from = indexOfRun(question, words)
  if (from < 0) return undefined
  return {
    queries: Array.from({ length: answer.length - 1 }, (_, k) => at + question.length - 1 + k),
    phrase: Array.from({ length: words.length - 1 }, (_, k) => at + from + 1 + k),
    cells: cells.flatMap((cell, p) => (cell?.box === t.answer ? [slot + p] : []))
  }
}

/** A training item: the scene's layout and up to `turns` questions, cut to the LM's context. */
export const item = (tok: Tok.Tokenizer, c: Config.Config, scene: Scene.Scene, turns: ReadonlyArray<Layout.Turn>): Item => {
  const ids: Array<number> = [...Prompt.prefix(tok), ...Array<number>(Config.imageTokens(c)).fill(Tok.IMG)]
  const weights: Array<number> = ids.map(() => 0)
  const cells = Layout.cells(scene, c.vit.imageSize / c.vit.patchSize)
  const pointers: Array<Pointer> = []
  for (const t of turns) {
    const question = tok.encode(Prompt.turn(t.instruction))
    const answer = [...tok.encode(` ${t.answer}`), Tok.EOS]
    if (ids.length + question.length + answer.length > c.lm.maxLen + 1) break
    const p = pointer(tok, scene, cells, Prompt.imageSlot(tok), t, ids.length, question, answer)
    if (p !== undefined) pointers.push(p)
    ids.push(...question)
    weights.push(...question.map(() => 0))
    ids.push(...answer)
    weights.push(...answer.map(() => 1))
  }
  return { ...encodeCells(tok, c, scene), ids, weights, pointers }
}

/** What the next-token loss covers: the answers (and their end tokens), or all the text after the layout. */
export type Loss = "answers" | "text"

/** An item's loss weights under `loss`: its answers, or every token from `textFrom` on. */
export const withLoss = (item: Item, loss: Loss, textFrom: number): Item =>
  loss === "answers" ? item : { ...item, weights: item.ids.map((_, t) => (t >= textFrom ? 1 : 0)) }

/** Where the LM's layouts come from: generated scenes of `seed`, `turns` questions each, of `questions` (default `grounding`). */
export interface Source {
  readonly seed: number
  readonly turns: number
  readonly questions?: Layout.Questions
}

/** Item `i` of a source: generated scene `i` of its seed and its questions, the same on every call. */
export const itemAt = (tok: Tok.Tokenizer, c: Config.Config, o: Source, i: number): Item => {
  const scene = Scene.describeScene(i, { seed: o.seed, minObjects: 3, maxObjects: 6 })
  return item(tok, c, scene, Layout.questions(scene, o.turns, Random.rng(Random.derive(o.seed, 21, i)), o.questions))
}

/** The layout as the LM's input at the image slot: cells [B, N·K] and mask → [B, N, C]. */
export const embed = (w: W.Weights, cells: tf.Tensor, mask: tf.Tensor, N: number): tf.Tensor => {
  const [B, NK] = cells.shape as [number, number]
  const K = NK / N
  const C = W.get(w, "lm/wte").shape[1]!
  const e = tf.mul(Lm.tokens(w, cells), tf.expandDims(mask, -1)) // [B, N·K, C]
  return tf.sum(tf.reshape(e, [B, N, K, C]), 2) // [B, N, C]
}

/** A batch of items: ids [B, T], cells and mask [B, N·K] as tensors (caller disposes); next-token targets and 0/1 weights [B·T] as arrays. */
export const batch = (model: Pink.Model, chosen: ReadonlyArray<Item>) => {
  const T = Math.min(model.config.lm.maxLen, Math.max(...chosen.map((i) => i.ids.length - 1)))
  const B = chosen.length
  const ids = new Int32Array(B * T)
  const targets = new Int32Array(B * T)
  const weights = new Float32Array(B * T)
  chosen.forEach((e, b) => {
    for (let t = 0; t < Math.min(T, e.ids.length - 1); t++) {
      ids[b * T + t] = e.ids[t]!
      targets[b * T + t] = e.ids[t + 1]!
      weights[b * T + t] = e.weights[t + 1]!
    }
  })
  const NK = chosen[0]!.cells.length
  const cells = new Int32Array(B * NK)
  const mask = new Float32Array(B * NK)
  chosen.forEach((e, b) => {
    cells.set(e.cells, b * NK)
    mask.set(e.cellMask, b * NK)
  })
  return {
    ids: tf.tensor2d(ids, [B, T], "int32"),
    targets,
    weights,
    cells: tf.tensor2d(cells, [B, NK], "int32"),
    cellMask: tf.tensor2d(mask, [B, NK])
  }
}
