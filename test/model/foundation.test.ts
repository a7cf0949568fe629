/**
 * The foundation's pieces at nano size: scene layouts (what the LM reads in place of an image),
 * the LM's pretraining on them, stage 1 aligned to them, and the towers' gates.
 */
import * as tf from "@tensorflow/tfjs-core"
import test from "ava"
import * as Layout from "../../src/data/Layout.ts"
import * as Random from "../../src/data/Random.ts"
import * as RcTasks from "../../src/data/RcTasks.ts"
import * as Scene from "../../src/data/Scene.ts"
import * as Gates from "../../src/eval/Gates.ts"
import * as Backend from "../../src/model/Backend.ts"
import * as Config from "../../src/model/Config.ts"
import * as Pink from "../../src/model/Pink.ts"
import * as Prompt from "../../src/model/Prompt.ts"
import * as Tok from "../../src/model/Tokenizer.ts"
import * as W from "../../src/model/Weights.ts"
import * as Alignment from "../../src/train/Alignment.ts"
import * as CoordinateRows from "../../src/train/CoordinateRows.ts"
import * as Freeze from "../../src/model/Freeze.ts"
import * as Lm from "../../src/model/Lm.ts"
import * as Layouts from "../../src/train/Layouts.ts"
import * as Loop from "../../src/train/Loop.ts"
import * as Pretrain from "../../src/train/Pretrain.ts"
import * as Vocabulary from "../../src/train/Vocabulary.ts"
import { config } from "./fixture.ts"

test.before(async () => {
  await Backend.select("wasm")
})

const nanoConfig = Config.presets.nano
const tok = Tok.fromVocab(Vocabulary.fromScenes({ seed: 1, scenes: 60, maxWords: 400, coordinates: "bins" }))

const square: Scene.Scene = {
  imageId: 1,
  file: "images/000001.png",
  width: 128,
  height: 128,
  objects: [{ id: 1, name: "square", attributes: ["red", "large"], box: { x: 0, y: 0, w: 40, h: 32 } }],
  relations: [],
  regions: [{ id: 1, phrase: "the square", box: { x: 0, y: 0, w: 40, h: 32 } }]
}

test("the vocabulary holds the conversation's words: a question's start reads differently from an answer's", (t) => {
  const ids = Layouts.item(tok, nanoConfig, square, [{ task: "grounding", instruction: "Where is the square?", answer: "[0.000,0.000,0.313,0.250]" }]).ids
  const text = ids.slice(Prompt.imageSlot(tok) + Config.imageTokens(nanoConfig))
  t.false(text.includes(Tok.UNK), `no <unk> in ${JSON.stringify(tok.decode(text))}`)
  const user = tok.encode(Prompt.turn("x")).slice(0, 2)
  const assistant = tok.encode(Prompt.turn("x")).slice(-2)
  t.notDeepEqual(user, assistant)
  t.false(tok.encode("Image:").includes(Tok.UNK))
  // The same words are unknown to a vocabulary built without the scaffold (what the towers had before).
  const without = Tok.fromCorpus(["Where is the square?"], { coordinates: "bins" })
  t.true(without.encode(Prompt.turn("x")).includes(Tok.UNK))
})

test("a layout's questions are each about another object, so no answer can be copied from an earlier turn", (t) => {
  let asked = 0
  for (let i = 0; i < 40; i++) {
    const scene = Scene.describeScene(i, { seed: 5, minObjects: 3, maxObjects: 6 })
    const turns = Layout.questions(scene, 8, Random.rng(i))
    const boxes = turns.flatMap((q) => (q.task === "grounding" ? [q.answer] : q.task === "grounding-caption" ? [/\[[^\]]+\]/.exec(q.instruction)![0]] : []))
    t.is(new Set(boxes).size, boxes.length, `scene ${i}: ${boxes.join(" ")}`)
    t.true(boxes.length <= scene.regions.length)
    asked += boxes.length
  }
  t.true(asked >= 40 * 3, `${asked} questions about 40 scenes`)
})

