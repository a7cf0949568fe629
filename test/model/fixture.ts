/** A nano Pink model, a tokenizer and a tiny batch, for model tests. */
import * as tf from "@tensorflow/tfjs-core"
import * as Config from "../../src/model/Config.ts"
import * as Pink from "../../src/model/Pink.ts"
import * as Prompt from "../../src/model/Prompt.ts"
import * as Tok from "../../src/model/Tokenizer.ts"

export const config = Config.presets.nano

export const tokenizer = Tok.fromCorpus([
  "where is the red cat", "describe the region", "the answer is", "how many dogs are there",
  "a small blue square left of a green circle"
])

export const model = (seed = 1, withAdapters = true) => Pink.init(config, tokenizer.size, Prompt.imageSlot(tokenizer), seed, withAdapters)

export const samples = [
  { q: "where is the red cat", a: Tok.formatBox([0.1, 0.2, 0.3, 0.4]) },
  { q: "where is the blue square", a: Tok.formatBox([0.5, 0.5, 0.9, 0.75]) },
  { q: "describe the region <loc>[0.100,0.200,0.300,0.400]</loc>", a: "a red cat" },
  { q: "how many dogs are there", a: "3" }
]

/** Tensors for a batch of the samples, one image each. */
export const batch = () => {
  const examples = samples.map((s) => Prompt.example(tokenizer, config, s.q, s.a))
  const T = Math.max(...examples.map((e) => e.ids.length))
  const b = Prompt.batch(examples, T)
  const S = config.vit.imageSize
  return {
    T,
    ids: tf.tensor2d(b.ids, [b.batch, T], "int32"),
    targets: tf.tensor2d(b.targets, [b.batch, T], "int32"),
    weights: tf.tensor2d(b.weights, [b.batch, T]),
    images: tf.randomUniform([b.batch, S, S, 3], 0, 1, "float32", 3),
    tokens: b.weights.reduce((a, x) => a + x, 0)
  }
}

/** The values of every weight, copied. */
export const snapshot = (weights: ReadonlyMap<string, tf.Variable>) =>
  new Map([...weights].map(([n, v]) => [n, Float32Array.from(v.dataSync() as Float32Array)]))
