/**
 * The Pink model at nano size on the wasm backend: shapes, adapters as identity at start, freeze
 * policies, overfitting, save/load, generation with and without the cache, memory, NaN handling
 * and resuming from a checkpoint.
 */
import test from "ava"
import * as tf from "@tensorflow/tfjs-core"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Backend from "../../src/model/Backend.ts"
import * as Config from "../../src/model/Config.ts"
import * as Freeze from "../../src/model/Freeze.ts"
import * as Generate from "../../src/model/Generate.ts"
import * as Lm from "../../src/model/Lm.ts"
import * as Pink from "../../src/model/Pink.ts"
import * as Prompt from "../../src/model/Prompt.ts"
import * as Vit from "../../src/model/Vit.ts"
import * as W from "../../src/model/Weights.ts"
import * as Loop from "../../src/train/Loop.ts"
import * as Recipe from "../../src/train/Recipe.ts"
import { batch, config, model, samples, snapshot, tokenizer } from "./fixture.ts"

test.before(async () => {
  await Backend.select("wasm")
})

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "pinkflow-model-"))

test.serial("shapes: features [B, N, C_vit], logits [B, T, V]", (t) => {
  const m = model()
  const b = batch()
  tf.tidy(() => {
    const feats = Vit.features(m.weights, config, b.images, undefined)
    t.deepEqual(feats.shape, [4, Config.imageTokens(config), config.vit.width])
    t.deepEqual(Pink.imageEmbeddings(m, b.images, { training: false }).shape, [4, 16, config.lm.width])
    t.deepEqual(Pink.forward(m, b.ids, b.images, { training: false }).shape, [4, b.T, tokenizer.size])
  })
  // The last ViT block is not used by Pink and has no adapter.
  t.false(m.weights.has(`vit/h${config.vit.depth - 1}/adapter/down/w`))
  t.true(m.weights.has(`vit/h${config.vit.depth - 2}/adapter/down/w`))
  W.dispose(m.weights)
})

test.serial("adapters start as the identity: same logits with and without them", (t) => {
  const m = model()
  const b = batch()
  const [a, c] = tf.tidy(() => [
    Pink.forward(m, b.ids, b.images, { training: false, adapters: true }).dataSync(),
    Pink.forward(m, b.ids, b.images, { training: false, adapters: false }).dataSync()
  ])
  t.deepEqual(Array.from(a!), Array.from(c!))
  W.dispose(m.weights)
})

test.serial("fixed sin-cos ViT positions: a box edge is a linear read-out, and no policy trains them", async (t) => {
  // Patch (row i, column j) of a g × g grid: the first pair is cos/sin of π·u at the column centre u.
  const g = 4
  const C = 16
  const pos = Vit.sincosPositions(g, C)
  t.is(pos.length, g * g * C)
  for (const [i, j] of [[0, 0], [1, 3], [3, 2]] as const) {
    const u = (j + 0.5) / g
    const v = (i + 0.5) / g
    const o = (i * g + j) * C
    t.true(Math.abs(pos[o]! - Math.cos(Math.PI * u)) < 1e-6 && Math.abs(pos[o + 1]! - Math.sin(Math.PI * u)) < 1e-6)
    t.true(Math.abs(pos[o + C / 2]! - Math.cos(Math.PI * v)) < 1e-6 && Math.abs(pos[o + C / 2 + 1]! - Math.sin(Math.PI * v)) < 1e-6)
    // acos of the first feature gives the column centre back.
    t.true(Math.abs(Math.acos(pos[o]!) / Math.PI - u) < 1e-6)
  }
  const fixed = { ...config, vit: { ...config.vit, positions: "sincos" as const } }
  const m = Pink.init(fixed, tokenizer.size, Prompt.imageSlot(tokenizer), 1, true)
  const before = Array.from(W.get(m.weights, "vit/pos").dataSync())
  t.deepEqual(before, Array.from(Vit.sincosPositions(fixed.vit.imageSize / fixed.vit.patchSize, fixed.vit.width)))
  const vitPolicy = Freeze.policy("vit", m)
  t.false(vitPolicy.trainable.includes("vit/pos"))
  const learned = model()
  t.true(Freeze.policy("vit", learned).trainable.includes("vit/pos"))
  W.dispose(learned.weights)
  await trainSteps(m, vitPolicy, 3)
  t.deepEqual(Array.from(W.get(m.weights, "vit/pos").dataSync()), before)
  W.dispose(m.weights)
})