test("rc layouts are asked every RC task without markers, grounding stays the commonest, and no box is asked about twice; grounding layouts are asked only grounding, box-to-phrase and captions", (t) => {
  const kinds = (questions: Layout.Questions) => {
    const count = new Map<string, number>()
    for (let i = 0; i < 200; i++) {
      const scene = Scene.describeScene(i, { seed: 7, minObjects: 3, maxObjects: 6 })
      const turns = Layout.questions(scene, 8, Random.rng(i), questions)
      for (const q of turns) {
        count.set(q.task, (count.get(q.task) ?? 0) + 1)
        t.false(/<\/?(?:des|loc|cls|rel)>/.test(q.instruction), q.instruction)
      }
      // A grounding answer never repeats a box an earlier turn wrote.
      turns.forEach((q, k) => {
        if (q.task === "grounding") t.false(turns.slice(0, k).some((p) => `${p.instruction} ${p.answer}`.includes(q.answer)), `scene ${i}: ${q.answer} asked again`)
      })
    }
    return count
  }
  const rc = kinds("rc")
  for (const task of ["grounding", "grounding-caption", "relation", "spatial", "detection", "counting", "caption"]) t.true((rc.get(task) ?? 0) > 0, `rc layouts ask ${task}`)
  t.is(Math.max(...rc.values()), rc.get("grounding") ?? 0)
  t.deepEqual([...kinds("grounding").keys()].sort(), ["caption", "grounding", "grounding-caption"])
})

test("a layout cell holds its covering object's words and box, in two halves; background cells are empty", (t) => {
  const cells = Layout.cells(square, 4)
  t.deepEqual(cells[0], { words: [" red", " large", " square"], box: "[0.000,0.000,0.313,0.250]" })
  t.deepEqual(cells[1], cells[0], "25 % of patch 1 is the square")
  t.true(cells.slice(2).every((c) => c === undefined))
  const { cells: ids, cellMask } = Layouts.encodeCells(tok, config, square)
  const K = Layouts.cellWidth(tok)
  t.is(K, 7, "three words and four bin tokens")
  t.is(tok.decode([...ids.slice(0, K)]), " red large square[0.008,0.008,0.320,0.258]")
  t.deepEqual([...cellMask.slice(2 * K)], new Array(14 * K).fill(0))
  // A cell's two halves: its three words, then its four box tokens; together the whole cell.
  const words = Layouts.cellPart(tok, config, square, "words")
  const box = Layouts.cellPart(tok, config, square, "box")
  t.deepEqual([...words.cells], [...ids])
  t.deepEqual([...words.cellMask.slice(0, K)], [1, 1, 1, 0, 0, 0, 0])
  t.deepEqual([...box.cellMask.slice(0, K)], [0, 0, 0, 1, 1, 1, 1])
  t.deepEqual(Array.from(cellMask, (_, i) => words.cellMask[i]! + box.cellMask[i]!), [...cellMask])
})

test("a scene described without its image is the generated scene", (t) => {
  for (let i = 0; i < 20; i++) t.deepEqual(Scene.describeScene(i, { seed: 7, minObjects: 3, maxObjects: 6 }), Scene.generate(i, { seed: 7, minObjects: 3, maxObjects: 6 }).scene)
})

test("every object of a generated scene owns at least one cell of the ViT's grid", (t) => {
  for (let i = 0; i < 40; i++) {
    const { scene } = Scene.generate(i, { seed: 9, minObjects: 3, maxObjects: 6 })
    const owners = new Set(Layout.cells(scene, 8).flatMap((c) => (c === undefined ? [] : [c.box])))
    t.is(owners.size, new Set(scene.objects.map((o) => RcTasks.boxText(scene, o.box))).size, `scene ${i}`)
  }
})

test("a layout item weighs only the answers and their end tokens, and fits the LM's context", (t) => {
  const turns: Array<Layout.Turn> = [
    { task: "grounding", instruction: "Where is the square?", answer: "[0.000,0.000,0.313,0.250]" },
    { task: "grounding-caption", instruction: "What is in [0.000,0.000,0.313,0.250]?", answer: "the square" }
  ]
  const item = Layouts.item(tok, config, square, turns)
  const answered = item.ids.filter((_, i) => item.weights[i] === 1)
  t.is(tok.decode(answered.filter((id) => id !== Tok.EOS)), " [0.008,0.008,0.320,0.258] the square")
  t.is(answered.filter((id) => id === Tok.EOS).length, 2)
  t.is(item.ids.slice(Prompt.imageSlot(tok), Prompt.imageSlot(tok) + 16).filter((id) => id === Tok.IMG).length, 16)
  const long = Layouts.item(tok, config, square, Array.from({ length: 20 }, () => turns[0]!))
  t.true(long.ids.length <= config.lm.maxLen + 1)
})

