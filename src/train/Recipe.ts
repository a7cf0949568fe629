/**
 * The Pink recipe's steps as library functions the stages call: the tokenizer, pretraining of the
 * two frozen towers, the two training stages (and their ablations), self-consistent bootstrapping
 * (generate, then filter), and evaluation. Every function reads and writes plain directories.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Box from "../data/Box.ts"
import * as Build from "../data/Build.ts"
import * as Coco from "../data/Coco.ts"
import * as Random from "../data/Random.ts"
import * as RcTasks from "../data/RcTasks.ts"
import * as RefCoco from "../data/RefCoco.ts"
import type * as Scene from "../data/Scene.ts"
import * as Metrics from "../eval/Metrics.ts"
import * as Backend from "../model/Backend.ts"
import * as Checkpoint from "../model/Checkpoint.ts"
import * as Config from "../model/Config.ts"
import * as Freeze from "../model/Freeze.ts"
import * as Generate from "../model/Generate.ts"
import * as Pink from "../model/Pink.ts"
import * as Prompt from "../model/Prompt.ts"
import * as Tok from "../model/Tokenizer.ts"
import * as W from "../model/Weights.ts"
import * as Data from "./Data.ts"
import * as Loop from "./Loop.ts"
import * as Pretrain from "./Pretrain.ts"

export type Log = (line: string) => void

const MARKERS = /<\/?(?:des|loc|cls|rel|qes|opt)>/g

const bar = (p: Loop.Progress) => {
  const width = 20
  const filled = Math.round((p.step / p.steps) * width)
  const eta = Math.round(p.etaMs / 1000)
  return `progress [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${p.step}/${p.steps} loss ${p.loss.toFixed(3)} ${Math.round(p.tokensPerSecond)} tok/s ETA ${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, "0")}s`
}

/** Loss curve thinned to at most `n` points. */
const thin = (losses: ReadonlyArray<number>, n = 200) => {
  const step = Math.max(1, Math.ceil(losses.length / n))
  const out: Array<[number, number]> = []
  for (let i = 0; i < losses.length; i += step) {
    const window = losses.slice(i, i + step)
    out.push([i + 1, window.reduce((a, b) => a + b, 0) / window.length])
  }
  return out
}

/** The vocabulary: every text of the training and evaluation data. */
export const tokenizer = (sources: ReadonlyArray<{ readonly dir: string; readonly file: string }>, evalDir: string, maxWords: number): ReadonlyArray<string> => {
  const texts: Array<string> = []
  for (const { dir, file } of sources) {
    for (const r of Build.readJsonl<Build.Record>(path.join(dir, file))) texts.push(r.instruction, r.answer)
  }
  for (const f of ["v7w.jsonl", "pointqa.jsonl", "tasks.jsonl"]) {
    for (const r of Build.readJsonl<Build.Record>(path.join(evalDir, f))) texts.push(r.instruction, r.answer)
  }
  for (const r of JSON.parse(fs.readFileSync(path.join(evalDir, "refs.json"), "utf8")) as Array<RefCoco.Ref>) texts.push(...r.sentences.map((s) => s.sent))
  texts.push(...Object.values(RcTasks.TEMPLATES).flatMap((t) => Object.values(t).flat()))
  return Tok.fromCorpus(texts, { maxWords }).vocab
}

export interface TrainOptions {
  readonly preset: Config.Preset
  readonly steps: number
  readonly batchSize: number
  readonly lr: number
  readonly weightDecay: number
  readonly warmup: number
  readonly seed: number
  readonly checkpointDir: string
  readonly log: Log
}

const loopOptions = (o: TrainOptions, tokensPerStep: number): Loop.Options => ({
  steps: o.steps,
  lr: o.lr,
  warmupFraction: o.warmup,
  seed: o.seed,
  adamw: { weightDecay: o.weightDecay, clipNorm: 1 },
  tokensPerStep,
  checkpointDir: o.checkpointDir,
  checkpointEvery: Math.max(50, Math.round(o.steps / 5)),
  onProgress: (p) => o.log(bar(p)),
  onCheckpoint: (e) => o.log(e.saved !== undefined ? `checkpoint at step ${e.saved}` : `resumed from step ${e.resumed}`),
  progressEveryMs: 3000
})

