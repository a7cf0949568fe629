/**
 * From data artifacts to training batches: JSONL records (image, instruction, answer) become token
 * sequences in the conversation layout and images at the model's input size (cached per file);
 * batches are drawn from the seed and the step.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as path from "node:path"
import * as Build from "../data/Build.ts"
import * as Raster from "../data/Raster.ts"
import type * as Config from "../model/Config.ts"
import * as Prompt from "../model/Prompt.ts"
import type * as Tok from "../model/Tokenizer.ts"
import * as W from "../model/Weights.ts"

export interface Item {
  readonly image: string
  readonly example: Prompt.Example
}

export interface Set {
  readonly items: ReadonlyArray<Item>
  /** Records longer than the LM's context, left out. */
  readonly tooLong: number
  readonly pixels: (image: string) => Float32Array
}

/** Image file → model input [S, S, 3], decoded and resized once per file. */
export const pixelLoader = (c: Config.Config): ((image: string) => Float32Array) => {
  const cache = new Map<string, Float32Array>()
  return (image) => {
    let p = cache.get(image)
    if (p === undefined) {
      p = Raster.toInput(Raster.read(image), c.vit.imageSize)
      cache.set(image, p)
    }
    return p
  }
}

/** Loads `file` (JSONL of Build.Record) from `dir`, with images resized once each. */
export const load = (sources: ReadonlyArray<{ readonly dir: string; readonly file: string }>, tok: Tok.Tokenizer, c: Config.Config): Set => {
  const pixels = pixelLoader(c)
  const items: Array<Item> = []
  let tooLong = 0
  for (const { dir, file } of sources) {
    for (const r of Build.readJsonl<Build.Record>(path.join(dir, file))) {
      const example = Prompt.example(tok, c, r.instruction, r.answer)
      if (example.ids.length > c.lm.maxLen + 1) {
        tooLong++
        continue
      }
      items.push({ image: path.join(dir, r.image), example })
    }
  }
  return { items, tooLong, pixels }
}

/** The batch of `step`: `size` items drawn from the seed, as tensors (caller disposes). */
export const batch = (set: Set, c: Config.Config, size: number, seed: number, step: number) => {
  const next = W.rng(W.seedFor(seed, `batch-${step}`))
  const chosen = Array.from({ length: size }, () => set.items[Math.floor(next() * set.items.length)]!)
  const T = Math.min(c.lm.maxLen, Math.max(...chosen.map((i) => i.example.ids.length - 1)))
  const b = Prompt.batch(chosen.map((i) => i.example), T)
  const S = c.vit.imageSize
  const images = new Float32Array(size * S * S * 3)
  chosen.forEach((item, i) => images.set(set.pixels(item.image), i * S * S * 3))
  return {
    ids: tf.tensor2d(b.ids, [size, T], "int32"),
    targets: tf.tensor2d(b.targets, [size, T], "int32"),
    weights: tf.tensor2d(b.weights, [size, T]),
    /** The targets and weights as arrays [B·T], for Pink.answerLoss. */
    targetIds: b.targets,
    weightValues: b.weights,
    images: tf.tensor4d(images, [size, S, S, 3]),
    tokens: size * T
  }
}
