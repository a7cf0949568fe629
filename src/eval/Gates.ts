/**
 * The gates a frozen tower must pass before the recipe runs on it (the foundation pipeline's
 * metrics):
 *
 * - `vitProbe`: fresh linear probes on the ViT's frozen patch features (the block Pink reads),
 *   fitted on one set of generated scenes and scored on another: colour, shape and size of the
 *   covering object on object patches, and how often the box read from a patch's four corner bins
 *   overlaps its object's box with IoU > 0.5.
 * - `lmGrounding`: the LM reading scene layouts of held-out generated scenes (text, no image)
 *   answers the evaluation's grounding prompt; scored like REC (exactly one box, IoU > 0.5), and the
 *   share of answers that are well-formed boxes.
 * - `projectedGrounding`: the pair — the same grounding from the scenes' images, through the
 *   least-squares projection stage 1 starts from; what a linear projection carries of what the
 *   ViT knows into what the LM reads.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as Box from "../data/Box.ts"
import * as Random from "../data/Random.ts"
import * as Raster from "../data/Raster.ts"
import * as Scene from "../data/Scene.ts"
import * as Config from "../model/Config.ts"
import * as Generate from "../model/Generate.ts"
import * as L from "../model/Layers.ts"
import * as Checkpoint from "../model/Checkpoint.ts"
import * as Pink from "../model/Pink.ts"
import * as Tok from "../model/Tokenizer.ts"
import * as W from "../model/Weights.ts"
import { GROUNDING } from "../train/Answer.ts"
import * as Alignment from "../train/Alignment.ts"
import * as Layouts from "../train/Layouts.ts"
import * as Loop from "../train/Loop.ts"
import * as Pretrain from "../train/Pretrain.ts"
import { started, type Log } from "../train/Session.ts"
import * as Metrics from "./Metrics.ts"

export interface ProbeResult {
  readonly colour: number
  readonly shape: number
  readonly size: number
  /** Object patches whose four predicted corner bins give a box with IoU > 0.5 against the truth. */
  readonly box: number
  readonly objectPatches: number
}

const argmaxRows = (x: tf.Tensor): Int32Array => {
  const t = tf.argMax(x, -1)
  const out = t.dataSync() as Int32Array
  t.dispose()
  return out
}

/** Linear probes of the frozen ViT's patch features: fitted on `train`, scored on `test`. */
export const vitProbe = async (model: Pink.Model, train: ReadonlyArray<Pretrain.DenseItem>, test: ReadonlyArray<Pretrain.DenseItem>, o: { readonly steps: number; readonly seed: number }): Promise<ProbeResult> => {
  const C = model.config.vit.width
  const fitFeatures = Pretrain.patchFeatures(model, train)
  const fit = tf.tensor2d(fitFeatures, [fitFeatures.length / C, C])
  const labels = Pretrain.denseLabels(train)
  const probe: W.Weights = new Map()
  Pretrain.initDenseHeads(probe, o.seed, C, "probe/")
  const rows = fit.shape[0]
  const batch = 2048
  await Loop.train(probe, { name: "vit", trainable: [...probe.keys()], rows: new Map() }, (step) => {
    const next = W.rng(W.seedFor(o.seed, `probe-${step}`))
    const idx = Array.from({ length: Math.min(batch, rows) }, () => Math.floor(next() * rows))
    const sub = {
      ...Object.fromEntries(Pretrain.DENSE_HEADS.map(([name]) => [name, Int32Array.from(idx, (i) => labels[name][i]!)])),
      object: Float32Array.from(idx, (i) => labels.object[i]!)
    } as typeof labels
    return Pretrain.denseHeadLoss(probe, "probe/", tf.gather(fit, tf.tensor1d(Int32Array.from(idx), "int32")), sub)
  }, { steps: o.steps, lr: 1e-2, warmupFraction: 0.05, seed: o.seed, adamw: { weightDecay: 0 }, tokensPerStep: batch })
  fit.dispose()
  const testFeatures = Pretrain.patchFeatures(model, test)
  const x = tf.tensor2d(testFeatures, [testFeatures.length / C, C])
  const truth = Pretrain.denseLabels(test)
  const predicted = Object.fromEntries(Pretrain.DENSE_HEADS.map(([name]) => [name, tf.tidy(() => argmaxRows(L.linear(probe, `probe/${name}`, x)))])) as Record<(typeof Pretrain.DENSE_HEADS)[number][0], Int32Array>
  x.dispose()
  W.dispose(probe)
  let n = 0
  const hits = { colour: 0, shape: 0, size: 0, box: 0 }
  const boxes = test.flatMap((i) => Array.from({ length: i.targets.object.length }, (_, p) => i.targets.box.slice(p * 4, p * 4 + 4)))
  truth.object.forEach((isObject, p) => {
    if (isObject !== 1) return
    n++
    for (const k of ["colour", "shape", "size"] as const) if (predicted[k][p] === truth[k][p]) hits[k]++
    const b: Box.Norm = [Tok.binValue(predicted.x0[p]!), Tok.binValue(predicted.y0[p]!), Tok.binValue(predicted.x1[p]!), Tok.binValue(predicted.y1[p]!)]
    const t = boxes[p]!
    if (Box.iou(b, [t[0]!, t[1]!, t[2]!, t[3]!]) > 0.5) hits.box++
  })
  const share = (k: number) => (n === 0 ? 0 : k / n)
  return { colour: share(hits.colour), shape: share(hits.shape), size: share(hits.size), box: share(hits.box), objectPatches: n }
}

