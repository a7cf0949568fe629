/**
 * Scenes: the dataset-independent view of an annotated image (objects with names, attributes and
 * pixel boxes; relations; region phrases), which the Visual Genome loader produces from real files
 * and the generator produces from a seed.
 *
 * The generator draws small RGB images of coloured shapes (categories, colours, sizes), placed
 * without overlap, some resting on others, and annotates them: attributes, relationships (left
 * of, right of, above, below, on, next to, bigger than, smaller than, same colour as) and region
 * descriptions that identify one object unambiguously (see Expressions).
 */
import type { PixelBox } from "./Box.ts"
import * as Expressions from "./Expressions.ts"
import * as Random from "./Random.ts"
import * as Raster from "./Raster.ts"

export interface SceneObject {
  readonly id: number
  readonly name: string
  readonly attributes: ReadonlyArray<string>
  readonly box: PixelBox
}

export interface Relation {
  readonly id: number
  readonly subject: number
  readonly predicate: string
  readonly object: number
}

export interface Region {
  readonly id: number
  readonly phrase: string
  readonly box: PixelBox
}

export interface Scene {
  readonly imageId: number
  /** Image path, relative to the dataset directory. */
  readonly file: string
  readonly width: number
  readonly height: number
  readonly objects: ReadonlyArray<SceneObject>
  readonly relations: ReadonlyArray<Relation>
  readonly regions: ReadonlyArray<Region>
}

export const CATEGORIES = ["circle", "square", "triangle", "diamond", "cross", "ring", "bar", "star"] as const
export const COLOURS: Readonly<Record<string, Raster.Rgb>> = {
  red: [220, 40, 40],
  green: [40, 170, 60],
  blue: [40, 80, 220],
  yellow: [235, 210, 40],
  purple: [140, 60, 190],
  orange: [245, 140, 30],
  black: [20, 20, 20]
}
export const SIZES = ["small", "medium", "large"] as const

const SIDE: Record<(typeof SIZES)[number], number> = { small: 0.15, medium: 0.22, large: 0.3 }

/** Point-in-shape tests over the unit box [-1, 1]². */
const SHAPES: Record<(typeof CATEGORIES)[number], (u: number, v: number) => boolean> = {
  circle: (u, v) => u * u + v * v <= 1,
  square: () => true,
  triangle: (u, v) => v >= -1 + 2 * Math.abs(u) - 1e-9 && v <= 1 && Math.abs(u) <= (v + 1) / 2 + 1e-9,
  diamond: (u, v) => Math.abs(u) + Math.abs(v) <= 1,
  cross: (u, v) => Math.abs(u) <= 0.34 || Math.abs(v) <= 0.34,
  ring: (u, v) => u * u + v * v <= 1 && u * u + v * v >= 0.36,
  bar: () => true,
  star: (u, v) => {
    const r = Math.hypot(u, v)
    const a = Math.atan2(v, u) + Math.PI / 2
    const k = (((a % (2 * Math.PI / 5)) + 2 * Math.PI / 5) % (2 * Math.PI / 5)) / (2 * Math.PI / 5)
    return r <= 0.45 + 0.55 * Math.abs(1 - 2 * k)
  }
}

export interface Options {
  readonly seed: number
  readonly minObjects: number
  readonly maxObjects: number
}

const pick = <A>(next: () => number, items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)]!

const overlaps = (a: PixelBox, b: PixelBox, margin: number) =>
  a.x < b.x + b.w + margin && b.x < a.x + a.w + margin && a.y < b.y + b.h + margin && b.y < a.y + a.h + margin

