/**
 * The REC probe behind the README's localisation diagnostics: from a stage-1 model, train on
 * freshly generated grounding samples only (`Where is <des>phrase</des>? …` → its box), with a
 * chosen set of trainable weights and representation variants, then score REC Acc@0.5 by greedy
 * decoding. Not part of the pipeline; each run prints one JSON line.
 *
 *   node --import tsx bench/rec-probe.ts model=$(npx pinkflow path stage1.model) \
 *     eval=$(npx pinkflow path eval-data.eval) [train=adapters|all|adapters+coords|adapters+vit|adapters+mlp|adapters+attn]
 *     [objects=3-6|1-1] [steps=600] [batch=16] [lr=1e-3] [scenes=4000] [pos=learned|sincos]
 *     [coords=tokens|digits|fourier] [r=8] [act=identity|silu] [init=pretrained|fresh] [n=150]
 *     [layout=image-first|query-first] [save=<a new or empty directory for the trained model>]
 *
 * `objects=1-1` scores held-out generated one-object scenes instead of the eval split.
 * `layout=query-first` puts the user's turn before the image (Pink's layout has the image first), so
 * image tokens can attend to the phrase; its instructions are left-padded to one length. Set
 * OPENBLAS_NUM_THREADS=1 to run two probes side by side on two cores.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as path from "node:path"
import * as Box from "../src/data/Box.ts"
import * as Random from "../src/data/Random.ts"
import * as Raster from "../src/data/Raster.ts"
import * as RefCoco from "../src/data/RefCoco.ts"
import * as Scene from "../src/data/Scene.ts"
import * as Vg from "../src/data/Vg.ts"
import * as Metrics from "../src/eval/Metrics.ts"
import * as Backend from "../src/model/Backend.ts"
import * as Checkpoint from "../src/model/Checkpoint.ts"
import * as Freeze from "../src/model/Freeze.ts"
import * as Generate from "../src/model/Generate.ts"
import * as Pink from "../src/model/Pink.ts"
import * as Prompt from "../src/model/Prompt.ts"
import * as Tok from "../src/model/Tokenizer.ts"
import * as Vit from "../src/model/Vit.ts"
import * as W from "../src/model/Weights.ts"
import * as Data from "../src/train/Data.ts"
import * as Loop from "../src/train/Loop.ts"
import * as Args from "./args.ts"

const usage = (detail: string): never => Args.usage("rec-probe", detail)

const args = Args.parse({
  name: "rec-probe",
  choices: {
    train: ["adapters", "all", "adapters+coords", "adapters+vit", "adapters+mlp", "adapters+attn"],
    pos: ["learned", "sincos"],
    coords: ["tokens", "digits", "fourier"],
    act: ["identity", "silu"],
    init: ["pretrained", "fresh"],
    layout: ["image-first", "query-first"]
  },
  numbers: ["steps", "batch", "lr", "scenes", "r", "n"],
  free: ["model", "eval", "save", "objects"]
})
const arg = (name: string, fallback: string) => args[name] ?? fallback
if (args.model === undefined) usage("model=<stage-1 model directory> is required (npx pinkflow path stage1.model)")
const objects = /^(\d+)-(\d+)$/.exec(arg("objects", "3-6"))
const [minObjects, maxObjects] = objects === null ? usage(`objects=${args.objects}: expected MIN-MAX, e.g. 1-1 or 3-6`) : [Number(objects[1]), Number(objects[2])]
if (minObjects < 1 || maxObjects < minObjects) usage(`objects=${args.objects}: expected 1 ≤ MIN ≤ MAX`)
if (!(minObjects === 1 && maxObjects === 1) && args.eval === undefined) usage("eval=<eval-data directory> is required unless objects=1-1 (npx pinkflow path eval-data.eval)")
if (args.save !== undefined) Args.freshDirectory("rec-probe", "save", args.save, [args.model, ...(args.eval === undefined ? [] : [args.eval])])
const steps = Number(arg("steps", "600"))
const batchSize = Number(arg("batch", "16"))
const coords = arg("coords", "tokens")
const queryFirst = arg("layout", "image-first") === "query-first"

// A missing or unreadable model, eval split or image is the user's to fix: one line.
process.on("uncaughtException", (e) => {
  if (e instanceof W.WeightsError || e instanceof Vg.DatasetError || e instanceof Raster.ImageError) usage(e.message)
  throw e
})
const TEMPLATE = (phrase: string) => `Where is <des>${phrase}</des>? Answer with its box.`

await Backend.select()
const loaded = await Checkpoint.load(args.model)
const tok = loaded.tokenizer
const adapter = { ...loaded.model.config.adapter, r: Number(arg("r", String(loaded.model.config.adapter.r))), activation: arg("act", loaded.model.config.adapter.activation) as "identity" | "silu" }
/** Query-first: `<pad>… <bos>User: {instruction}\nImage:<img>…<img>\nAssistant:`, the image at one fixed index. */
const QUERY_TOKENS = 40
const queryPrefix = (instruction: string) => {
  const q = [Tok.BOS, ...tok.encode(`User: ${instruction}\nImage:`)]
  if (q.length > QUERY_TOKENS) throw new Error(`instruction longer than ${QUERY_TOKENS} tokens: ${instruction}`)
  return [...new Array<number>(QUERY_TOKENS - q.length).fill(Tok.PAD), ...q]
}
const imageSlot = queryFirst ? QUERY_TOKENS : loaded.model.imageSlot
const model = Pink.init({ ...loaded.model.config, adapter }, tok.size, imageSlot, 5, true)
if (arg("init", "pretrained") === "pretrained") {
  for (const [name, v] of loaded.model.weights) if (!(name.includes("/adapter/") && (args.r !== undefined || args.act !== undefined))) model.weights.get(name)!.assign(v)
}
W.dispose(loaded.model.weights)
const c = model.config

