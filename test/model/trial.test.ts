/**
 * The LM attention designs of src/train/LmTrial.ts: each is the mask it says it is, and the
 * `alibi` design is the LM's own forward pass, so a study's row with it is the tower.
 */
import test from "ava"
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import * as Config from "../../src/model/Config.ts"
import * as Lm from "../../src/model/Lm.ts"
import * as Pink from "../../src/model/Pink.ts"
import * as Prompt from "../../src/model/Prompt.ts"
import * as LmTrial from "../../src/train/LmTrial.ts"

const c = Config.presets.nano
const N = Config.imageTokens(c)
const slot = 3
const T = slot + N + 6

const masksOf = (design: LmTrial.Design, prefixes: ReadonlyArray<number>) =>
  LmTrial.masks(design, c, slot, prefixes, T).map((m) => m.arraySync() as Array<Array<Array<Array<number>>>>)

test.before(async () => {
  await tf.setBackend("cpu")
})

test("the causal design is the causal mask in every block", (t) => {
  const causal = Lm.causalMask(T).arraySync()
  const ms = masksOf("causal", [T - 2])
  t.is(ms.length, c.lm.depth)
  for (const m of ms) t.deepEqual(m, causal)
})

test("the prefix design opens the prefix both ways and keeps the answers causal", (t) => {
  const p = T - 3
  const [m] = masksOf("prefix", [p, T])
  t.true(m![0]![0]![slot]![p - 1] === 0, "an image cell sees the question after it")
  t.true(m![0]![0]![slot]![p]! < -1e8, "but not the answer")
  t.true(m![0]![0]![p]![p + 1]! < -1e8, "an answer token does not see the next one")
  t.true(m![0]![0]![p + 1]![2] === 0, "and sees the prefix")
  t.true(m![1]![0]![0]![T - 1] === 0, "each row has its own prefix")
})

test("image-from-1 hides the image from the text in the first block only", (t) => {
  const ms = masksOf("image-from-1", [T])
  const q = slot + N + 2
  t.true(ms[0]![0]![0]![q]![slot]! < -1e8)
  t.true(ms[0]![0]![0]![q]![slot - 1] === 0, "the prompt before the image stays visible")
  t.true(ms[0]![0]![0]![slot + 1]![slot] === 0, "the image still sees itself")
  t.true(ms[1]![0]![0]![q]![slot] === 0)
})

test("alibi penalises distance in half the heads, by each head's slope", (t) => {
  const [m] = masksOf("alibi", [T])
  const slopes = Lm.alibiSlopes(c.lm.heads)
  t.deepEqual(slopes, [0.5, 0])
  t.is(m![0]![0]![10]![4], -3)
  t.true(m![0]![1]![10]![4] === 0)
  t.true(m![0]![0]![4]![10]! < -1e8)
})

test("the alibi design's forward pass is the LM's (Lm.run adds the distance penalty itself)", (t) => {
  const model = Pink.init(c, 40, slot, 3, false)
  const ids = tf.tensor2d([Array.from({ length: T }, (_, i) => (i * 7) % 40)], [1, T], "int32")
  const embeddings = tf.randomNormal([1, N, c.lm.width], 0, 0.02, "float32", 5)
  const ours = LmTrial.hidden(model, ids, embeddings, LmTrial.masks("alibi", c, slot, [T], T))
  const lm = Pink.hidden(model, ids, { embeddings }, { training: true })
  t.true(tf.max(tf.abs(tf.sub(ours, lm))).dataSync()[0]! < 1e-6)
  for (const other of ["causal", "image-from-1"] as const) {
    const theirs = LmTrial.hidden(model, ids, embeddings, LmTrial.masks(other, c, slot, [T], T))
    t.true(tf.max(tf.abs(tf.sub(theirs, lm))).dataSync()[0]! > 1e-4, `and the ${other} design's is not`)
  }
})

test("the background word goes into empty cells only", (t) => {
  const width = 3
  const e = { cells: Int32Array.from([5, 6, 0, 0, 0, 0, 7, 0, 0]), cellMask: Float32Array.from([1, 1, 0, 0, 0, 0, 1, 0, 0]) }
  LmTrial.fillBackground(e, width, 9)
  t.deepEqual(Array.from(e.cells), [5, 6, 0, 9, 0, 0, 7, 0, 0])
  t.deepEqual(Array.from(e.cellMask), [1, 1, 0, 1, 0, 0, 1, 0, 0])
})

test("a trial's decoder answers what the gate's decoder answers, under the LM's own (alibi) design", async (t) => {
  const { fromScenes } = await import("../../src/train/Vocabulary.ts")
  const Tok = await import("../../src/model/Tokenizer.ts")
  const Scene = await import("../../src/data/Scene.ts")
  const Layouts = await import("../../src/train/Layouts.ts")
  const Generate = await import("../../src/model/Generate.ts")
  const tok = Tok.fromVocab(fromScenes({ seed: 1, scenes: 20, maxWords: 300, coordinates: "bins" }))
  const model = Pink.init(c, tok.size, Prompt.imageSlot(tok), 4, false)
  const scenes = [0, 1, 2].map((i) => Scene.describeScene(i, { seed: 9, minObjects: 3, maxObjects: 6 }))
  const instructions = scenes.map((s, i) => `Where is ${s.regions[0]!.phrase}?${i === 1 ? " Answer with its box." : ""}`)
  const encoded = scenes.map((s) => Layouts.encodeCells(tok, c, s))
  const K = encoded[0]!.cells.length
  const cells = tf.tensor2d(Int32Array.from(encoded.flatMap((e) => [...e.cells])), [3, K], "int32")
  const mask = tf.tensor2d(Float32Array.from(encoded.flatMap((e) => [...e.cellMask])), [3, K])
  const ours = LmTrial.answers(model, tok, "alibi", { cells, mask }, instructions.map((x) => Prompt.promptIds(tok, c, x)), 6)
  const embeddings = Layouts.embed(model.weights, cells, mask, N)
  const gate = await Generate.generate(model, tok, { embeddings }, instructions, { maxNewTokens: 6 })
  t.true(ours.every((a) => a.length > 0), "the untrained model writes something to compare")
  t.deepEqual(ours, gate.map((g) => g.replace(/<eos>.*$/, "").trim()))
})

test("cells read only themselves with cells `own`, in every block and under any design; the text still reads them", (t) => {
  for (const design of ["causal", "alibi"] as const) {
    const ms = LmTrial.masks(design, c, slot, [T], T, "own").map((m) => m.arraySync() as Array<Array<Array<Array<number>>>>)
    const plain = LmTrial.masks(design, c, slot, [T], T).map((m) => m.arraySync() as Array<Array<Array<Array<number>>>>)
    for (const [i, m] of ms.entries()) {
      t.true(m[0]![0]![slot + 2]![slot + 1]! < -1e8, "a cell does not read the cell before it")
      // (=== since the causal mask holds −0 where adding the cells' 0 gives +0)
      t.true(m[0]![0]![slot + 2]![slot + 2] === plain[i]![0]![0]![slot + 2]![slot + 2], "but reads itself")
      t.true(m[0]![0]![slot + 2]![1] === plain[i]![0]![0]![slot + 2]![1], "and the prompt before the layout")
      t.true(m[0]![0]![slot + N + 1]![slot + 1] === plain[i]![0]![0]![slot + N + 1]![slot + 1], "the text reads the cells as before")
    }
  }
})