export interface GroundingResult {
  readonly accuracy: number
  readonly wellFormed: number
  readonly n: number
  /** Accuracy by phrase form (Metrics.byForm): `rec/position`, `rec/attributes`. */
  readonly byForm: Readonly<Record<string, number>>
  readonly examples: ReadonlyArray<{ readonly phrase: string; readonly generated: string; readonly truth: Box.Norm; readonly correct: boolean }>
}

/** The LM's text-only grounding on the layouts of held-out generated scenes: every described object of `scenes` scenes. */
export const lmGrounding = async (model: Pink.Model, tok: Tok.Tokenizer, o: { readonly seed: number; readonly scenes: number; readonly batchSize: number }): Promise<GroundingResult> => {
  const c = model.config
  const N = Config.imageTokens(c)
  const queries = Array.from({ length: o.scenes }, (_, i) => Scene.describeScene(i, { seed: o.seed, minObjects: 3, maxObjects: 6 }))
    .flatMap((scene) => scene.regions.map((r) => ({ scene, phrase: r.phrase, truth: Box.normalise(r.box, scene.width, scene.height) })))
  const results: Array<{ phrase: string; generated: string; truth: Box.Norm; correct: boolean; formatError: boolean }> = []
  for (let i = 0; i < queries.length; i += o.batchSize) {
    const chunk = queries.slice(i, i + o.batchSize)
    const encoded = chunk.map((q) => Layouts.encodeCells(tok, c, q.scene))
    const K = encoded[0]!.cells.length
    const cells = tf.tensor2d(Int32Array.from(encoded.flatMap((e) => [...e.cells])), [chunk.length, K], "int32")
    const mask = tf.tensor2d(Float32Array.from(encoded.flatMap((e) => [...e.cellMask])), [chunk.length, K])
    const embeddings = tf.tidy(() => Layouts.embed(model.weights, cells, mask, N))
    cells.dispose()
    mask.dispose()
    // The LM never saw the delimiters: the prompt is the evaluation's, markers removed.
    const answers = await Generate.generate(model, tok, { embeddings }, chunk.map((q) => GROUNDING.replace("<des>{phrase}</des>", q.phrase)), { maxNewTokens: 12 })
    embeddings.dispose()
    chunk.forEach((q, k) => {
      const r = Metrics.rec(answers[k]!.trim(), q.truth)
      results.push({ phrase: q.phrase, generated: answers[k]!.trim(), truth: q.truth, correct: r.correct, formatError: r.formatError })
    })
  }
  const a = Metrics.accuracy(results)
  const pick = Random.rng(o.seed)
  return {
    accuracy: a.accuracy,
    wellFormed: a.n === 0 ? 0 : 1 - a.formatErrors / a.n,
    n: a.n,
    byForm: Metrics.byForm(results),
    examples: Random.shuffle(results, pick).slice(0, 8).map(({ formatError: _, ...r }) => r)
  }
}

/**
 * The LM's grounding over every described object of `scenes`, the image slot of each chunk of
 * queries filled by `slot` (given the indices of its queries' scenes): the evaluation's prompt,
 * markers removed (the LM never saw the delimiters), scored like REC. (`lmGrounding` is this with
 * the layouts in the slot; it keeps its own loop because the LM tower's key covers it — it goes
 * over to this one with the LM tower's next retraining.)
 */