const trainSteps = (m: Pink.Model, policy: Freeze.Policy, steps: number, extra: Partial<Loop.Options> = {}) => {
  const b = batch()
  return Loop.train(m.weights, policy, (_step, seed) => Pink.maskedLoss(Pink.forward(m, b.ids, b.images, { training: true, seed }), b.targets, b.weights), {
    steps, lr: 3e-3, warmupFraction: 0.1, seed: 5, tokensPerStep: b.tokens, ...extra
  })
}

test.serial("freeze policies: frozen weights stay bit-identical, only the delimiter rows of the embeddings train", async (t) => {
  const m = model()
  const policy = Freeze.policy("adaptersAndProjection", m, tokenizer)
  const before = snapshot(m.weights)
  await trainSteps(m, policy, 3)
  const after = snapshot(m.weights)
  const changed = [...before.keys()].filter((n) => !before.get(n)!.every((v, i) => v === after.get(n)![i]))
  const trainable = new Set(policy.trainable)
  t.true(changed.every((n) => trainable.has(n)), `changed outside the policy: ${changed.filter((n) => !trainable.has(n))}`)
  t.true(changed.includes("proj/w"))
  t.true(changed.includes("lm/h0/adapter/up/w"))
  // Only delimiter rows of lm/wte changed.
  const C = config.lm.width
  const rows = new Set(tokenizer.delimiterIds)
  const wte0 = before.get("lm/wte")!
  const wte1 = after.get("lm/wte")!
  const changedRows = new Set<number>()
  for (let i = 0; i < wte0.length; i++) if (wte0[i] !== wte1[i]) changedRows.add(Math.floor(i / C))
  t.true([...changedRows].every((r) => rows.has(r)))
  const counts = Freeze.counts(m, policy)
  t.true(counts.trainable > 0 && counts.trainable < counts.total)
  t.log(`adaptersAndProjection trains ${counts.trainable} of ${counts.total} parameters (${(counts.fraction * 100).toFixed(2)} %)`)
  const stage1 = Freeze.counts(m, Freeze.policy("projectionOnly", m))
  t.is(stage1.trainable, config.vit.width * config.lm.width + config.lm.width)
  t.log(`projectionOnly trains ${stage1.trainable} of ${stage1.total} parameters`)
  W.dispose(m.weights)
})

test.serial("stage 2's projection anchor: zero at the start, weight × ‖P − P₀‖² / ‖P₀‖² after a move, and a heavy anchor keeps the projection near its start", async (t) => {
  const m = model()
  const anchor = Recipe.projectionAnchor(m)
  t.is(anchor.loss(5).dataSync()[0], 0)
  const w = W.get(m.weights, "proj/w")
  const p0 = Array.from(w.dataSync())
  w.assign(tf.mul(w, 1.1))
  // Every weight grew by a tenth (the bias starts at zero, so it adds nothing to ‖P₀‖).
  t.true(Math.abs(anchor.drift() - 0.1) < 1e-4)
  t.true(Math.abs(anchor.loss(5).dataSync()[0]! - 5 * anchor.drift() ** 2) < 1e-5)
  w.assign(tf.tensor(p0, w.shape))
  anchor.dispose()
  const driftAfter = async (weight: number) => {
    const m = model()
    const anchor = Recipe.projectionAnchor(m)
    const b = batch()
    const policy = Freeze.policy("adaptersAndProjection", m, tokenizer)
    await Loop.train(m.weights, policy, (_step, seed) => {
      const loss = Pink.maskedLoss(Pink.forward(m, b.ids, b.images, { training: true, seed }), b.targets, b.weights)
      return weight > 0 ? tf.add(loss, anchor.loss(weight)) : loss
    }, { steps: 20, lr: 1e-2, warmupFraction: 0, seed: 5, tokensPerStep: b.tokens })
    const drift = anchor.drift()
    anchor.dispose()
    W.dispose(m.weights)
    return drift
  }
  const free = await driftAfter(0)
  const anchored = await driftAfter(1000)
  t.log(`projection drift after 20 steps: ${(100 * free).toFixed(1)} % free, ${(100 * anchored).toFixed(1)} % anchored at 1000`)
  t.true(free > 0.05)
  t.true(anchored < free / 3)
  W.dispose(m.weights)
})