/** Predicates that hold from a to b. */
export const predicates = (a: SceneObject, b: SceneObject, width: number): Array<string> => {
  const out: Array<string> = []
  const A = a.box
  const B = b.box
  const hOverlap = Math.min(A.x + A.w, B.x + B.w) - Math.max(A.x, B.x)
  const vOverlap = Math.min(A.y + A.h, B.y + B.h) - Math.max(A.y, B.y)
  const gapX = Math.max(B.x - (A.x + A.w), A.x - (B.x + B.w))
  const gapY = Math.max(B.y - (A.y + A.h), A.y - (B.y + B.h))
  if (A.y + A.h <= B.y && B.y - (A.y + A.h) <= 3 && hOverlap > 0.3 * Math.min(A.w, B.w)) out.push("on")
  else if (A.y + A.h <= B.y && hOverlap > 0) out.push("above")
  if (B.y + B.h <= A.y && hOverlap > 0) out.push("below")
  if (A.x + A.w <= B.x && vOverlap > 0) out.push("left of")
  if (B.x + B.w <= A.x && vOverlap > 0) out.push("right of")
  if (Math.max(gapX, gapY) < 0.12 * width && !out.includes("on")) out.push("next to")
  const areaA = A.w * A.h
  const areaB = B.w * B.h
  if (areaA > 1.8 * areaB) out.push("bigger than")
  if (areaB > 1.8 * areaA) out.push("smaller than")
  if (a.attributes[0] === b.attributes[0]) out.push("same colour as")
  return out
}

/** One generated scene and its image. */
export const generate = (index: number, o: Options): { readonly scene: Scene; readonly image: Raster.Image } => {
  const { scene, shade } = layout(index, o)
  const image = Raster.blank(scene.width, scene.height, [shade, shade, shade - 10])
  for (const obj of scene.objects) Raster.paint(image, obj.box.x, obj.box.y, obj.box.w, obj.box.h, COLOURS[obj.attributes[0]!]!, SHAPES[obj.name as (typeof CATEGORIES)[number]])
  return { scene, image }
}

/** One generated scene without drawing its image (the same scene as `generate`'s, for text-only uses). */
export const describeScene = (index: number, o: Options): Scene => layout(index, o).scene

const layout = (index: number, o: Options): { readonly scene: Scene; readonly shade: number } => {
  const next = Random.rng(Random.derive(o.seed, 0, index))
  const width = 128 + 16 * Math.floor(next() * 5)
  const height = 112 + 16 * Math.floor(next() * 4)
  const shade = 200 + Math.floor(next() * 40)
  const n = o.minObjects + Math.floor(next() * (o.maxObjects - o.minObjects + 1))
  const objects: Array<SceneObject> = []
  for (let i = 0; i < n; i++) {
    const name = pick(next, CATEGORIES)
    const colour = pick(next, Object.keys(COLOURS))
    const size = pick(next, SIZES)
    const side = Math.round(SIDE[size] * Math.min(width, height))
    const w = name === "bar" ? side * 2 : side
    const h = name === "bar" ? Math.round(side * 0.6) : side
    let box: PixelBox | undefined
    for (let attempt = 0; attempt < 60 && box === undefined; attempt++) {
      const base = objects.length > 0 && next() < 0.3 ? pick(next, objects) : undefined
      const candidate: PixelBox = base !== undefined
        // Resting on another object: just above it, horizontally overlapping.
        ? { x: Math.round(base.box.x + (base.box.w - w) * next()), y: base.box.y - h - 1 - Math.floor(next() * 2), w, h }
        : { x: 2 + Math.floor(next() * (width - w - 4)), y: 2 + Math.floor(next() * (height - h - 4)), w, h }
      const inside = candidate.x >= 1 && candidate.y >= 1 && candidate.x + w <= width - 1 && candidate.y + h <= height - 1
      if (inside && objects.every((other) => !overlaps(candidate, other.box, 1))) box = candidate
    }
    if (box === undefined) continue
    const object: SceneObject = { id: index * 100 + objects.length + 1, name, attributes: [colour, size], box }
    objects.push(object)
  }
  const relations: Array<Relation> = []
  for (const a of objects) {
    for (const b of objects) {
      if (a === b) continue
      const ps = predicates(a, b, width)
      // Keep at most one predicate per ordered pair, and about half the pairs.
      if (ps.length === 0 || next() < 0.5) continue
      relations.push({ id: index * 1000 + relations.length + 1, subject: a.id, predicate: pick(next, ps), object: b.id })
    }
  }
  const regions = objects.flatMap((obj, i) => {
    const phrase = Expressions.describe(obj, objects, next)
    return phrase === undefined ? [] : [{ id: index * 100 + i + 1, phrase, box: obj.box }]
  })
  return {
    scene: { imageId: index + 1, file: `images/${String(index + 1).padStart(6, "0")}.png`, width, height, objects, relations, regions },
    shade
  }
}
