/**
 * What covers each patch: a scene seen as the ViT's grid of patches, each owned by the object that
 * covers most of it (or by the background). The ViT's patch-level pretraining predicts these
 * targets, and the LM's scene layouts (Layout.ts) write the same owners as text.
 */
import * as Box from "./Box.ts"
import * as Scene from "./Scene.ts"

/** Per-patch targets of one scene, patches in row-major order. */
export interface PatchTargets {
  /** Index into `Scene.COLOURS`' keys; their count for background. */
  readonly colour: Int32Array
  /** Index into `Scene.CATEGORIES`; their count for background. */
  readonly shape: Int32Array
  /** Index into `Scene.SIZES`; their count for background. */
  readonly size: Int32Array
  /** The covering object's normalised box, 4 per patch (zeros for background). */
  readonly box: Float32Array
  /** 1 where the patch belongs to an object. */
  readonly object: Float32Array
  /** Index into the scene's objects of the covering object, -1 for background. */
  readonly owner: Int32Array
}

export const COLOUR_NAMES = Object.keys(Scene.COLOURS)

/**
 * A patch of a `grid` × `grid` split of the (resized) image belongs to the object whose box covers
 * most of it, if that is at least 15 % of the patch (so a small object still owns a patch).
 */
export const patchTargets = (scene: Scene.Scene, grid: number): PatchTargets => {
  const N = grid * grid
  const t = {
    colour: new Int32Array(N).fill(COLOUR_NAMES.length),
    shape: new Int32Array(N).fill(Scene.CATEGORIES.length),
    size: new Int32Array(N).fill(Scene.SIZES.length),
    box: new Float32Array(N * 4),
    object: new Float32Array(N),
    owner: new Int32Array(N).fill(-1)
  }
  const boxes = scene.objects.map((o) => Box.normalise(o.box, scene.width, scene.height))
  const e = 1 / grid
  for (let p = 0; p < N; p++) {
    const x0 = (p % grid) * e
    const y0 = Math.floor(p / grid) * e
    let best = -1
    let bestArea = 0.15 * e * e
    boxes.forEach((b, k) => {
      const a = Math.max(0, Math.min(b[2], x0 + e) - Math.max(b[0], x0)) * Math.max(0, Math.min(b[3], y0 + e) - Math.max(b[1], y0))
      if (a > bestArea) {
        bestArea = a
        best = k
      }
    })
    if (best < 0) continue
    const o = scene.objects[best]!
    t.colour[p] = COLOUR_NAMES.indexOf(o.attributes[0]!)
    t.size[p] = Scene.SIZES.indexOf(o.attributes[1] as (typeof Scene.SIZES)[number])
    t.shape[p] = Scene.CATEGORIES.indexOf(o.name as (typeof Scene.CATEGORIES)[number])
    t.box.set(boxes[best]!, p * 4)
    t.object[p] = 1
    t.owner[p] = best
  }
  return t
}