test.serial("a 50-step overfit on four samples reaches near-zero loss, and greedy decoding reproduces the answers", async (t) => {
  const m = model()
  const everything: Freeze.Policy = { name: "lm", trainable: [...m.weights.keys()], rows: new Map() }
  const r = await trainSteps(m, everything, 50, { lr: 1e-2, adamw: { clipNorm: 1 } })
  t.log(`loss ${r.losses[0]!.toFixed(3)} → ${r.losses.at(-1)!.toFixed(4)}`)
  t.true(r.losses.at(-1)! < 0.05)
  const b = batch()
  const answers = await Generate.generate(m, tokenizer, b.images, samples.map((s) => s.q), { maxNewTokens: 16 })
  t.deepEqual(answers.map((a) => a.trim()), samples.map((s) => s.a))
  const uncached = await Generate.generate(m, tokenizer, b.images, samples.map((s) => s.q), { maxNewTokens: 16, cache: false })
  t.deepEqual(uncached, answers, "the key/value cache changes nothing")
  W.dispose(m.weights)
})

test.serial("save → load gives identical logits", async (t) => {
  const m = model(7)
  const b = batch()
  await trainSteps(m, Freeze.policy("adaptersAndProjection", m, tokenizer), 2)
  const dir = tmp()
  await W.save(dir, m.weights, { preset: "nano" })
  const fresh = model(99)
  const { tensors, meta } = await W.read(dir)
  W.assign(fresh.weights, tensors, dir)
  t.deepEqual(meta, { preset: "nano" })
  const [x, y] = tf.tidy(() => [Pink.forward(m, b.ids, b.images, { training: false }).dataSync(), Pink.forward(fresh, b.ids, b.images, { training: false }).dataSync()])
  t.deepEqual(Array.from(x!), Array.from(y!))
  // A weight with another shape is refused, naming it.
  const other = Pink.init({ ...config, lm: { ...config.lm, width: 32 } }, tokenizer.size, m.imageSlot, 1)
  const error = t.throws(() => W.assign(other.weights, tensors, dir))
  t.regex(error!.message, /weight vit\/\S+ has shape|weight proj\/w has shape|weight lm\/\S+ has shape/)
  W.dispose(m.weights)
  W.dispose(fresh.weights)
  W.dispose(other.weights)
})

test.serial("training does not leak tensors across steps", async (t) => {
  const m = model()
  const policy = Freeze.policy("adaptersAndProjection", m, tokenizer)
  const b = batch()
  const counts: Array<number> = []
  await Loop.train(m.weights, policy, (_s, seed) => Pink.maskedLoss(Pink.forward(m, b.ids, b.images, { training: true, seed }), b.targets, b.weights), {
    steps: 6, lr: 1e-3, warmupFraction: 0, seed: 1, tokensPerStep: 1, onProgress: () => counts.push(tf.memory().numTensors)
  })
  t.is(new Set(counts).size, 1, `tensor counts per step: ${counts}`)
  W.dispose(m.weights)
})

