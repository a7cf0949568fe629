/**
 * The text of a tiny training module for test pipelines: the nano Pink model overfitting one
 * example under a freeze policy, with TF.js imported only when the stage runs. `train` is the body
 * of the module's `run` after the model, batch and `loss` are set up; it returns the stage outputs.
 */
export const tinyTrainingModule = (o: { readonly signature: string; readonly batch: number; readonly train: string }): string =>
  `import * as tf from "@tensorflow/tfjs-core"
import * as Backend from "../src/model/Backend.ts"
import * as Config from "../src/model/Config.ts"
import * as Freeze from "../src/model/Freeze.ts"
import * as Pink from "../src/model/Pink.ts"
import * as Prompt from "../src/model/Prompt.ts"
import * as Tok from "../src/model/Tokenizer.ts"
import * as W from "../src/model/Weights.ts"
import * as Loop from "../src/train/Loop.ts"

export const run = async (${o.signature}) => {
  await Backend.select("wasm")
  const tok = Tok.fromCorpus(["where is the cat"])
  const c = Config.presets.nano
  const m = Pink.init(c, tok.size, Prompt.imageSlot(tok), 1)
  const ex = Prompt.example(tok, c, "where is the cat", Tok.formatBox([0.1, 0.2, 0.3, 0.4]))
  const B = ${o.batch}
  const b = Prompt.batch(Array.from({ length: B }, () => ex), ex.ids.length)
  const ids = tf.tensor2d(b.ids, [B, b.length], "int32")
  const targets = tf.tensor2d(b.targets, [B, b.length], "int32")
  const weights = tf.tensor2d(b.weights, [B, b.length])
  const images = tf.zeros([B, c.vit.imageSize, c.vit.imageSize, 3])
  const loss = (seed: number) => Pink.maskedLoss(Pink.forward(m, ids, images, { training: true, seed }), targets, weights)
${o.train}
}
`