const started = async (log: Log) => {
  const b = await Backend.select()
  log(`backend ${b.name} (matmul ${b.matmul})`)
  return b
}

/** CLIP-style pretraining of the ViT on the caption pairs. */
export const pretrainVision = async (vocab: ReadonlyArray<string>, captionsDir: string, out: string, o: TrainOptions) => {
  const backend = await started(o.log)
  const tok = Tok.fromVocab(vocab)
  const c = Config.presets[o.preset]
  const model = Pink.init(c, tok.size, Prompt.imageSlot(tok), o.seed, false)
  const records = Build.readJsonl<Build.Record>(path.join(captionsDir, "train.jsonl"))
  const pixels = Data.pixelLoader(c)
  const pairs = records.map((r) => ({ image: pixels(path.join(captionsDir, r.image)), caption: r.answer }))
  const r = await Pretrain.vit(model, tok, pairs, { steps: o.steps, batchSize: o.batchSize, lr: o.lr, seed: o.seed, weightDecay: o.weightDecay, warmupFraction: o.warmup, checkpointDir: o.checkpointDir, checkpointEvery: Math.max(50, Math.round(o.steps / 5)), onProgress: (p) => o.log(bar(p)) })
  await Checkpoint.save(out, model, tok, { stage: "pretrain-vision" })
  W.dispose(model.weights)
  return { losses: thin(r.losses), backend: backend.name }
}

/** The LM's pretraining text for instruction records: one user–assistant exchange each, markers removed (the LM never sees them). */
export const lmTexts = (records: ReadonlyArray<Build.Record>): Array<string> =>
  records.map((r) => `User: ${r.instruction.replace(MARKERS, "")}\nAssistant: ${r.answer}`)

/** Next-token pretraining of the LM on the data's text (`lmTexts`). */
export const pretrainLm = async (vocab: ReadonlyArray<string>, sources: ReadonlyArray<{ readonly dir: string; readonly file: string }>, out: string, o: TrainOptions) => {
  const backend = await started(o.log)
  const tok = Tok.fromVocab(vocab)
  const c = Config.presets[o.preset]
  const model = Pink.init(c, tok.size, Prompt.imageSlot(tok), o.seed, false)
  const texts = sources.flatMap(({ dir, file }) => lmTexts(Build.readJsonl<Build.Record>(path.join(dir, file))))
  const r = await Pretrain.lm(model, tok, texts, { steps: o.steps, batchSize: o.batchSize, lr: o.lr, seed: o.seed, weightDecay: o.weightDecay, warmupFraction: o.warmup, checkpointDir: o.checkpointDir, checkpointEvery: Math.max(50, Math.round(o.steps / 5)), onProgress: (p) => o.log(bar(p)) })
  await Checkpoint.save(out, model, tok, { stage: "pretrain-lm" })
  W.dispose(model.weights)
  return { losses: thin(r.losses), backend: backend.name }
}

export type Init =
  | { readonly from: "pretrained"; readonly vision: string; readonly lm: string; readonly vocab: ReadonlyArray<string> }
  | { readonly from: "model"; readonly dir: string }

/**
 * A training stage: stage 1 (`projectionOnly` on captions) or stage 2 (`adaptersAndProjection` on
 * the instruction mix). `adapters: false` builds the model without adapters (the projection-only
 * ablation of stage 2).
 */