test.serial("a non-finite loss stops training with an error naming the step", async (t) => {
  const m = model()
  const policy = Freeze.policy("projectionOnly", m)
  const error = await t.throwsAsync(Loop.train(m.weights, policy, (step) => {
    const w = m.weights.get("proj/b")!
    return tf.mul(tf.sum(w), step === 3 ? NaN : 1) as tf.Scalar
  }, { steps: 10, lr: 1e-3, warmupFraction: 0, seed: 1, tokensPerStep: 1 }))
  t.is(error!.message, "training step 3: the loss is NaN; stopping (lower the learning rate or check the data)")
  W.dispose(m.weights)
})

test.serial("a run killed after a checkpoint resumes from it and ends bit-identical to an uninterrupted run", async (t) => {
  const reference = model()
  const policy = (m: Pink.Model) => Freeze.policy("adaptersAndProjection", m, tokenizer)
  await trainSteps(reference, policy(reference), 12)
  const expected = snapshot(reference.weights)

  const dir = tmp()
  const killed = model()
  const crash = await t.throwsAsync(trainSteps(killed, policy(killed), 12, {
    checkpointDir: dir,
    checkpointEvery: 5,
    onProgress: (p) => {
      if (p.step === 7) throw new Error("killed")
    }
  }))
  t.is(crash!.message, "killed")
  t.true(fs.existsSync(path.join(dir, "latest.json")))
  W.dispose(killed.weights)

  const resumed = model()
  const r = await trainSteps(resumed, policy(resumed), 12, { checkpointDir: dir, checkpointEvery: 5 })
  t.is(r.resumedFrom, 5)
  t.is(r.losses.length, 12)
  const got = snapshot(resumed.weights)
  for (const [name, values] of expected) t.deepEqual(got.get(name), values, name)
  W.dispose(reference.weights)
  W.dispose(resumed.weights)
})

test.serial("weights load from a TF.js model directory with several shards; a bad manifest is named", async (t) => {
  const m = model(11)
  const dir = tmp()
  await W.save(dir, m.weights, { preset: "nano" })
  const bin = fs.readFileSync(path.join(dir, "weights.bin"))
  const cut = Math.floor(bin.length / 3)
  fs.writeFileSync(path.join(dir, "group1-shard1of2.bin"), bin.subarray(0, cut))
  fs.writeFileSync(path.join(dir, "group1-shard2of2.bin"), bin.subarray(cut))
  fs.rmSync(path.join(dir, "weights.bin"))
  const json = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"))
  json.weightsManifest[0].paths = ["group1-shard1of2.bin", "group1-shard2of2.bin"]
  fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(json))
  const fresh = model(12)
  const { tensors } = await W.read(dir)
  W.assign(fresh.weights, tensors, dir)
  for (const [name, v] of m.weights) t.deepEqual(Array.from(fresh.weights.get(name)!.dataSync()), Array.from(v.dataSync()), name)
  fs.writeFileSync(path.join(dir, "model.json"), "{ not json")
  const error = await t.throwsAsync(W.read(dir))
  t.regex(error!.message, /model\.json: invalid JSON/)
  W.dispose(m.weights)
  W.dispose(fresh.weights)
})

test("the LM's distance penalty: each sloped head's bias is −slope × distance, the queries of a cached step are the last rows, nothing above the diagonal", (t) => {
  t.deepEqual(Lm.alibiSlopes(4), [0.5, 0.125, 0, 0])
  const full = Lm.positionBias(4, 6, 6).arraySync() as Array<Array<Array<Array<number>>>>
  t.is(full[0]![0]![5]![1], -2, "head 0: 4 back at 1/2")
  t.is(full[0]![1]![5]![1], -0.5, "head 1: 4 back at 1/8")
  t.is(full[0]![2]![5]![1], 0, "heads without a slope read any distance alike")
  t.is(full[0]![0]![1]![5], 0, "above the diagonal is the causal mask's part")
  const step = Lm.positionBias(4, 2, 6).arraySync() as Array<Array<Array<Array<number>>>>
  for (let h = 0; h < 4; h++) t.deepEqual(step[0]![h], full[0]![h]!.slice(4), `head ${h}: two new queries over six keys are the last two rows`)
})
