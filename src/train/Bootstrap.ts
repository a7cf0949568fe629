/**
 * Self-consistent bootstrapping: the stage-2 model describes boxes of the detection-only split and
 * grounds its own descriptions (generate), and the pairs that agree become training data (filter).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Box from "../data/Box.ts"
import * as Build from "../data/Build.ts"
import * as Coco from "../data/Coco.ts"
import * as Random from "../data/Random.ts"
import * as RcTasks from "../data/RcTasks.ts"
import type * as Scene from "../data/Scene.ts"
import * as Metrics from "../eval/Metrics.ts"
import * as Checkpoint from "../model/Checkpoint.ts"
import * as W from "../model/Weights.ts"
import { answer, GROUNDING, GROUNDING_CAPTION } from "./Answer.ts"
import { started, type Log } from "./Session.ts"

export interface BootstrapOptions {
  readonly maxAnnotations: number
  readonly minArea: number
  readonly maxObjects: number
  readonly batchSize: number
  readonly seed: number
  readonly log: Log
}

/**
 * The boxes bootstrapping describes: images with at most `maxAnnotations` annotations, objects of
 * at least `minArea` square pixels (in the original image).
 */
export const selectCandidates = (scenes: ReadonlyArray<Scene.Scene>, o: { readonly maxAnnotations: number; readonly minArea: number }) => {
  const candidates: Array<{ image: string; imageId: number; objectId: number; category: string; truth: Box.Norm }> = []
  let images = 0
  for (const s of scenes) {
    if (s.objects.length > o.maxAnnotations) continue
    images++
    for (const obj of s.objects) {
      if (obj.box.w * obj.box.h < o.minArea) continue
      candidates.push({ image: s.file, imageId: s.imageId, objectId: obj.id, category: obj.name, truth: Box.round3(Box.normalise(obj.box, s.width, s.height)) })
    }
  }
  return { candidates, images }
}

/**
 * Bootstrapping, step 1: on the detection-only split, the stage-2 model describes each kept box
 * with a grounding-caption prompt, then grounds its own description (greedy decoding).
 */
export const bootstrapGenerate = async (modelDir: string, detectionDir: string, out: string, o: BootstrapOptions) => {
  await started(o.log)
  const { model, tokenizer } = await Checkpoint.load(modelDir)
  const { scenes } = Coco.load(path.join(detectionDir, "instances.json"), detectionDir)
  const { candidates, images } = selectCandidates(scenes, o)
  const chosen = Random.shuffle(candidates, Random.rng(o.seed)).slice(0, o.maxObjects)
  o.log(`${chosen.length} boxes from ${images} images (of ${scenes.length}; more than ${o.maxAnnotations} annotations or smaller than ${o.minArea} px² left out)`)
  const at = (c: (typeof chosen)[number]) => path.join(detectionDir, c.image)
  const descriptions = await answer(model, tokenizer, chosen.map((c) => ({ image: at(c), instruction: GROUNDING_CAPTION.replace("{box}", Box.format(c.truth)) })), 16, o.batchSize, o.log, "describe")
  const grounded = await answer(model, tokenizer, chosen.map((c, i) => ({ image: at(c), instruction: GROUNDING.replace("{phrase}", descriptions[i]!) })), 12, o.batchSize, o.log, "ground")
  const rows = chosen.map((c, i) => ({ ...c, description: descriptions[i]!, grounded: grounded[i]! }))
  fs.writeFileSync(path.join(out, "candidates.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n") + "\n")
  W.dispose(model.weights)
  return { candidates: rows.length, images }
}

/**
 * Bootstrapping, step 2: keep a (description, ground-truth box) pair when the grounded output
 * parses to exactly one box with IoU ≥ `minIou`; keep an image with at least one pair; build the
 * grounding, grounding-caption, spatial, detection and counting samples on the kept pairs.
 */
export const bootstrapFilter = (candidatesDir: string, detectionDir: string, out: string, o: { readonly minIou: number; readonly samplesPerImage: number; readonly seed: number }) => {
  const rows = Build.readJsonl<{ image: string; imageId: number; objectId: number; category: string; truth: Box.Norm; description: string; grounded: string }>(path.join(candidatesDir, "candidates.jsonl"))
  const { scenes } = Coco.load(path.join(detectionDir, "instances.json"), detectionDir)
  const byId = new Map(scenes.map((s) => [s.imageId, s]))
  const perCategory = new Map<string, { kept: number; total: number }>()
  const kept = new Map<number, Array<Scene.Region>>()
  for (const r of rows) {
    const stat = perCategory.get(r.category) ?? { kept: 0, total: 0 }
    stat.total++
    if (Metrics.keepPair(r.description, r.grounded, r.truth, o.minIou)) {
      stat.kept++
      const scene = byId.get(r.imageId)!
      const obj = scene.objects.find((x) => x.id === r.objectId)!
      kept.set(r.imageId, [...(kept.get(r.imageId) ?? []), { id: r.objectId, phrase: r.description.trim(), box: obj.box }])
    }
    perCategory.set(r.category, stat)
  }
  fs.mkdirSync(path.join(out, "images"), { recursive: true })
  const records: Array<Build.Record> = []
  const tasks = ["grounding", "grounding-caption", "spatial", "detection", "counting"] as const
  for (const [imageId, regions] of kept) {
    const scene = { ...byId.get(imageId)!, regions }
    const image = `images/${path.basename(scene.file)}`
    fs.copyFileSync(path.join(detectionDir, scene.file), path.join(out, image))
    const next = Random.rng(Random.derive(o.seed, 7, imageId))
    for (let k = 0; k < o.samplesPerImage; k++) {
      const s = RcTasks.sampleTask(tasks[Math.floor(next() * tasks.length)]!, scene, next)
      if (s !== undefined) records.push({ id: `boot-${imageId}-${k}`, image, width: scene.width, height: scene.height, ...s })
    }
  }
  fs.writeFileSync(path.join(out, "train.jsonl"), records.map((r) => JSON.stringify(r)).join("\n") + (records.length > 0 ? "\n" : ""))
  const total = rows.length
  const keptCount = [...perCategory.values()].reduce((n, s) => n + s.kept, 0)
  const stats = {
    candidates: total,
    kept: keptCount,
    survival: total === 0 ? 0 : keptCount / total,
    images: kept.size,
    samples: records.length,
    perCategory: Object.fromEntries([...perCategory].sort().map(([k, v]) => [k, { ...v, rate: v.total === 0 ? 0 : v.kept / v.total }]))
  }
  fs.writeFileSync(path.join(out, "stats.json"), JSON.stringify(stats, null, 2))
  if (records.length > 0) Build.preview(out, records)
  return stats
}