export const trainStage = async (init: Init, sources: ReadonlyArray<{ readonly dir: string; readonly file: string }>, policyName: Freeze.Name, adapters: boolean, out: string, o: TrainOptions) => {
  const backend = await started(o.log)
  let model: Pink.Model
  let tok: Tok.Tokenizer
  if (init.from === "pretrained") {
    tok = Tok.fromVocab(init.vocab)
    model = Pink.init(Config.presets[o.preset], tok.size, Prompt.imageSlot(tok), o.seed, adapters)
    await Checkpoint.loadParts(model, init.vision, ["vit/"])
    await Checkpoint.loadParts(model, init.lm, ["lm/"])
  } else {
    const loaded = await Checkpoint.load(init.dir)
    tok = loaded.tokenizer
    model = loaded.model
    if (!adapters && Pink.hasAdapters(model)) {
      for (const n of [...model.weights.keys()].filter((n) => n.includes("/adapter/"))) {
        model.weights.get(n)!.dispose()
        model.weights.delete(n)
      }
    }
  }
  const c = model.config
  const set = Data.load(sources, tok, c)
  o.log(`${set.items.length} training samples${set.tooLong > 0 ? ` (${set.tooLong} longer than the context left out)` : ""}`)
  const policy = Freeze.policy(policyName, model, tok)
  const counts = Freeze.counts(model, policy)
  o.log(`training ${counts.trainable} of ${counts.total} parameters (${(counts.fraction * 100).toFixed(2)} %)`)
  const avgTokens = o.batchSize * Math.min(c.lm.maxLen, set.items.reduce((n, i) => n + i.example.ids.length, 0) / Math.max(1, set.items.length))
  const r = await Loop.train(model.weights, policy, (step, seed) => {
    const b = Data.batch(set, c, o.batchSize, o.seed, step)
    return Pink.maskedLoss(Pink.forward(model, b.ids, b.images, { training: true, seed }), b.targets, b.weights)
  }, loopOptions(o, avgTokens))
  await Checkpoint.save(out, model, tok, { stage: policyName })
  W.dispose(model.weights)
  return { losses: thin(r.losses), trainable: counts.trainable, total: counts.total, samples: set.items.length, backend: backend.name }
}

/** Greedy answers for (image file, instruction) pairs, in batches. */
const answer = async (model: Pink.Model, tok: Tok.Tokenizer, items: ReadonlyArray<{ readonly image: string; readonly instruction: string }>, maxNewTokens: number, batchSize: number, log: Log, label: string): Promise<Array<string>> => {
  const pixels = Data.pixelLoader(model.config)
  const S = model.config.vit.imageSize
  const out: Array<string> = []
  for (let i = 0; i < items.length; i += batchSize) {
    const chunk = items.slice(i, i + batchSize)
    const data = new Float32Array(chunk.length * S * S * 3)
    chunk.forEach((item, k) => data.set(pixels(item.image), k * S * S * 3))
    const images = tf.tensor4d(data, [chunk.length, S, S, 3])
    out.push(...(await Generate.generate(model, tok, images, chunk.map((x) => x.instruction), { maxNewTokens })).map((s) => s.trim()))
    images.dispose()
    if (i === 0 || (i / batchSize) % 10 === 9) log(`${label}: ${Math.min(items.length, i + batchSize)}/${items.length}`)
  }
  return out
}

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


const GROUNDING_CAPTION = "Give a short phrase for <loc>{box}</loc>."
const GROUNDING = "Where is <des>{phrase}</des>? Answer with its box."

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

export interface Prediction {
  readonly id: string
  readonly kind: string
  readonly split: string
  readonly image: string
  readonly prompt: string
  readonly generated: string
  readonly parsed: unknown
  readonly truth: unknown
  readonly correct: boolean
  readonly formatError: boolean
}

/**
 * Evaluation on the held-out splits: REC Acc@0.5 per split (RefCOCO format), Visual-7W-style
 * pointing, PointQA exact match, counting, relation and short-answer accuracy, and the format-error
 * rate; `external` adds a RefCOCO-format split from elsewhere (refs, instances, image directory).
 */
