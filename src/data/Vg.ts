/**
 * Visual Genome's JSON format: `image_data.json`, `objects.json`, `attributes.json`,
 * `relationships.json` and `region_descriptions.json`, written from scenes and read back into
 * scenes. Reading checks every record: malformed JSON, a box outside its image or a missing image
 * is an error naming the file and the record, or, with `skipBad`, a skipped and counted record.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { PixelBox } from "./Box.ts"
import type { Scene, SceneObject } from "./Scene.ts"

export interface ImageData {
  readonly image_id: number
  readonly url: string
  readonly width: number
  readonly height: number
  readonly coco_id: number | null
  readonly flickr_id: number | null
}

export interface VgObject {
  readonly object_id: number
  readonly x: number
  readonly y: number
  readonly w: number
  readonly h: number
  readonly names: ReadonlyArray<string>
  readonly synsets: ReadonlyArray<string>
}

export interface VgAttributed extends VgObject {
  readonly attributes: ReadonlyArray<string>
}

export interface VgRelationship {
  readonly relationship_id: number
  readonly predicate: string
  readonly synsets: ReadonlyArray<string>
  readonly subject: VgObject & { readonly name: string }
  readonly object: VgObject & { readonly name: string }
}

export interface VgRegion {
  readonly region_id: number
  readonly image_id: number
  readonly phrase: string
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

export interface Files {
  readonly image_data: ReadonlyArray<ImageData>
  readonly objects: ReadonlyArray<{ readonly image_id: number; readonly objects: ReadonlyArray<VgObject> }>
  readonly attributes: ReadonlyArray<{ readonly image_id: number; readonly attributes: ReadonlyArray<VgAttributed> }>
  readonly relationships: ReadonlyArray<{ readonly image_id: number; readonly relationships: ReadonlyArray<VgRelationship> }>
  readonly region_descriptions: ReadonlyArray<{ readonly id: number; readonly regions: ReadonlyArray<VgRegion> }>
}

const vgObject = (o: SceneObject): VgObject => ({ object_id: o.id, ...o.box, names: [o.name], synsets: [] })

/** The five VG files for a set of scenes (images referenced by `url` relative to the dataset). */
export const toFiles = (scenes: ReadonlyArray<Scene>): Files => ({
  image_data: scenes.map((s) => ({ image_id: s.imageId, url: s.file, width: s.width, height: s.height, coco_id: null, flickr_id: null })),
  objects: scenes.map((s) => ({ image_id: s.imageId, objects: s.objects.map(vgObject) })),
  attributes: scenes.map((s) => ({ image_id: s.imageId, attributes: s.objects.map((o) => ({ ...vgObject(o), attributes: o.attributes })) })),
  relationships: scenes.map((s) => {
    const byId = new Map(s.objects.map((o) => [o.id, o]))
    return {
      image_id: s.imageId,
      relationships: s.relations.map((r) => ({
        relationship_id: r.id,
        predicate: r.predicate,
        synsets: [],
        subject: { ...vgObject(byId.get(r.subject)!), name: byId.get(r.subject)!.name },
        object: { ...vgObject(byId.get(r.object)!), name: byId.get(r.object)!.name }
      }))
    }
  }),
  region_descriptions: scenes.map((s) => ({
    id: s.imageId,
    regions: s.regions.map((r) => ({ region_id: r.id, image_id: s.imageId, phrase: r.phrase, x: r.box.x, y: r.box.y, width: r.box.w, height: r.box.h }))
  }))
})

export const FILE_NAMES = ["image_data", "objects", "attributes", "relationships", "region_descriptions"] as const

export const write = (dir: string, files: Files): void => {
  for (const name of FILE_NAMES) fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(files[name]))
}

export class DatasetError extends Error {
  constructor(readonly file: string, readonly record: string | undefined, readonly detail: string) {
    super(`${file}${record === undefined ? "" : `: ${record}`}: ${detail}`)
  }
}

export interface Skipped {
  readonly file: string
  readonly record: string
  readonly reason: string
}

export interface Loaded {
  readonly scenes: Array<Scene>
  readonly skipped: Array<Skipped>
}

