/** Greedy answers of a model to (image file, instruction) pairs, and the grounding prompts bootstrapping and evaluation ask. */
import * as tf from "@tensorflow/tfjs-core"
import * as Generate from "../model/Generate.ts"
import type * as Pink from "../model/Pink.ts"
import type * as Tok from "../model/Tokenizer.ts"
import * as Data from "./Data.ts"
import type { Log } from "./Session.ts"

/** Describe a box. */
export const GROUNDING_CAPTION = "Give a short phrase for <loc>{box}</loc>."
/** Ground a phrase. */
export const GROUNDING = "Where is <des>{phrase}</des>? Answer with its box."

/** Greedy answers for (image file, instruction) pairs, in batches. */
export const answer = async (model: Pink.Model, tok: Tok.Tokenizer, items: ReadonlyArray<{ readonly image: string; readonly instruction: string }>, maxNewTokens: number, batchSize: number, log: Log, label: string): Promise<Array<string>> => {
  const pixels = Data.pixelLoader(model.config)
  const S = model.config.vit.imageSize
  const out: Array<string> = []
  for (let i = 0; i < items.length; i += batchSize) {
    const chunk = items.slice(i, i + batchSize)
    const data = new Float32Array(chunk.length * S * S * 3)
    chunk.forEach((item, k) => data.set(pixels(item.image), k * S * S * 3))
    const images = tf.tensor4d(data, [chunk.length, S, S, 3])
    out.push(...(await Generate.generate(model, tok, images, chunk.map((x) => x.instruction), { maxNewTokens })).map((s) => s.trim()))
    images.dispose()
    if (i === 0 || (i / batchSize) % 10 === 9) log(`${label}: ${Math.min(items.length, i + batchSize)}/${items.length}`)
  }
  return out
}
