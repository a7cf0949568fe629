/**
 * Writes the data artifacts of the Pink recipe into directories: generated Visual Genome scenes,
 * the stage-2 instruction set (RC tasks mixed with general data in proportion to size), stage-1
 * captions, the detection-only split, and the held-out evaluation splits. Each directory gets its
 * samples as JSONL, its images, a `stats.json` and a `preview.png` of a few samples with their
 * boxes drawn. Everything is a function of the seed, so a rebuild has the same digest.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Box from "./Box.ts"
import * as Coco from "./Coco.ts"
import * as General from "./General.ts"
import * as Llava from "./Llava.ts"
import * as Random from "./Random.ts"
import * as Raster from "./Raster.ts"
import * as RcTasks from "./RcTasks.ts"
import * as RefCoco from "./RefCoco.ts"
import * as Scene from "./Scene.ts"
import * as Vg from "./Vg.ts"

export interface Record {
  readonly id: string
  readonly image: string
  readonly width: number
  readonly height: number
  readonly task: string
  readonly subtype: string
  readonly instruction: string
  readonly answer: string
}

export interface SceneOptions {
  readonly seed: number
  readonly images: number
  readonly minObjects: number
  readonly maxObjects: number
}

const writeJsonl = (file: string, rows: ReadonlyArray<unknown>) =>
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length > 0 ? "\n" : ""))

export const readJsonl = <A>(file: string): Array<A> =>
  fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l, i) => {
    try {
      return JSON.parse(l) as A
    } catch {
      throw new Vg.DatasetError(file, `line ${i + 1}`, "malformed JSON")
    }
  })

/** Generates scenes `stream` of a seed and writes their images under `dir/images`. */
const scenes = (dir: string, o: SceneOptions, stream: number): Array<Scene.Scene> => {
  fs.mkdirSync(path.join(dir, "images"), { recursive: true })
  return Array.from({ length: o.images }, (_, i) => {
    const { scene, image } = Scene.generate(stream * 1_000_000 + i, { seed: o.seed, minObjects: o.minObjects, maxObjects: o.maxObjects })
    fs.writeFileSync(path.join(dir, scene.file), Raster.encodePng(image))
    return scene
  })
}

const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1)
const sorted = (map: Map<string, number>) => Object.fromEntries([...map].sort((a, b) => (a[0] < b[0] ? -1 : 1)))

const objectStats = (all: ReadonlyArray<Scene.Scene>) => {
  const categories = new Map<string, number>()
  const predicates = new Map<string, number>()
  for (const s of all) {
    for (const o of s.objects) count(categories, o.name)
    for (const r of s.relations) count(predicates, r.predicate)
  }
  return { images: all.length, objects: all.reduce((n, s) => n + s.objects.length, 0), regions: all.reduce((n, s) => n + s.regions.length, 0), categories: sorted(categories), predicates: sorted(predicates) }
}

/** A generated dataset in Visual Genome's format: images + the five JSON files. */
export const vgScenes = (dir: string, o: SceneOptions) => {
  const all = scenes(dir, o, 1)
  Vg.write(dir, Vg.toFiles(all))
  const stats = objectStats(all)
  fs.writeFileSync(path.join(dir, "stats.json"), JSON.stringify(stats, null, 2))
  return stats
}

const copyImage = (fromDir: string, scene: Scene.Scene, toDir: string): string => {
  const rel = `images/${scene.file.split(/[\\/]/).join("_").replace(/^images_/, "")}`
  const dest = path.join(toDir, rel)
  if (!fs.existsSync(dest)) {
    fs.mkdirSync(path.dirname(dest), { recursive: true })
    fs.copyFileSync(path.join(fromDir, scene.file), dest)
  }
  return rel
}

/** Preview: the first samples' images in a grid, answer boxes in magenta, input boxes in cyan. */
export const preview = (dir: string, records: ReadonlyArray<Pick<Record, "image" | "instruction" | "answer">>, count = 12): void => {
  const tiles = records.slice(0, count).map((r) => {
    const img = Raster.read(path.join(dir, r.image))
    const draw = (text: string, colour: Raster.Rgb) => {
      for (const b of Box.parseAll(text)) {
        Raster.outline(img, b[0] * img.width, b[1] * img.height, (b[2] - b[0]) * img.width, (b[3] - b[1]) * img.height, colour, 1)
      }
    }
    draw(r.instruction, [0, 200, 220])
    draw(r.answer, [230, 0, 200])
    return img
  })
  if (tiles.length === 0) return
  const cols = Math.min(4, tiles.length)
  const rows = Math.ceil(tiles.length / cols)
  const cw = Math.max(...tiles.map((t) => t.width)) + 4
  const ch = Math.max(...tiles.map((t) => t.height)) + 4
  const sheet = Raster.blank(cols * cw, rows * ch, [255, 255, 255])
  tiles.forEach((t, i) => {
    const ox = (i % cols) * cw + 2
    const oy = Math.floor(i / cols) * ch + 2
    for (let y = 0; y < t.height; y++) sheet.data.set(t.data.subarray(y * t.width * 3, (y + 1) * t.width * 3), ((oy + y) * sheet.width + ox) * 3)
  })
  fs.writeFileSync(path.join(dir, "preview.png"), Raster.encodePng(sheet))
}