test("the coordinate rows keep each box role's value apart in a cell's sum, and neighbouring bins start alike", (t) => {
  const m = Pink.init(config, tok.size, Prompt.imageSlot(tok), 3, false)
  Lm.initCoordinateRows(m.weights, tok.vocab)
  const wte = W.get(m.weights, "lm/wte").arraySync() as Array<Array<number>>
  const row = (role: "x0" | "y0" | "x1" | "y1", k: number) => wte[Tok.binId(tok, role, k)]!
  const sum = (b: ReadonlyArray<number>) => row("x0", b[0]!).map((_, d) => row("x0", b[0]!)[d]! + row("y0", b[1]!)[d]! + row("x1", b[2]!)[d]! + row("y1", b[3]!)[d]!)
  const distance = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => Math.hypot(...a.map((x, d) => x - b[d]!)) / Math.hypot(...a)
  const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => a.reduce((s, x, d) => s + x * b[d]!, 0) / (Math.hypot(...a) * Math.hypot(...b))
  // The same four values with x and y swapped: a sum over shared value dimensions could not tell them apart.
  t.true(distance(sum([10, 40, 20, 50]), sum([40, 10, 50, 20])) > 0.3)
  t.is(distance(sum([10, 40, 20, 50]), sum([10, 40, 20, 50])), 0)
  t.true(cosine(row("x0", 30), row("x0", 31)) > cosine(row("x0", 30), row("x0", 50)) + 0.2)
  W.dispose(m.weights)
})

test.serial("LM pretraining on scene layouts lowers the answer loss", async (t) => {
  const m = Pink.init(config, tok.size, Prompt.imageSlot(tok), 3, false)
  const r = await Pretrain.lmLayouts(m, { scenes: 24, at: (i) => Layouts.itemAt(tok, config, { seed: 4, turns: 2 }, i) }, { steps: 40, batchSize: 8, lr: 5e-3, seed: 2, loss: "answers", guide: 0 })
  const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
  t.log(`layout LM loss ${mean(r.losses.slice(0, 5)).toFixed(3)} → ${mean(r.losses.slice(-5)).toFixed(3)}`)
  t.true(mean(r.losses.slice(-5)) < mean(r.losses.slice(0, 5)) * 0.5)
  W.dispose(m.weights)
})

test.serial("the coordinate phase sets the embedding's coordinate rows back to their code and holds them there, leaving the head, while the rest of the LM trains", async (t) => {
  const m = Pink.init(config, tok.size, Prompt.imageSlot(tok), 3, false)
  Lm.initCoordinateRows(m.weights, tok.vocab)
  const code = W.get(m.weights, "lm/wte").arraySync() as Array<Array<number>>
  // The first phase moves every row of both tables.
  for (const name of ["lm/wte", "lm/head"]) W.get(m.weights, name).assign(tf.add(W.get(m.weights, name), tf.randomNormal(W.get(m.weights, name).shape, 0, 0.01, "float32", 5)))
  const head = Array.from(W.get(m.weights, "lm/head").dataSync())
  const drifted = W.get(m.weights, "lm/wte").arraySync() as Array<Array<number>>
  const held = CoordinateRows.resetRows(m.weights, tok)
  t.is(held.length, tok.vocab.filter((v) => Tok.binOf(v) !== undefined).length)
  t.true(held.length > 0)
  const reset = W.get(m.weights, "lm/wte").arraySync() as Array<Array<number>>
  const heldSet = new Set(held)
  reset.forEach((row, i) => t.deepEqual(row, heldSet.has(i) ? code[i] : drifted[i], `row ${i}`))
  t.deepEqual(Array.from(W.get(m.weights, "lm/head").dataSync()), head)
  // Training under the holding policy: the held rows stay bit for bit, the other rows and blocks move.
  const policy = CoordinateRows.holding(Freeze.policy("lm", m), tok.size, held)
  const items = Array.from({ length: 8 }, (_, i) => Layouts.itemAt(tok, config, { seed: 4, turns: 2, questions: "rc" }, i))
  const block = Array.from(W.get(m.weights, "lm/h0/mlp/fc/w").dataSync())
  await Loop.train(m.weights, policy, () => Pretrain.layoutLoss(m, items.map((it) => Layouts.withLoss(it, "text", m.imageSlot + Config.imageTokens(config) + 1)), 0.1), { steps: 5, lr: 1e-2, warmupFraction: 0, seed: 1, tokensPerStep: 1 })
  const after = W.get(m.weights, "lm/wte").arraySync() as Array<Array<number>>
  t.true(held.every((i) => after[i]!.every((v, d) => v === code[i]![d])))
  t.true(after.some((row, i) => !heldSet.has(i) && row.some((v, d) => v !== reset[i]![d])))
  t.true(Array.from(W.get(m.weights, "lm/h0/mlp/fc/w").dataSync()).some((v, i) => v !== block[i]))
  W.dispose(m.weights)
})

