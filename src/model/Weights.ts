/**
 * Named model weights (`vit/h0/attn/qkv/w`, …) as TF.js variables, their seeded initialisers, and
 * the TF.js model-directory format (`model.json` + binary shards) they are saved in and loaded from.
 * Loading checks every name and shape, so converted real weights fail loudly, not silently.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Random from "../data/Random.ts"

export type Weights = Map<string, tf.Variable>

/** The seeded PRNG of the data build (mulberry32), identical on every platform. */
export const rng = Random.rng

/** A seed derived from a base seed and a name, so each weight has its own stream. */
export const seedFor = (seed: number, name: string): number => {
  let h = seed ^ 0x811c9dc5
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619)
  return h >>> 0
}

export type Init =
  | { readonly kind: "normal"; readonly std: number }
  | { readonly kind: "xavier" }
  | { readonly kind: "zeros" }
  | { readonly kind: "ones" }
  | { readonly kind: "values"; readonly values: Float32Array }

const values = (shape: ReadonlyArray<number>, init: Init, seed: number): Float32Array => {
  const n = shape.reduce((a, b) => a * b, 1)
  const out = new Float32Array(n)
  const next = rng(seed)
  switch (init.kind) {
    case "zeros":
      return out
    case "ones":
      return out.fill(1)
    case "values":
      if (init.values.length !== n) throw new Error(`initial values: ${init.values.length} numbers for a weight of ${n}`)
      return Float32Array.from(init.values)
    case "normal":
      for (let i = 0; i < n; i += 2) {
        const u = Math.max(next(), 1e-12)
        const v = next()
        const r = Math.sqrt(-2 * Math.log(u)) * init.std
        out[i] = r * Math.cos(2 * Math.PI * v)
        if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v)
      }
      return out
    case "xavier": {
      const fanIn = shape.length >= 2 ? shape[shape.length - 2]! : shape[0]!
      const fanOut = shape[shape.length - 1]!
      const limit = Math.sqrt(6 / (fanIn + fanOut))
      for (let i = 0; i < n; i++) out[i] = (next() * 2 - 1) * limit
      return out
    }
  }
}

/**
 * Adds a variable named `name` to `weights`, initialised from `seed` and the name. A weight added
 * with `trainable: false` is fixed: no freeze policy lists it (Freeze.policy).
 */
export const add = (weights: Weights, seed: number, name: string, shape: Array<number>, init: Init, options: { readonly trainable?: boolean } = {}): tf.Variable => {
  if (weights.has(name)) throw new Error(`weight ${name} defined twice`)
  // TF.js variable names are global to the process; ours live in the map.
  const v = tf.variable(tf.tensor(values(shape, init, seedFor(seed, name)), shape, "float32"), options.trainable ?? true)
  weights.set(name, v)
  return v
}

export const get = (weights: Weights, name: string): tf.Variable => {
  const v = weights.get(name)
  if (v === undefined) throw new Error(`no weight named ${name}`)
  return v
}

export const count = (weights: Weights, names?: Iterable<string>): number => {
  let n = 0
  for (const name of names ?? weights.keys()) n += get(weights, name).size
  return n
}

export const dispose = (weights: Weights): void => {
  for (const v of weights.values()) v.dispose()
  weights.clear()
}

export interface ModelJson {
  readonly format: "pinkflow/weights"
  readonly meta: unknown
  readonly weightsManifest: ReadonlyArray<{ readonly paths: ReadonlyArray<string>; readonly weights: ReadonlyArray<tf.io.WeightsManifestEntry> }>
}

/** Writes `model.json` and `weights.bin` into `dir` (TF.js's weights-manifest format). */
export const save = async (dir: string, weights: Weights | ReadonlyMap<string, tf.Tensor>, meta: unknown): Promise<void> => {
  const named: tf.NamedTensorMap = Object.fromEntries(weights)
  const { data, specs } = await tf.io.encodeWeights(named)
  await fs.promises.mkdir(dir, { recursive: true })
  await fs.promises.writeFile(path.join(dir, "weights.bin"), new Uint8Array(data))
  const json: ModelJson = { format: "pinkflow/weights", meta, weightsManifest: [{ paths: ["weights.bin"], weights: specs }] }
  await fs.promises.writeFile(path.join(dir, "model.json"), JSON.stringify(json))
}

export class WeightsError extends Error {
  constructor(readonly file: string, readonly detail: string) {
    super(`${file}: ${detail}`)
  }
}

/** Reads a TF.js model directory (any number of shards) into named tensors and its metadata. */
export const read = async (dir: string): Promise<{ readonly tensors: Map<string, tf.Tensor>; readonly meta: unknown }> => {
  const file = path.join(dir, "model.json")
  let json: ModelJson
  try {
    json = JSON.parse(await fs.promises.readFile(file, "utf8"))
  } catch (e) {
    throw new WeightsError(file, e instanceof SyntaxError ? `invalid JSON (${e.message})` : "cannot be read")
  }
  if (!Array.isArray(json.weightsManifest)) throw new WeightsError(file, "has no weightsManifest")
  const tensors = new Map<string, tf.Tensor>()
  for (const group of json.weightsManifest) {
    const buffers = await Promise.all(group.paths.map((p: string) => fs.promises.readFile(path.join(dir, p))))
    const joined = Buffer.concat(buffers)
    const expected = group.weights.reduce((n: number, w: tf.io.WeightsManifestEntry) => n + w.shape.reduce((a: number, b: number) => a * b, 1) * 4, 0)
    if (joined.length < expected) throw new WeightsError(file, `shards hold ${joined.length} bytes, the manifest needs ${expected}`)
    const decoded = tf.io.decodeWeights(joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.length), [...group.weights])
    for (const [name, t] of Object.entries(decoded)) tensors.set(name, t)
  }
  return { tensors, meta: (json as { meta?: unknown }).meta ?? null }
}

/**
 * Assigns loaded tensors to existing weights by name; every weight must be present with the same
 * shape (`allowMissing` lists prefixes that may be absent, e.g. adapters not yet trained).
 */
export const assign = (weights: Weights, tensors: ReadonlyMap<string, tf.Tensor>, source: string, allowMissing: ReadonlyArray<string> = []): void => {
  for (const [name, v] of weights) {
    const t = tensors.get(name)
    if (t === undefined) {
      if (allowMissing.some((p) => name.startsWith(p))) continue
      throw new WeightsError(source, `weight ${name} is missing`)
    }
    if (t.shape.join("x") !== v.shape.join("x")) {
      throw new WeightsError(source, `weight ${name} has shape [${t.shape}], the model needs [${v.shape}]`)
    }
    v.assign(t as tf.Tensor)
  }
}