const groundScenes = async (model: Pink.Model, tok: Tok.Tokenizer, scenes: ReadonlyArray<Scene.Scene>, slot: (chunk: ReadonlyArray<number>) => tf.Tensor, o: { readonly seed: number; readonly batchSize: number }): Promise<GroundingResult> => {
  const queries = scenes.flatMap((scene, s) => scene.regions.map((r) => ({ s, phrase: r.phrase, truth: Box.normalise(r.box, scene.width, scene.height) })))
  const results: Array<{ phrase: string; generated: string; truth: Box.Norm; correct: boolean; formatError: boolean }> = []
  for (let i = 0; i < queries.length; i += o.batchSize) {
    const chunk = queries.slice(i, i + o.batchSize)
    const embeddings = slot(chunk.map((q) => q.s))
    const answers = await Generate.generate(model, tok, { embeddings }, chunk.map((q) => GROUNDING.replace("<des>{phrase}</des>", q.phrase)), { maxNewTokens: 12 })
    embeddings.dispose()
    chunk.forEach((q, k) => {
      const r = Metrics.rec(answers[k]!.trim(), q.truth)
      results.push({ phrase: q.phrase, generated: answers[k]!.trim(), truth: q.truth, correct: r.correct, formatError: r.formatError })
    })
  }
  const a = Metrics.accuracy(results)
  const pick = Random.rng(o.seed)
  return {
    accuracy: a.accuracy,
    wellFormed: a.n === 0 ? 0 : 1 - a.formatErrors / a.n,
    n: a.n,
    byForm: Metrics.byForm(results),
    examples: Random.shuffle(results, pick).slice(0, 8).map(({ formatError: _, ...r }) => r)
  }
}

/** The layout cells of scenes (only `part` of each, if given) as the LM's image-slot input [B, N, C]. */
const layoutSlot = (model: Pink.Model, tok: Tok.Tokenizer, scenes: ReadonlyArray<Scene.Scene>, part?: Layouts.CellPart): tf.Tensor => {
  const encoded = scenes.map((scene) => (part === undefined ? Layouts.encodeCells(tok, model.config, scene) : Layouts.cellPart(tok, model.config, scene, part)))
  const K = encoded[0]!.cells.length
  return tf.tidy(() =>
    Layouts.embed(
      model.weights,
      tf.tensor2d(Int32Array.from(encoded.flatMap((e) => [...e.cells])), [scenes.length, K], "int32"),
      tf.tensor2d(Float32Array.from(encoded.flatMap((e) => [...e.cellMask])), [scenes.length, K]),
      Config.imageTokens(model.config)
    )
  )
}

/**
 * The pair of towers before any recipe run: the projection set to its least-squares map from the
 * ViT's frozen patch features to the LM's layout cells over `fitScenes` scenes of `fitSeed`
 * (stage 1's starting point, Alignment.fitProjection), then the frozen LM grounding every
 * described object of `scenes` held-out scenes of `seed` from their images — what a linear
 * projection lets the LM read of the picture — beside the same LM reading those scenes' layouts
 * (what it could do with a perfect reading of the picture). Then where the difference lies: each
 * half of the cells (the object's words, its box; `Layouts.cellPart`) read from the image through
 * its own least-squares map, the other half from the layout.
 */
export const projectedGrounding = async (model: Pink.Model, tok: Tok.Tokenizer, o: { readonly fitSeed: number; readonly fitScenes: number; readonly seed: number; readonly scenes: number; readonly batchSize: number }) => {
  const c = model.config
  const fitItems = Alignment.items(tok, c, { seed: o.fitSeed, scenes: o.fitScenes, turns: 1 })
  const fitted = Alignment.fitProjection(model, fitItems)
  const drawn = Array.from({ length: o.scenes }, (_, i) => Scene.generate(i, { seed: o.seed, minObjects: 3, maxObjects: 6 }))
  const scenes = drawn.map((d) => d.scene)
  const images = drawn.map((d) => ({ image: Raster.toInput(d.image, c.vit.imageSize) }))
  const projected = (chunk: ReadonlyArray<number>) => Pink.imageEmbeddings(model, Pretrain.imagesOf(c, chunk.map((s) => images[s]!)), { training: false })
  const fromImages = await groundScenes(model, tok, scenes, (chunk) => tf.tidy(() => projected(chunk)), o)
  const fromLayouts = await groundScenes(model, tok, scenes, (chunk) => layoutSlot(model, tok, chunk.map((s) => scenes[s]!)), o)
  // Alignment.items draws the scenes of Scene.generate, which describeScene gives without the image.
  const fitScenes = fitItems.map((_, i) => Scene.describeScene(i, { seed: o.fitSeed, minObjects: 3, maxObjects: 6 }))
  const fromImage = async (part: Layouts.CellPart) => {
    const relativeError = Alignment.fitProjection(model, fitItems.map((it, i) => ({ ...it, layout: { ...it.layout, ...Layouts.cellPart(tok, c, fitScenes[i]!, part) } })))
    const other = part === "words" ? "box" : "words"
    const r = await groundScenes(model, tok, scenes, (chunk) => tf.tidy(() => tf.add(projected(chunk), layoutSlot(model, tok, chunk.map((s) => scenes[s]!), other))), o)
    return { ...r, relativeError }
  }
  const words = await fromImage("words")
  const boxes = await fromImage("box")
  return { fromImages, fromLayouts, relativeError: fitted, words, boxes }
}