/** Sin-cos values (Vit.sincosPositions) in place of the learned ViT positions; policies that train the ViT go on training them. */
if (arg("pos", "learned") === "sincos") {
  const g = c.vit.imageSize / c.vit.patchSize
  W.get(model.weights, "vit/pos").assign(tf.tensor2d(Vit.sincosPositions(g, c.vit.width), [g * g, c.vit.width]))
}

/** Coordinate rows of the head as fixed Fourier features of the value (nearby values, nearby rows). */
if (coords === "fourier") {
  const head = W.get(model.weights, "lm/head")
  const C = head.shape[1]!
  const F = 32
  const rowNorm = tf.tidy(() => tf.mean(tf.norm(head, "euclidean", 1)).dataSync()[0]!)
  const next = W.rng(123)
  const basis: Array<Array<number>> = []
  while (basis.length < 2 * F) {
    let v = Array.from({ length: C }, () => next() - 0.5)
    for (const b of basis) {
      const d = v.reduce((a, x, i) => a + x * b[i]!, 0)
      v = v.map((x, i) => x - d * b[i]!)
    }
    const n = Math.hypot(...v)
    basis.push(v.map((x) => x / n))
  }
  const rows = head.arraySync() as Array<Array<number>>
  tok.vocab.forEach((t, id) => {
    if (!Tok.isCoordinate(t)) return
    const row = new Array<number>(C).fill(0)
    for (let k = 1; k <= F; k++) {
      const a = Math.PI * k * Number(t)
      basis[2 * k - 2]!.forEach((b, i) => (row[i]! += Math.cos(a) * b))
      basis[2 * k - 1]!.forEach((b, i) => (row[i]! += Math.sin(a) * b))
    }
    const n = Math.hypot(...row)
    rows[id] = row.map((x) => (x / n) * rowNorm)
  })
  head.assign(tf.tensor2d(rows))
}

/** A grounding example; `coords=digits` writes each coordinate digit by digit (as Llama's tokenizer does). */
const index = new Map(tok.vocab.map((t, i) => [t, i]))
const promptIds = (instruction: string) =>
  queryFirst ? [...queryPrefix(instruction), ...new Array<number>(imageTokens).fill(Tok.IMG), ...tok.encode("\nAssistant:")] : Prompt.promptIds(tok, c, instruction)
const imageTokens = (c.vit.imageSize / c.vit.patchSize) ** 2
const example = (instruction: string, answer: string): Prompt.Example => {
  if (coords !== "digits" && !queryFirst) return Prompt.example(tok, c, instruction, answer)
  const prompt = promptIds(instruction)
  if (coords !== "digits") return { ids: [...prompt, ...tok.encode(` ${answer}`), Tok.EOS], answerFrom: prompt.length }
  return { ids: [...prompt, ...[...answer].map((ch, i) => index.get(i === 0 ? ` ${ch}` : ch)!), Tok.EOS], answerFrom: prompt.length }
}

const S = c.vit.imageSize
/** Held-out items: the eval split's refs, or generated one-object scenes from another seed. */
const n = Number(arg("n", "150"))
const held: Array<{ readonly phrase: string; readonly box: Box.Norm; readonly pixels: Float32Array }> = []
if (minObjects === 1 && maxObjects === 1) {
  for (let i = 0; held.length < n; i++) {
    const { scene, image } = Scene.generate(i, { seed: 77, minObjects, maxObjects })
    const r = scene.regions[0]
    if (r !== undefined) held.push({ phrase: r.phrase, box: Box.round3(Box.normalise(r.box, scene.width, scene.height)), pixels: Raster.toInput(image, S) })
  }
} else {
  const refs = RefCoco.load(path.join(args.eval!, "refs.json"), path.join(args.eval!, "instances.json"), args.eval!)
  const pixels = Data.pixelLoader(c)
  for (const r of Random.shuffle(refs, Random.rng(5)).slice(0, n)) held.push({ ...r, pixels: pixels(path.join(args.eval!, r.image)) })
}
const items: Array<{ readonly pixels: Float32Array; readonly example: Prompt.Example }> = []
for (let i = 0; i < Number(arg("scenes", "4000")); i++) {
  const { scene, image } = Scene.generate(i, { seed: 901, minObjects, maxObjects })
  const pixels = Raster.toInput(image, S)
  for (const r of scene.regions) items.push({ pixels, example: example(TEMPLATE(r.phrase), Box.format(Box.round3(Box.normalise(r.box, scene.width, scene.height)))) })
}

