/**
 * RefCOCO-style referring expressions: a refs file (a JSON array of `{ref_id, ann_id, image_id,
 * split, sentences: [{sent}], category_id}`, the content of the public `refs(unc).p` as JSON) and a
 * COCO instances file; read into evaluation items (phrase → ground-truth box), and written from
 * scenes for the held-out splits.
 */
import * as Box from "./Box.ts"
import * as Coco from "./Coco.ts"
import type { Scene } from "./Scene.ts"
import * as Vg from "./Vg.ts"

export interface Ref {
  readonly ref_id: number
  readonly ann_id: number
  readonly image_id: number
  readonly split: string
  readonly sentences: ReadonlyArray<{ readonly sent: string }>
  readonly category_id: number
}

export interface Item {
  readonly id: string
  readonly split: string
  readonly image: string
  readonly width: number
  readonly height: number
  readonly phrase: string
  readonly box: Box.Norm
  readonly category: string
}

/** Refs for every region of the scenes whose box is an object's box; `splitOf` names each ref's split. */
export const fromScenes = (scenes: ReadonlyArray<Scene>, categories: ReadonlyArray<string>, splitOf: (scene: Scene, category: string) => string): { readonly refs: Array<Ref>; readonly instances: Coco.Instances } => {
  const instances = Coco.fromScenes(scenes, categories)
  const refs: Array<Ref> = []
  for (const s of scenes) {
    for (const r of s.regions) {
      const o = s.objects.find((x) => x.box.x === r.box.x && x.box.y === r.box.y && x.box.w === r.box.w && x.box.h === r.box.h)
      if (o === undefined) continue
      refs.push({ ref_id: r.id, ann_id: o.id, image_id: s.imageId, split: splitOf(s, o.name), sentences: [{ sent: r.phrase }], category_id: categories.indexOf(o.name) + 1 })
    }
  }
  return { refs, instances }
}

/** Reads refs and instances into items (one per sentence), with images under `imageDir`. */
export const load = (refsFile: string, instancesFile: string, imageDir: string): Array<Item> => {
  const refs = Vg.readJson<Array<Ref>>(refsFile)
  if (!Array.isArray(refs)) throw new Vg.DatasetError(refsFile, undefined, "expected a JSON array of refs")
  const { scenes } = Coco.load(instancesFile, imageDir)
  const images = new Map(scenes.map((s) => [s.imageId, s]))
  const items: Array<Item> = []
  for (const ref of refs) {
    const scene = images.get(ref.image_id)
    if (scene === undefined) throw new Vg.DatasetError(refsFile, `ref ${ref.ref_id}`, `image ${ref.image_id} is not in ${instancesFile}`)
    const o = scene.objects.find((x) => x.id === ref.ann_id)
    if (o === undefined) throw new Vg.DatasetError(refsFile, `ref ${ref.ref_id}`, `annotation ${ref.ann_id} is not in ${instancesFile}`)
    ref.sentences.forEach((s, i) => items.push({
      id: `${ref.ref_id}-${i}`,
      split: ref.split,
      image: scene.file,
      width: scene.width,
      height: scene.height,
      phrase: s.sent,
      box: Box.normalise(o.box, scene.width, scene.height),
      category: o.name
    }))
  }
  return items
}