/**
 * The stage-2 training set: `samplesPerImage` RC samples per image of the VG dataset in `vgDir`
 * (generated or real), mixed with the general samples of `generalFile` in proportion to size.
 */
export const instructions = (vgDir: string, outDir: string, o: { readonly seed: number; readonly samplesPerImage: number; readonly generalDir?: string; readonly skipBad?: boolean; readonly rcTasks?: boolean }) => {
  const loaded = Vg.load(vgDir, { skipBad: o.skipBad })
  const records: Array<Record> = []
  const tasks = new Map<string, number>()
  const subtypes = new Map<string, number>()
  if (o.rcTasks !== false) {
    loaded.scenes.forEach((scene, i) => {
      const next = Random.rng(Random.derive(o.seed, 2, i))
      const image = copyImage(vgDir, scene, outDir)
      for (let k = 0; k < o.samplesPerImage; k++) {
        const s = RcTasks.sample(scene, next)
        if (s === undefined) continue
        records.push({ id: `rc-${scene.imageId}-${k}`, image, width: scene.width, height: scene.height, ...s })
      }
    })
  }
  let general = 0
  if (o.generalDir !== undefined) {
    for (const r of readJsonl<Record>(path.join(o.generalDir, "train.jsonl"))) {
      const dest = path.join(outDir, r.image)
      if (!fs.existsSync(dest)) {
        fs.mkdirSync(path.dirname(dest), { recursive: true })
        fs.copyFileSync(path.join(o.generalDir, r.image), dest)
      }
      records.push(r)
      general++
    }
  }
  const mixed = Random.shuffle(records, Random.rng(Random.derive(o.seed, 3, 0)))
  for (const r of mixed) {
    count(tasks, r.task)
    count(subtypes, `${r.task}/${r.subtype}`)
  }
  writeJsonl(path.join(outDir, "train.jsonl"), mixed)
  const stats = { samples: mixed.length, rc: mixed.length - general, general, tasks: sorted(tasks), subtypes: sorted(subtypes), skipped: loaded.skipped, ...objectStats(loaded.scenes) }
  fs.writeFileSync(path.join(outDir, "stats.json"), JSON.stringify(stats, null, 2))
  preview(outDir, mixed)
  return stats
}

/** General instruction data from its own generated scenes: short answers, multiple choice, grounded captions. */
export const general = (dir: string, o: SceneOptions & { readonly samplesPerImage: number }) => {
  const all = scenes(dir, o, 3)
  const records: Array<Record> = []
  const subtypes = new Map<string, number>()
  all.forEach((scene, i) => {
    const next = Random.rng(Random.derive(o.seed, 4, i))
    for (let k = 0; k < o.samplesPerImage; k++) {
      const s = General.sample(scene, next)
      if (s === undefined) continue
      count(subtypes, s.subtype)
      records.push({ id: `general-${scene.imageId}-${k}`, image: scene.file, width: scene.width, height: scene.height, ...s })
    }
  })
  writeJsonl(path.join(dir, "train.jsonl"), records)
  const stats = { samples: records.length, subtypes: sorted(subtypes), ...objectStats(all) }
  fs.writeFileSync(path.join(dir, "stats.json"), JSON.stringify(stats, null, 2))
  preview(dir, records)
  return stats
}

/**
 * General instruction data from LLaVA's conversation (or CC3M caption) JSON with images under
 * `imageDir`: one record per human → gpt turn, images copied; a missing image is an error naming
 * the file and record, or with `skipBad` a skipped and counted record.
 */
export const generalFromLlava = (jsonFile: string, imageDir: string, outDir: string, o: { readonly skipBad?: boolean } = {}) => {
  const turns = Llava.load(jsonFile)
  const records: Array<Record> = []
  const skipped: Array<Vg.Skipped> = []
  const sizes = new Map<string, { width: number; height: number }>()
  for (const turn of turns) {
    const source = Vg.findImage(imageDir, turn.image)
    if (source === undefined) {
      const reason = `image file ${turn.image} is missing`
      if (o.skipBad !== true) throw new Vg.DatasetError(jsonFile, `record ${turn.id}`, reason)
      skipped.push({ file: jsonFile, record: `record ${turn.id}`, reason })
      continue
    }
    const image = `images/${path.basename(turn.image)}`
    if (!sizes.has(image)) {
      const decoded = Raster.read(source)
      sizes.set(image, { width: decoded.width, height: decoded.height })
      fs.mkdirSync(path.join(outDir, "images"), { recursive: true })
      fs.copyFileSync(source, path.join(outDir, image))
    }
    records.push({ id: `llava-${turn.id}`, image, ...sizes.get(image)!, task: "general", subtype: "conversation", instruction: turn.instruction, answer: turn.answer })
  }
  writeJsonl(path.join(outDir, "train.jsonl"), records)
  const stats = { samples: records.length, images: sizes.size, skipped }
  fs.writeFileSync(path.join(outDir, "stats.json"), JSON.stringify(stats, null, 2))
  return stats
}

