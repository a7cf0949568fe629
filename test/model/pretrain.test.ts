/** Patch targets, and the vision tower's patch-level pretraining at nano size: the loss falls and the heads are dropped. */
import test, { type ExecutionContext } from "ava"
import * as Backend from "../../src/model/Backend.ts"
import * as Patches from "../../src/data/Patches.ts"
import * as Scene from "../../src/data/Scene.ts"
import * as Raster from "../../src/data/Raster.ts"
import * as W from "../../src/model/Weights.ts"
import * as Pretrain from "../../src/train/Pretrain.ts"
import { config, model } from "./fixture.ts"

test.before(async () => {
  await Backend.select("wasm")
})

/** Trains a ViT pretraining on a fresh model: the loss (first five steps against the last five) falls by 40 %, and its heads are gone. */
const vitPretrainingFalls = async (t: ExecutionContext, label: string, heads: string, train: (m: ReturnType<typeof model>) => Promise<{ readonly losses: ReadonlyArray<number> }>) => {
  const m = model()
  const before = W.count(m.weights)
  const r = await train(m)
  const first = r.losses.slice(0, 5).reduce((a, b) => a + b) / 5
  const last = r.losses.slice(-5).reduce((a, b) => a + b) / 5
  t.log(`${label} loss ${first.toFixed(3)} → ${last.toFixed(3)}`)
  t.true(last < first * 0.6)
  t.is(W.count(m.weights), before)
  t.false([...m.weights.keys()].some((n) => n.startsWith(heads)))
  W.dispose(m.weights)
}

/** A scene with the given objects on a 128 × 128 canvas (only boxes, names and attributes matter). */
const scene = (objects: ReadonlyArray<{ name: string; colour: string; size: string; box: [number, number, number, number] }>): Scene.Scene => ({
  imageId: 1,
  file: "images/000001.png",
  width: 128,
  height: 128,
  objects: objects.map((o, i) => ({ id: i + 1, name: o.name, attributes: [o.colour, o.size], box: { x: o.box[0], y: o.box[1], w: o.box[2], h: o.box[3] } })),
  relations: [],
  regions: []
})

test("patch targets: a patch belongs to the object covering most of it, if it covers at least 15 %", (t) => {
  // A 4 × 4 grid of 32-pixel patches. The red square covers patch 0 whole and 25 % of patch 1; the
  // blue circle covers 10 % of patch 15 only.
  const s = scene([
    { name: "square", colour: "red", size: "large", box: [0, 0, 40, 32] },
    { name: "circle", colour: "blue", size: "small", box: [118, 118, 10, 10] }
  ])
  const p = Patches.patchTargets(s, 4)
  const colours = Object.keys(Scene.COLOURS)
  t.deepEqual([...p.object], [1, 1, ...new Array(14).fill(0)])
  t.is(p.colour[0], colours.indexOf("red"))
  t.is(p.shape[1], Scene.CATEGORIES.indexOf("square"))
  t.is(p.size[1], Scene.SIZES.indexOf("large"))
  t.deepEqual([...p.box.slice(4, 8)], [0, 0, 40 / 128, 0.25])
  t.is(p.colour[15], colours.length, "10 % of a patch is background")
  t.is(p.shape[15], Scene.CATEGORIES.length)
  t.deepEqual([...p.box.slice(60, 64)], [0, 0, 0, 0])
})

test.serial("dense ViT pretraining lowers the patch-level loss and leaves no head behind", async (t) => {
  const S = config.vit.imageSize
  const g = S / config.vit.patchSize
  const items = Array.from({ length: 16 }, (_, i) => {
    const { scene, image } = Scene.generate(i, { seed: 3, minObjects: 1, maxObjects: 3 })
    return { image: Raster.toInput(image, S), targets: Patches.patchTargets(scene, g) }
  })
  await vitPretrainingFalls(t, "dense", "dense/", (m) => Pretrain.vitDense(m, items, { steps: 40, batchSize: 8, lr: 3e-3, seed: 1 }))
})


test("readout targets: one-hot colour, shape and size (background included), a bump at each corner's bin on object patches only", (t) => {
  const s = scene([{ name: "square", colour: "red", size: "large", box: [0, 0, 40, 32] }])
  const items = [{ image: new Float32Array(0), targets: Patches.patchTargets(s, 4) }]
  const labels = Pretrain.denseLabels(items)
  const y = Pretrain.readoutTargets(labels)
  const width = Pretrain.READOUT_WIDTH
  t.is(width, Pretrain.DENSE_HEADS.reduce((n, [, k]) => n + k, 0))
  t.is(y.length, 16 * width)
  const slices = (row: number) => {
    const out: Record<string, Float32Array> = {}
    let at = row * width
    for (const [name, k] of Pretrain.DENSE_HEADS) {
      out[name] = y.slice(at, at + k)
      at += k
    }
    return out
  }
  const object = slices(0)
  t.is(object.colour!.indexOf(1), Object.keys(Scene.COLOURS).indexOf("red"))
  t.is(object.colour!.reduce((a, b) => a + b), 1)
  t.is(object.shape!.indexOf(1), Scene.CATEGORIES.indexOf("square"))
  t.is(object.size!.indexOf(1), Scene.SIZES.indexOf("large"))
  // The right edge (40/128) is bin 20: the bump peaks there at 1 and falls off on both sides.
  t.is(object.x1![20], 1)
  t.true(object.x1![19]! < 1 && object.x1![19]! > 0.5 && object.x1![21] === object.x1![19])
  t.true(object.x1![30]! < 1e-6)
  const background = slices(15)
  t.is(background.colour!.indexOf(1), Object.keys(Scene.COLOURS).length)
  t.is(background.shape!.indexOf(1), Scene.CATEGORIES.length)
  for (const k of ["x0", "y0", "x1", "y1"]) t.is(background[k]!.reduce((a, b) => a + b), 0, `${k} is empty on background`)
})

test.serial("the readout term trains with the dense heads, lowers its own error and leaves no head behind", async (t) => {
  const items = Pretrain.denseItems(config, 3, 16, 1)
  const source: Pretrain.DenseSource = { count: items.length, at: (i) => items[i]! }
  const m = model()
  const before = W.count(m.weights)
  const r = await Pretrain.vitDense(m, source, { steps: 80, batchSize: 8, lr: 3e-3, seed: 1, readout: 1 })
  const first = r.losses.slice(0, 5).reduce((a, b) => a + b) / 5
  const last = r.losses.slice(-5).reduce((a, b) => a + b) / 5
  t.log(`dense + readout loss ${first.toFixed(3)} → ${last.toFixed(3)}`)
  t.true(last < first * 0.6)
  t.is(W.count(m.weights), before)
  t.false([...m.weights.keys()].some((n) => n.startsWith("dense/")))
  W.dispose(m.weights)
  // With the readout on, the loss is larger than without it at the same start (the term is there).
  const a = model()
  const b = model()
  const with0 = await Pretrain.vitDense(a, source, { steps: 1, batchSize: 8, lr: 0, seed: 1 })
  const with1 = await Pretrain.vitDense(b, source, { steps: 1, batchSize: 8, lr: 0, seed: 1, readout: 1 })
  t.true(with1.losses[0]! > with0.losses[0]! + 0.5)
  W.dispose(a.weights)
  W.dispose(b.weights)
})