const base = Freeze.policy("adaptersAndProjection", model, tok)
const names = [...model.weights].filter(([, v]) => v.trainable).map(([n]) => n)
const policies: Record<string, () => Freeze.Policy> = {
  adapters: () => base,
  all: () => ({ name: "lm", trainable: names, rows: new Map() }),
  "adapters+coords": () => {
    const rows = [...base.rows.get("lm/wte")!, ...tok.vocab.flatMap((t, i) => (Tok.isCoordinate(t) ? [i] : []))]
    return { ...base, rows: new Map([["lm/wte", rows], ["lm/head", rows]]) }
  },
  "adapters+vit": () => ({ ...base, trainable: [...base.trainable, ...names.filter((n) => n.startsWith("vit/") && !n.includes("/adapter/"))] }),
  "adapters+mlp": () => ({ ...base, trainable: [...base.trainable, ...names.filter((n) => n.startsWith("lm/") && n.includes("/mlp/"))] }),
  "adapters+attn": () => ({ ...base, trainable: [...base.trainable, ...names.filter((n) => n.startsWith("lm/") && n.includes("/attn/"))] })
}
const policy = policies[arg("train", "adapters")]!

const t0 = performance.now()
const result = await Loop.train(model.weights, policy(), (step, seed) => {
  const next = W.rng(W.seedFor(3, `probe-${step}`))
  const chosen = Array.from({ length: batchSize }, () => items[Math.floor(next() * items.length)]!)
  const T = Math.max(...chosen.map((i) => i.example.ids.length - 1))
  const b = Prompt.batch(chosen.map((i) => i.example), T)
  const pixels = new Float32Array(batchSize * S * S * 3)
  chosen.forEach((item, i) => pixels.set(item.pixels, i * S * S * 3))
  const logits = Pink.forward(model, tf.tensor2d(b.ids, [batchSize, T], "int32"), tf.tensor4d(pixels, [batchSize, S, S, 3]), { training: true, seed })
  return Pink.maskedLoss(logits, tf.tensor2d(b.targets, [batchSize, T], "int32"), tf.tensor2d(b.weights, [batchSize, T]))
}, { steps, lr: Number(arg("lr", "1e-3")), warmupFraction: 0.05, seed: 3, tokensPerStep: batchSize, adamw: { weightDecay: 0.01, clipNorm: 1 } })
const trainSeconds = (performance.now() - t0) / 1000

/** Greedy decoding without a cache (query-first prompts all have the same length). */
const greedy = async (images: tf.Tensor, prompts: ReadonlyArray<ReadonlyArray<number>>, maxNew: number): Promise<Array<string>> => {
  const rows = prompts.map((p) => [...p])
  const start = rows[0]!.length
  for (let step = 0; step < maxNew; step++) {
    const T = rows[0]!.length
    const next = tf.tidy(() => tf.argMax(tf.slice(Pink.forward(model, tf.tensor2d(rows.flat(), [rows.length, T], "int32"), images, { training: false }), [0, T - 1, 0], [-1, 1, -1]), -1))
    const ids = await next.data()
    next.dispose()
    rows.forEach((r, i) => r.push(ids[i]!))
  }
  return rows.map((r) => tok.decode(r.slice(start)))
}
const answers: Array<string> = []
for (let i = 0; i < held.length; i += 50) {
  const part = held.slice(i, i + 50)
  const pixels = new Float32Array(part.length * S * S * 3)
  part.forEach((h, k) => pixels.set(h.pixels, k * S * S * 3))
  const images = tf.tensor4d(pixels, [part.length, S, S, 3])
  const maxNew = coords === "digits" ? 30 : 12
  answers.push(...(queryFirst ? await greedy(images, part.map((h) => promptIds(TEMPLATE(h.phrase))), maxNew) : await Generate.generate(model, tok, images, part.map((h) => TEMPLATE(h.phrase)), { maxNewTokens: maxNew })).map((a) => a.trim()))
  images.dispose()
}
if (args.save !== undefined) await Checkpoint.save(args.save, model, tok, { stage: "rec-probe", args })
const scored = held.map((h, i) => Metrics.rec(answers[i]!, h.box))
console.log(JSON.stringify({
  args,
  samples: items.length,
  trainSeconds: Math.round(trainSeconds),
  finalLoss: result.losses.slice(-20).reduce((a, b) => a + b, 0) / Math.min(20, result.losses.length),
  accuracy: scored.filter((s) => s.correct).length / scored.length,
  meanIou: scored.reduce((a, s) => a + s.iou, 0) / scored.length,
  formatErrors: scored.filter((s) => s.formatError).length / scored.length,
  distinctAnswers: new Set(answers).size
}))