/** Stage-1 image–caption pairs. */
export const captions = (dir: string, o: SceneOptions) => {
  const all = scenes(dir, o, 2)
  const records: Array<Record> = all.map((scene, i) => {
    const s = General.captionSample(scene, Random.rng(Random.derive(o.seed, 5, i)))
    return { id: `caption-${scene.imageId}`, image: scene.file, width: scene.width, height: scene.height, task: "caption", subtype: "caption", ...s }
  })
  writeJsonl(path.join(dir, "train.jsonl"), records)
  const stats = { samples: records.length, ...objectStats(all) }
  fs.writeFileSync(path.join(dir, "stats.json"), JSON.stringify(stats, null, 2))
  preview(dir, records)
  return stats
}

/** The detection-only split (Objects365's role): COCO instances with categories and boxes, no phrases. */
export const detection = (dir: string, o: SceneOptions) => {
  const all = scenes(dir, o, 4)
  fs.writeFileSync(path.join(dir, "instances.json"), JSON.stringify(Coco.fromScenes(all, Scene.CATEGORIES)))
  const stats = objectStats(all)
  fs.writeFileSync(path.join(dir, "stats.json"), JSON.stringify({ ...stats, regions: 0 }, null, 2))
  return stats
}

/** RefCOCO's testA/testB split people from objects; ours splits round shapes from angular ones. */
export const TEST_A = new Set(["circle", "ring", "star", "diamond"])

/**
 * The held-out evaluation splits from scenes no training split sees: RefCOCO format (`refs.json`
 * with val/testA/testB + `instances.json`), Visual-7W-style pointing and PointQA-style questions.
 */
export const evaluation = (dir: string, o: SceneOptions) => {
  const all = scenes(dir, o, 5)
  const half = Math.floor(all.length / 2)
  const { refs, instances } = RefCoco.fromScenes(all, Scene.CATEGORIES, (scene, category) =>
    all.indexOf(scene) < half ? "val" : TEST_A.has(category) ? "testA" : "testB")
  fs.writeFileSync(path.join(dir, "refs.json"), JSON.stringify(refs))
  fs.writeFileSync(path.join(dir, "instances.json"), JSON.stringify(instances))
  const v7w: Array<Record> = []
  const pointqa: Array<Record> = []
  // Counting, relation and short-answer items for the task accuracies.
  const tasks: Array<Record> = []
  all.forEach((scene, i) => {
    const next = Random.rng(Random.derive(o.seed, 6, i))
    const p = General.pointing(scene, next)
    if (p !== undefined) v7w.push({ id: `v7w-${scene.imageId}`, image: scene.file, width: scene.width, height: scene.height, task: "pointing", subtype: "four-boxes", instruction: p.instruction, answer: p.answer })
    const q = General.pointQa(scene, next)
    if (q !== undefined) pointqa.push({ id: `pointqa-${scene.imageId}`, image: scene.file, width: scene.width, height: scene.height, task: "pointqa", ...q })
    const base = { image: scene.file, width: scene.width, height: scene.height }
    const counting = RcTasks.sampleTask("counting", scene, next)
    if (counting !== undefined) tasks.push({ id: `counting-${scene.imageId}`, ...base, ...counting })
    const relation = RcTasks.sampleTask("relation", scene, next)
    if (relation !== undefined) tasks.push({ id: `relation-${scene.imageId}`, ...base, ...relation })
    for (let k = 0; k < 3; k++) {
      const qa = General.sample(scene, next)
      if (qa?.subtype === "short-answer") {
        tasks.push({ id: `qa-${scene.imageId}`, ...base, ...qa })
        break
      }
    }
  })
  writeJsonl(path.join(dir, "v7w.jsonl"), v7w)
  writeJsonl(path.join(dir, "pointqa.jsonl"), pointqa)
  writeJsonl(path.join(dir, "tasks.jsonl"), tasks)
  const splits = new Map<string, number>()
  for (const r of refs) count(splits, r.split)
  const stats = { refs: refs.length, splits: sorted(splits), v7w: v7w.length, pointqa: pointqa.length, tasks: tasks.length, ...objectStats(all) }
  fs.writeFileSync(path.join(dir, "stats.json"), JSON.stringify(stats, null, 2))
  preview(dir, refs.slice(0, 12).map((r) => {
    const scene = all.find((s) => s.imageId === r.image_id)!
    const obj = scene.objects.find((x) => x.id === r.ann_id)!
    return { image: scene.file, instruction: r.sentences[0]!.sent, answer: RcTasks.boxText(scene, obj.box) }
  }))
  return stats
}