/** The vision gate of a saved vision tower: probe results, the thresholds and whether it passes. */
export const visionGate = async (dir: string, o: { readonly fitSeed: number; readonly testSeed: number; readonly fitScenes: number; readonly testScenes: number; readonly steps: number; readonly minShape: number; readonly minBox: number }, log: Log) => {
  await started(log)
  const { model } = await Checkpoint.loadTower(dir)
  const c = model.config
  const r = await vitProbe(model, Pretrain.denseItems(c, o.fitSeed, o.fitScenes), Pretrain.denseItems(c, o.testSeed, o.testScenes), { steps: o.steps, seed: o.fitSeed })
  W.dispose(model.weights)
  const pass = r.shape >= o.minShape && r.box >= o.minBox
  log(`shape ${pct(r.shape)} (gate ${pct(o.minShape)}), colour ${pct(r.colour)}, size ${pct(r.size)}, box ${pct(r.box)} (gate ${pct(o.minBox)}): ${pass ? "pass" : "FAIL"}`)
  return { ...r, minShape: o.minShape, minBox: o.minBox, pass }
}

/** The LM gate of a saved LM tower. */
export const lmGate = async (dir: string, o: { readonly seed: number; readonly scenes: number; readonly batchSize: number; readonly minAccuracy: number }, log: Log) => {
  await started(log)
  const { model, tokenizer: tok } = await Checkpoint.loadTower(dir)
  const r = await lmGrounding(model, tok, o)
  W.dispose(model.weights)
  const pass = r.accuracy >= o.minAccuracy
  const forms = Object.entries(r.byForm).map(([k, v]) => `${k.replace("rec/", "")} ${pct(v)}`).join(", ")
  log(`text-only grounding ${pct(r.accuracy)} of ${r.n} (gate ${pct(o.minAccuracy)}; by phrase form: ${forms}), well-formed ${pct(r.wellFormed)}: ${pass ? "pass" : "FAIL"}`)
  const { byForm, ...rest } = r
  return { ...rest, ...byForm, minAccuracy: o.minAccuracy, pass }
}

/** The alignment gate of a pair of saved towers (`projectedGrounding`): grounding from images through the least-squares projection. */
export const alignmentGate = async (towers: { readonly vision: string; readonly lm: string }, o: { readonly fitSeed: number; readonly fitScenes: number; readonly seed: number; readonly scenes: number; readonly batchSize: number; readonly minAccuracy: number }, log: Log) => {
  await started(log)
  const { model, tokenizer: tok } = await Checkpoint.loadTower(towers.lm)
  await Checkpoint.loadParts(model, towers.vision, ["vit/"])
  const r = await projectedGrounding(model, tok, o)
  W.dispose(model.weights)
  const pass = r.fromImages.accuracy >= o.minAccuracy
  log(`least-squares projection: relative error ${r.relativeError.toFixed(3)}; grounding from the images ${pct(r.fromImages.accuracy)} of ${r.fromImages.n} (gate ${pct(o.minAccuracy)}), from the same scenes' layouts ${pct(r.fromLayouts.accuracy)}: ${pass ? "pass" : "FAIL"}`)
  log(`the words from the image, the boxes from the layout: ${pct(r.words.accuracy)} (relative error ${r.words.relativeError.toFixed(3)}); the boxes from the image, the words from the layout: ${pct(r.boxes.accuracy)} (relative error ${r.boxes.relativeError.toFixed(3)})`)
  return {
    accuracy: r.fromImages.accuracy,
    layoutAccuracy: r.fromLayouts.accuracy,
    relativeError: r.relativeError,
    wordsFromImages: r.words.accuracy,
    wordsRelativeError: r.words.relativeError,
    boxesFromImages: r.boxes.accuracy,
    boxesRelativeError: r.boxes.relativeError,
    wellFormed: r.fromImages.wellFormed,
    n: r.fromImages.n,
    ...r.fromImages.byForm,
    examples: r.fromImages.examples,
    minAccuracy: o.minAccuracy,
    pass
  }
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`

