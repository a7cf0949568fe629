/**
 * Other pretraining for the frozen towers, for the REC probe (`bench/rec-probe.ts`): from a stage-1
 * model, optionally pretrain its ViT further at patch level (`vit=dense`, Pretrain.vitDense on
 * freshly generated scenes) and continue its LM's pretraining on the data's text (`lm-text=`),
 * optionally mixed 1:1 with numeracy text (`numeracy=1`, src/data/Numeracy.ts); then train stage 1
 * again on the captions with the pipeline's stage-1 settings, and write the model to `out=` (a new
 * or empty directory). Not part of the pipeline; prints one JSON line.
 *
 *   node --import tsx bench/towers.ts model=$(npx pinkflow path stage1.model) \
 *     captions=$(npx pinkflow path captions.captions) out=<directory> \
 *     [vit=dense] [vit-steps=1500] [vit-scenes=6000] [pos=learned|sincos (the ViT positions start as Vit.sincosPositions)] \
 *     [lm-text=<dir>,<dir>,… (e.g. the captions, instructions.train and general-data.general)] [numeracy=0|1] [lm-steps=800]
 *     [stage1-steps=300]
 */
import * as tf from "@tensorflow/tfjs-core"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Build from "../src/data/Build.ts"
import * as Numeracy from "../src/data/Numeracy.ts"
import * as Raster from "../src/data/Raster.ts"
import * as Scene from "../src/data/Scene.ts"
import * as Vg from "../src/data/Vg.ts"
import * as Backend from "../src/model/Backend.ts"
import * as Checkpoint from "../src/model/Checkpoint.ts"
import * as Vit from "../src/model/Vit.ts"
import * as W from "../src/model/Weights.ts"
import * as Pretrain from "../src/train/Pretrain.ts"
import * as Recipe from "../src/train/Recipe.ts"
import * as Towers from "../src/train/Towers.ts"
import * as Args from "./args.ts"

const NAME = "towers"
const args = Args.parse({
  name: NAME,
  choices: { vit: ["contrastive", "dense"], pos: ["learned", "sincos"], numeracy: ["0", "1"] },
  numbers: ["vit-steps", "vit-scenes", "lm-steps", "stage1-steps"],
  free: ["model", "captions", "out", "lm-text"]
})
for (const key of ["model", "captions", "out"]) if (args[key] === undefined) Args.usage(NAME, `${key}= is required (see the header of bench/${NAME}.ts)`)
const textDirs = args["lm-text"]?.split(",") ?? []
for (const dir of [args.model!, args.captions!, ...textDirs]) if (!fs.existsSync(dir)) Args.usage(NAME, `no such directory: ${dir}`)
Args.trainJsonl(NAME, "captions", args.captions!)
Args.freshDirectory(NAME, "out", args.out!, [args.model!, args.captions!, ...textDirs])
if (args.pos !== undefined && args.vit !== "dense") Args.usage(NAME, "pos= sets the ViT positions for vit=dense: give vit=dense as well")
if (args.numeracy === "1" && textDirs.length === 0) Args.usage(NAME, "numeracy=1 mixes numeracy into the LM's text: give lm-text= as well")
process.on("uncaughtException", (e) => {
  if (e instanceof W.WeightsError || e instanceof Vg.DatasetError) Args.usage(NAME, e.message)
  throw e
})
const texts = textDirs.flatMap((dir) => Towers.lmTexts(Build.readJsonl<Build.Record>(Args.trainJsonl(NAME, "lm-text", dir))))

await Backend.select()
const { model, tokenizer: tok } = await Checkpoint.load(args.model!)
const c = model.config
const report: Record<string, unknown> = { args }
const seconds = (t0: number) => Math.round((performance.now() - t0) / 1000)
const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
const span = (losses: ReadonlyArray<number>) => [mean(losses.slice(0, 20)), mean(losses.slice(-20))]

if (args.vit === "dense") {
  const S = c.vit.imageSize
  const grid = S / c.vit.patchSize
  if (args.pos === "sincos") W.get(model.weights, "vit/pos").assign(tf.tensor2d(Vit.sincosPositions(grid, c.vit.width), [grid * grid, c.vit.width]))
  const items = Array.from({ length: Number(args["vit-scenes"] ?? 6000) }, (_, i) => {
    const { scene, image } = Scene.generate(i, { seed: 4242, minObjects: 1, maxObjects: 6 })
    return { image: Raster.toInput(image, S), targets: Pretrain.patchTargets(scene, grid) }
  })
  const t0 = performance.now()
  const r = await Pretrain.vitDense(model, items, { steps: Number(args["vit-steps"] ?? 1500), batchSize: 32, lr: 1e-3, seed: 7, weightDecay: 0.01, warmupFraction: 0.05 })
  report.vit = { loss: span(r.losses), seconds: seconds(t0) }
}
if (texts.length > 0) {
  const mixed = args.numeracy === "1" ? [...texts, ...Numeracy.texts(texts.length, 99)] : texts
  const t0 = performance.now()
  const r = await Pretrain.lm(model, tok, mixed, { steps: Number(args["lm-steps"] ?? 800), batchSize: 16, lr: 1e-3, seed: 12, weightDecay: 0.01, warmupFraction: 0.05 })
  report.lm = { texts: texts.length, numeracy: mixed.length - texts.length, loss: span(r.losses), seconds: seconds(t0) }
}
const out = args.out!
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "towers-"))
const init = path.join(scratch, "model")
await Checkpoint.save(init, model, tok, { stage: "towers", args })
W.dispose(model.weights)
fs.mkdirSync(out, { recursive: true })
const t0 = performance.now()
const s1 = await Recipe.trainStage({ from: "model", dir: init }, [{ dir: args.captions!, file: "train.jsonl" }], "projectionOnly", true, out,
  { preset: "small", steps: Number(args["stage1-steps"] ?? 300), batchSize: 16, lr: 2e-3, weightDecay: 0, warmup: 0.03, seed: 13, checkpointDir: path.join(scratch, "checkpoints"), log: () => {} })
report.stage1 = { loss: s1.losses.at(-1), seconds: seconds(t0) }
fs.rmSync(scratch, { recursive: true, force: true })
console.log(JSON.stringify(report))