export const evaluate = async (modelDir: string, evalDir: string, out: string, o: { readonly limit: number; readonly batchSize: number; readonly seed: number; readonly log: Log; readonly external?: { readonly refs: string; readonly instances: string; readonly images: string } }) => {
  await started(o.log)
  const { model, tokenizer } = await Checkpoint.load(modelDir)
  const pick = Random.rng(o.seed)
  const template = GROUNDING
  const predictions: Array<Prediction> = []
  const recSets: Array<{ items: Array<RefCoco.Item>; dir: string; external: boolean }> = [
    { items: RefCoco.load(path.join(evalDir, "refs.json"), path.join(evalDir, "instances.json"), evalDir), dir: evalDir, external: false }
  ]
  if (o.external !== undefined) recSets.push({ items: RefCoco.load(o.external.refs, o.external.instances, o.external.images).map((i) => ({ ...i, split: `external-${i.split}` })), dir: o.external.images, external: true })
  for (const set of recSets) {
    const bySplit = new Map<string, Array<RefCoco.Item>>()
    for (const i of set.items) bySplit.set(i.split, [...(bySplit.get(i.split) ?? []), i])
    for (const [split, items] of bySplit) {
      const chosen = Random.shuffle(items, pick).slice(0, o.limit)
      const prompts = chosen.map((i) => template.replace("{phrase}", i.phrase))
      const answers = await answer(model, tokenizer, chosen.map((i, k) => ({ image: path.join(set.dir, i.image), instruction: prompts[k]! })), 12, o.batchSize, o.log, `REC ${split}`)
      chosen.forEach((i, k) => {
        const r = Metrics.rec(answers[k]!, i.box)
        predictions.push({ id: i.id, kind: "rec", split, image: path.join(set.external ? set.dir : "", i.image), prompt: prompts[k]!, generated: answers[k]!, parsed: r.box, truth: i.box, correct: r.correct, formatError: r.formatError })
      })
    }
  }
  const jsonl = (kind: string, file: string, maxNew: number, judge: (generated: string, truth: string) => { correct: boolean; formatError: boolean; parsed: unknown }) => async () => {
    const rows = Random.shuffle(Build.readJsonl<Build.Record>(path.join(evalDir, file)), pick).slice(0, o.limit)
    const answers = await answer(model, tokenizer, rows.map((r) => ({ image: path.join(evalDir, r.image), instruction: r.instruction })), maxNew, o.batchSize, o.log, kind)
    rows.forEach((r, k) => {
      const j = judge(answers[k]!, r.answer)
      const split = kind === "tasks" ? r.task === "general" ? "short-answer" : r.task : kind
      predictions.push({ id: r.id, kind, split, image: r.image, prompt: r.instruction, generated: answers[k]!, parsed: j.parsed, truth: r.answer, correct: j.correct, formatError: j.formatError })
    })
  }
  await jsonl("v7w", "v7w.jsonl", 8, (g, t) => {
    const c = Metrics.choice(g)
    return { correct: c !== null && c === Metrics.choice(t), formatError: c === null, parsed: c }
  })()
  await jsonl("pointqa", "pointqa.jsonl", 4, (g, t) => ({ correct: Metrics.exactMatch(g, t), formatError: g.trim() === "", parsed: g }))()
  await jsonl("tasks", "tasks.jsonl", 12, (g, t) => ({ correct: Metrics.exactMatch(g, t), formatError: g.trim() === "", parsed: g }))()
  const groups = new Map<string, Array<Prediction>>()
  for (const p of predictions) groups.set(p.split, [...(groups.get(p.split) ?? []), p])
  const metrics: Record<string, number> = {}
  for (const [split, ps] of [...groups].sort()) {
    const a = Metrics.accuracy(ps)
    metrics[`${ps[0]!.kind === "rec" ? "rec" : "acc"}/${split}`] = a.accuracy
    metrics[`n/${split}`] = a.n
  }
  const all = Metrics.accuracy(predictions)
  metrics["formatErrorRate"] = all.n === 0 ? 0 : all.formatErrors / all.n
  const rec = predictions.filter((p) => p.kind === "rec" && !p.split.startsWith("external"))
  metrics["rec/all"] = Metrics.accuracy(rec).accuracy
  fs.writeFileSync(path.join(out, "predictions.jsonl"), predictions.map((p) => JSON.stringify(p)).join("\n") + "\n")
  W.dispose(model.weights)
  return metrics
}
