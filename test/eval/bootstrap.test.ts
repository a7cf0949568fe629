/** The bootstrapping filter rules on hand-built cases. */
import test from "ava"
import type * as Scene from "../../src/data/Scene.ts"
import * as Metrics from "../../src/eval/Metrics.ts"
import * as Bootstrap from "../../src/train/Bootstrap.ts"

const obj = (id: number, w: number, h: number): Scene.SceneObject => ({ id, name: "square", attributes: [], box: { x: 0, y: 0, w, h } })
const scene = (id: number, objects: Array<Scene.SceneObject>): Scene.Scene => ({ imageId: id, file: `${id}.png`, width: 100, height: 100, objects, relations: [], regions: [] })

test("images with too many annotations and objects below the area threshold are left out", (t) => {
  const crowded = scene(1, Array.from({ length: 16 }, (_, i) => obj(i, 30, 30)))
  const mixed = scene(2, [obj(100, 50, 40), obj(101, 10, 10), obj(102, 20, 10)])
  const { candidates, images } = Bootstrap.selectCandidates([crowded, mixed], { maxAnnotations: 15, minArea: 200 })
  t.is(images, 1)
  t.deepEqual(candidates.map((c) => c.objectId), [100, 102])
  t.deepEqual(candidates[0]!.truth, [0, 0, 0.5, 0.4])
})

test("a pair is kept only when its grounding is exactly one box with IoU ≥ 0.5", (t) => {
  const truth = [0.1, 0.1, 0.5, 0.5] as const
  t.true(Metrics.keepPair("the red square", "[0.100,0.100,0.500,0.500]", truth, 0.5))
  // IoU exactly 0.5 (dyadic coordinates, so exact in floating point) is kept (≥), unlike REC's strict >.
  t.true(Metrics.keepPair("the red square", "[0.000,0.000,0.500,0.250]", [0, 0, 0.5, 0.5], 0.5))
  t.false(Metrics.keepPair("the red square", "[0.000,0.000,0.500,0.240]", [0, 0, 0.5, 0.5], 0.5))
  t.false(Metrics.keepPair("the red square", "[0.100,0.100,0.500,0.500] [0.100,0.100,0.500,0.500]", truth, 0.5), "two boxes")
  t.false(Metrics.keepPair("the red square", "N/A", truth, 0.5))
  t.false(Metrics.keepPair("", "[0.100,0.100,0.500,0.500]", truth, 0.5), "an empty description")
  t.false(Metrics.keepPair("[0.100,0.100,0.500,0.500]", "[0.100,0.100,0.500,0.500]", truth, 0.5), "a box is no description")
})