test.serial("the gates score nano towers with shares in [0, 1] over the held-out scenes, the pair from images and from layouts, and from each half of the cells", async (t) => {
  const m = Pink.init(config, tok.size, Prompt.imageSlot(tok), 5, false)
  const probe = await Gates.vitProbe(m, Pretrain.denseItems(config, 11, 6), Pretrain.denseItems(config, 12, 4), { steps: 5, seed: 1 })
  t.true(probe.objectPatches > 0)
  for (const v of [probe.colour, probe.shape, probe.size, probe.box]) t.true(v >= 0 && v <= 1)
  const g = await Gates.lmGrounding(m, tok, { seed: 13, scenes: 3, batchSize: 8 })
  t.is(g.n, [0, 1, 2].reduce((n, i) => n + Scene.generate(i, { seed: 13, minObjects: 3, maxObjects: 6 }).scene.regions.length, 0))
  t.true(g.accuracy >= 0 && g.accuracy <= 1 && g.wellFormed >= 0 && g.wellFormed <= 1)
  // The pair: the same scenes from their images through the fitted projection, and from their
  // layouts — which is the LM gate's measure, answer for answer.
  const pair = await Gates.projectedGrounding(m, tok, { fitSeed: 14, fitScenes: 8, seed: 13, scenes: 3, batchSize: 8 })
  t.is(pair.fromImages.n, g.n)
  t.deepEqual(pair.fromLayouts.examples, g.examples)
  t.is(pair.fromLayouts.accuracy, g.accuracy)
  t.true(pair.relativeError > 0 && pair.relativeError < 1, String(pair.relativeError))
  // Each half of the cells from the image, the other from the layout, over the same queries.
  for (const part of [pair.words, pair.boxes]) {
    t.is(part.n, g.n)
    t.true(part.accuracy >= 0 && part.accuracy <= 1)
    t.true(part.relativeError > 0 && part.relativeError < 1, String(part.relativeError))
  }
  W.dispose(m.weights)
})

test.serial("stage 1 on layouts lowers the projected patches' error against their cells and trains the projection alone", async (t) => {
  const m = Pink.init(config, tok.size, Prompt.imageSlot(tok), 7, true)
  const items = Alignment.items(tok, config, { seed: 8, scenes: 16, turns: 2 })
  t.true(items.every((i) => i.image.length === config.vit.imageSize ** 2 * 3 && i.layout.cellMask.some((v) => v === 1)))
  const error = () => Alignment.projectionError(m, items)
  const frozen = new Map([...m.weights].filter(([n]) => !n.startsWith("proj/")).map(([n, v]) => [n, Array.from(v.dataSync())]))
  const before = error()
  const policy = Freeze.policy("projectionOnly", m, tok)
  await Loop.train(m.weights, policy, (step, seed) => {
    const l = Alignment.losses(m, items.slice((step * 4) % 16, (step * 4) % 16 + 4), seed)
    return tf.add(l.answer, l.error) as tf.Scalar
  }, { steps: 30, lr: 1e-2, warmupFraction: 0, seed: 1, tokensPerStep: 1 })
  const after = error()
  t.log(`relative error ${before.toFixed(3)} → ${after.toFixed(3)}`)
  t.true(after < before * 0.8)
  t.true([...frozen].every(([n, v]) => Array.from(m.weights.get(n)!.dataSync()).every((x, i) => x === v[i])), "only the projection changed")
  W.dispose(m.weights)
})

test("ridge regression solves a small system, and the fitted projection beats the zero map on the layouts it was fitted to", async (t) => {
  // [[4, 2], [2, 3]] x = [[2], [5]] → x = [-0.5, 2] (no ridge).
  const x = Alignment.ridgeSolve(Float64Array.from([4, 2, 2, 3]), Float64Array.from([2, 5]), 2, 1, 0)
  t.true(Math.abs(x[0]! + 0.5) < 1e-12 && Math.abs(x[1]! - 2) < 1e-12, String([...x]))
  const m = Pink.init(config, tok.size, Prompt.imageSlot(tok), 9, true)
  const items = Alignment.items(tok, config, { seed: 10, scenes: 24, turns: 2 })
  const random = Alignment.projectionError(m, items)
  const fitted = Alignment.fitProjection(m, items)
  t.log(`relative error: random projection ${random.toFixed(3)}, least squares ${fitted.toFixed(3)}`)
  t.true(fitted < 1, "below the zero map's 1")
  t.true(fitted < random)
  W.dispose(m.weights)
})