/** Reads a JSON file, naming it in the error. */
export const readJson = <A>(file: string): A => {
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch {
    throw new DatasetError(file, undefined, "file is missing")
  }
  try {
    return JSON.parse(text) as A
  } catch (e) {
    throw new DatasetError(file, undefined, `malformed JSON (${e instanceof Error ? e.message : String(e)})`)
  }
}

/** Whether a pixel box lies inside a width × height image (half a pixel of slack for rounding). */
export const boxInside = (b: PixelBox, width: number, height: number): boolean =>
  b.w > 0 && b.h > 0 && b.x >= -0.5 && b.y >= -0.5 && b.x + b.w <= width + 0.5 && b.y + b.h <= height + 0.5

/** Finds an image on disk: the url's path relative to the dataset, or its file name in the usual folders. */
export const findImage = (dir: string, url: string): string | undefined => {
  const base = path.basename(url)
  const candidates = url.includes("://") ? [] : [path.join(dir, url)]
  candidates.push(...["images", "VG_100K", "VG_100K_2", "."].map((d) => path.join(dir, d, base)))
  return candidates.find((c) => fs.existsSync(c))
}

/** Reads a VG directory into scenes; `attributes`, `relationships` and `region_descriptions` are optional. */
export const load = (dir: string, options: { readonly skipBad?: boolean } = {}): Loaded => {
  const file = (n: string) => path.join(dir, `${n}.json`)
  const optional = <A>(n: string, empty: A): A => (fs.existsSync(file(n)) ? readJson<A>(file(n)) : empty)
  const images = readJson<Array<ImageData>>(file("image_data"))
  if (!Array.isArray(images)) throw new DatasetError(file("image_data"), undefined, "expected a JSON array of images")
  const objects = new Map(readJson<Files["objects"]>(file("objects")).map((e) => [e.image_id, e.objects]))
  const attributes = new Map(optional<Files["attributes"]>("attributes", []).map((e) => [e.image_id, e.attributes]))
  const relationships = new Map(optional<Files["relationships"]>("relationships", []).map((e) => [e.image_id, e.relationships]))
  const regions = new Map(optional<Files["region_descriptions"]>("region_descriptions", []).map((e) => [e.id ?? e.regions[0]?.image_id, e.regions]))
  const skipped: Array<Skipped> = []
  const scenes: Array<Scene> = []
  const bad = (f: string, record: string, reason: string) => {
    if (options.skipBad !== true) throw new DatasetError(f, record, reason)
    skipped.push({ file: f, record, reason })
  }
  for (const img of images) {
    const where = `image ${img.image_id}`
    const imagePath = findImage(dir, img.url)
    if (imagePath === undefined) {
      bad(file("image_data"), where, `image file ${img.url} is missing`)
      continue
    }
    const attrs = new Map((attributes.get(img.image_id) ?? []).map((a) => [a.object_id, a.attributes ?? []]))
    const objs: Array<SceneObject> = []
    let broken = false
    for (const o of objects.get(img.image_id) ?? []) {
      const box = { x: o.x, y: o.y, w: o.w, h: o.h }
      if (!boxInside(box, img.width, img.height)) {
        bad(file("objects"), `${where}, object ${o.object_id}`, `box [${o.x},${o.y},${o.w},${o.h}] lies outside the ${img.width}×${img.height} image`)
        broken = true
        break
      }
      objs.push({ id: o.object_id, name: o.names[0] ?? "object", attributes: attrs.get(o.object_id) ?? [], box })
    }
    if (broken) continue
    const known = new Set(objs.map((o) => o.id))
    const rels = (relationships.get(img.image_id) ?? [])
      .filter((r) => known.has(r.subject.object_id) && known.has(r.object.object_id))
      .map((r) => ({ id: r.relationship_id, subject: r.subject.object_id, predicate: r.predicate.toLowerCase().trim(), object: r.object.object_id }))
    const regs = (regions.get(img.image_id) ?? [])
      .map((r) => ({ id: r.region_id, phrase: r.phrase.trim(), box: { x: r.x, y: r.y, w: r.width, h: r.height } }))
      .filter((r) => boxInside(r.box, img.width, img.height) && r.phrase !== "")
    scenes.push({ imageId: img.image_id, file: path.relative(dir, imagePath), width: img.width, height: img.height, objects: objs, relations: rels, regions: regs })
  }
  return { scenes, skipped }
}
