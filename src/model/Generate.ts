/**
 * Batched greedy decoding with a key/value cache: the prompt is run once (prefill), then each new
 * token attends to the cached keys and values, so a step costs O(length) instead of a full forward.
 * `cache: false` recomputes the whole sequence every step (the reference and the benchmark peer).
 *
 * Prompts of different lengths are padded *after* the image tokens, so the image slot stays at the
 * same index in every row; padded keys are masked out and positions skip the padding.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Config from "./Config.ts"
import type * as L from "./Layers.ts"
import * as Lm from "./Lm.ts"
import * as Pink from "./Pink.ts"
import * as Prompt from "./Prompt.ts"
import * as Tok from "./Tokenizer.ts"

export interface Options {
  readonly maxNewTokens: number
  readonly cache?: boolean
}

interface Layout {
  readonly ids: Int32Array // [B, Lp]
  readonly positions: Int32Array // [B, Lp]
  readonly keyMask: Float32Array // [B, Lp]: 0 or -1e9
  readonly next: Array<number> // next position per row
  readonly length: number
}

const layout = (m: Pink.Model, tok: Tok.Tokenizer, instructions: ReadonlyArray<string>): Layout => {
  const prompts = instructions.map((i) => Prompt.promptIds(tok, m.config, i))
  const Lp = Math.max(...prompts.map((p) => p.length))
  const B = prompts.length
  const split = m.imageSlot + Config.imageTokens(m.config)
  const ids = new Int32Array(B * Lp)
  const positions = new Int32Array(B * Lp)
  const keyMask = new Float32Array(B * Lp)
  const next: Array<number> = []
  prompts.forEach((p, b) => {
    const pad = Lp - p.length
    for (let t = 0; t < Lp; t++) {
      const src = t < split ? t : t < split + pad ? -1 : t - pad
      ids[b * Lp + t] = src < 0 ? Tok.PAD : p[src]!
      positions[b * Lp + t] = src < 0 ? 0 : src
      keyMask[b * Lp + t] = src < 0 ? -1e9 : 0
    }
    next.push(p.length)
  })
  return { ids, positions, keyMask, next, length: Lp }
}

/**
 * Greedy answers for one image each: images [B, S, S, 3], or what stands in the image slot already
 * embedded, [B, N, C_lm] (an LM reading scene layouts).
 */
