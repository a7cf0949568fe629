/**
 * COCO detection JSON (`images`, `annotations` with `bbox` [x, y, w, h], `categories`), the format
 * Objects365 uses too, read into scenes (objects only: no phrases, no relations), and written
 * from scenes for the detection-only split.
 */
import * as path from "node:path"
import type { Scene } from "./Scene.ts"
import * as Vg from "./Vg.ts"

export interface Instances {
  readonly images: ReadonlyArray<{ readonly id: number; readonly file_name: string; readonly width: number; readonly height: number }>
  readonly annotations: ReadonlyArray<{ readonly id: number; readonly image_id: number; readonly bbox: readonly [number, number, number, number]; readonly category_id: number; readonly area: number; readonly iscrowd: 0 | 1 }>
  readonly categories: ReadonlyArray<{ readonly id: number; readonly name: string }>
}

export const fromScenes = (scenes: ReadonlyArray<Scene>, categories: ReadonlyArray<string>): Instances => {
  const catId = new Map(categories.map((c, i) => [c, i + 1]))
  return {
    images: scenes.map((s) => ({ id: s.imageId, file_name: s.file, width: s.width, height: s.height })),
    annotations: scenes.flatMap((s) => s.objects.map((o) => ({
      id: o.id,
      image_id: s.imageId,
      bbox: [o.box.x, o.box.y, o.box.w, o.box.h] as const,
      category_id: catId.get(o.name)!,
      area: o.box.w * o.box.h,
      iscrowd: 0 as const
    }))),
    categories: categories.map((c, i) => ({ id: i + 1, name: c }))
  }
}

/** Reads `file` (instances JSON) with images under `imageDir`. */
export const load = (file: string, imageDir: string, options: { readonly skipBad?: boolean } = {}): Vg.Loaded => {
  const json = Vg.readJson<Instances>(file)
  if (!Array.isArray(json.images) || !Array.isArray(json.annotations) || !Array.isArray(json.categories)) {
    throw new Vg.DatasetError(file, undefined, "expected COCO instances: images, annotations and categories arrays")
  }
  const names = new Map(json.categories.map((c) => [c.id, c.name]))
  const byImage = new Map<number, Array<Instances["annotations"][number]>>()
  for (const a of json.annotations) byImage.set(a.image_id, [...(byImage.get(a.image_id) ?? []), a])
  const skipped: Array<Vg.Skipped> = []
  const scenes: Array<Scene> = []
  const bad = (record: string, reason: string) => {
    if (options.skipBad !== true) throw new Vg.DatasetError(file, record, reason)
    skipped.push({ file, record, reason })
  }
  for (const img of json.images) {
    const imagePath = Vg.findImage(imageDir, img.file_name)
    if (imagePath === undefined) {
      bad(`image ${img.id}`, `image file ${img.file_name} is missing`)
      continue
    }
    const anns = byImage.get(img.id) ?? []
    const outside = anns.find((a) => !Vg.boxInside({ x: a.bbox[0], y: a.bbox[1], w: a.bbox[2], h: a.bbox[3] }, img.width, img.height))
    if (outside !== undefined) {
      bad(`image ${img.id}, annotation ${outside.id}`, `bbox [${outside.bbox}] lies outside the ${img.width}×${img.height} image`)
      continue
    }
    scenes.push({
      imageId: img.id,
      file: path.relative(imageDir, imagePath),
      width: img.width,
      height: img.height,
      objects: anns.map((a) => ({ id: a.id, name: names.get(a.category_id) ?? `category ${a.category_id}`, attributes: [], box: { x: a.bbox[0], y: a.bbox[1], w: a.bbox[2], h: a.bbox[3] } })),
      relations: [],
      regions: []
    })
  }
  return { scenes, skipped }
}