export const generate = async (m: Pink.Model, tok: Tok.Tokenizer, image: tf.Tensor | { readonly embeddings: tf.Tensor }, instructions: ReadonlyArray<string>, o: Options): Promise<Array<string>> => {
  const slot = image instanceof tf.Tensor ? { images: image } : image
  const B = instructions.length
  const lay = layout(m, tok, instructions)
  const room = m.config.lm.maxLen - Math.max(...lay.next)
  const steps = Math.max(0, Math.min(o.maxNewTokens, room))
  const out: Array<Array<number>> = Array.from({ length: B }, () => [])
  const done = new Array<boolean>(B).fill(false)
  const run = { training: false }
  const take = (ids: Int32Array) => {
    for (let b = 0; b < B; b++) {
      if (done[b]) continue
      out[b]!.push(ids[b]!)
      if (ids[b] === Tok.EOS) done[b] = true
    }
  }
  const argmaxLast = (logits: tf.Tensor): tf.Tensor => {
    const [, T] = logits.shape as [number, number, number]
    return tf.argMax(tf.squeeze(tf.slice(logits, [0, T - 1, 0], [-1, 1, -1]), [1]), -1) // [B]
  }
  // Read asynchronously: WebGPU in Node cannot read synchronously.
  const read = async (t: tf.Tensor): Promise<Int32Array> => {
    const values = Int32Array.from(await t.data())
    t.dispose()
    return values
  }

  if (o.cache === false) {
    // Reference: the whole sequence again at every step.
    let ids = Array.from(lay.ids)
    let positions = Array.from(lay.positions)
    let keyMask = Array.from(lay.keyMask)
    let T = lay.length
    const imageTokens = "embeddings" in slot ? tf.clone(slot.embeddings) : tf.tidy(() => Pink.imageEmbeddings(m, slot.images, run))
    for (let step = 0; step < steps && !done.every(Boolean); step++) {
      const next = await read(tf.tidy(() => {
        const idT = tf.tensor2d(ids, [B, T], "int32")
        const x = Pink.inputs(m, idT, { embeddings: imageTokens }, run, tf.tensor2d(positions, [B, T], "int32"))
        const mask = tf.add(Lm.causalMask(T), tf.tensor4d(keyMask, [B, 1, 1, T])) // [B, 1, T, T]
        return argmaxLast(Lm.logits(m.weights, Lm.run(m.weights, m.config, x, mask, adapters(m))))
      }))
      take(next)
      const grow = (arr: Array<number>, add: (b: number) => number) =>
        Array.from({ length: B }, (_, b) => [...arr.slice(b * T, (b + 1) * T), add(b)]).flat()
      ids = grow(ids, (b) => next[b]!)
      positions = grow(positions, (b) => lay.next[b]! + step)
      keyMask = grow(keyMask, () => 0)
      T++
    }
    imageTokens.dispose()
    return out.map((ids) => tok.decode(ids))
  }

  // Prefill: run the prompt once and keep every layer's keys and values.
  let caches: Array<L.LayerCache> = []
  let keyMask: tf.Tensor = tf.tensor4d(lay.keyMask, [B, 1, 1, lay.length]) // [B, 1, 1, Tk]
  let next = await read(tf.tidy(() => {
    const idT = tf.tensor2d(lay.ids, [B, lay.length], "int32")
    const x = Pink.inputs(m, idT, slot, run, tf.tensor2d(lay.positions, [B, lay.length], "int32")) // [B, Lp, C]
    const mask = tf.add(Lm.causalMask(lay.length), keyMask) // [B, 1, Lp, Lp]
    const fresh: Array<L.LayerCache> = []
    const hidden = Lm.run(m.weights, m.config, x, mask, adapters(m), { past: undefined, next: fresh })
    caches = fresh.map((c) => ({ k: tf.keep(c.k), v: tf.keep(c.v) }))
    return argmaxLast(Lm.logits(m.weights, hidden))
  }))
  take(next)
  for (let step = 1; step < steps && !done.every(Boolean); step++) {
    const grown = tf.tidy(() => tf.keep(tf.concat([keyMask, tf.zeros([B, 1, 1, 1])], 3))) // [B, 1, 1, Tk+1]
    keyMask.dispose()
    keyMask = grown
    const fresh: Array<L.LayerCache> = []
    const previous = next
    next = await read(tf.tidy(() => {
      const idT = tf.tensor2d(Array.from(previous), [B, 1], "int32") // [B, 1]
      const pos = tf.tensor2d(lay.next.map((p) => p + step - 1), [B, 1], "int32") // [B, 1]
      const x = tf.add(Lm.tokens(m.weights, idT), Lm.positions(m.weights, pos)) // [B, 1, C]
      const hidden = Lm.run(m.weights, m.config, x, keyMask, adapters(m), { past: caches, next: fresh }) // [B, 1, C]
      for (const c of fresh) {
        tf.keep(c.k)
        tf.keep(c.v)
      }
      return argmaxLast(Lm.logits(m.weights, hidden))
    }))
    for (const c of caches) {
      c.k.dispose()
      c.v.dispose()
    }
    caches = fresh
    take(next)
  }
  for (const c of caches) {
    c.k.dispose()
    c.v.dispose()
  }
  keyMask.dispose()
  return out.map((ids) => tok.decode(ids))
}

const adapters = (m: Pink.Model): L.AdapterOptions | undefined =>
  Pink.hasAdapters(m) ? { activation: m.config.adapter.activation, dropout: 0, training: false, seed: 0 } : undefined
