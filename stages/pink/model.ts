/**
 * The Pink recipe's model stages: tokenizer, pretraining of the frozen towers, stage 1, stage 2
 * (and its ablations), self-consistent bootstrapping, Pink*, evaluation and the report. Each stage
 * declares the tensor environment it depends on; TF.js and the recipe load only when one runs, in
 * its own process.
 */
import { Effect, Schema } from "effect"
import * as Artifact from "../../src/core/Artifact.ts"
import * as Input from "../../src/core/Input.ts"
import * as Stage from "../../src/core/Stage.ts"
import * as Environment from "../../src/model/Environment.ts"
import * as Data from "./data.ts"

const recipe = () => import("../../src/train/Recipe.ts")

type Json = Readonly<Record<string, unknown>>
type Vocab = ReadonlyArray<string>

const env = { tensors: Environment.fingerprint }

const training = (steps: number, batchSize: number, lr: number, weightDecay: number, warmup: number, seed: number) => ({
  preset: Stage.param(Schema.Literals(["nano", "small"]), "small"),
  steps: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), steps),
  batchSize: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), batchSize),
  lr: Stage.param(Schema.Number.check(Schema.isGreaterThan(0)), lr),
  weightDecay: Stage.param(Schema.Number, weightDecay),
  warmup: Stage.param(Schema.Number, warmup),
  seed: Stage.param(Schema.Int, seed)
})

const jsonl = (dir: string) => ({ dir, file: "train.jsonl" })

export const tokenizer = Stage.make({
  name: "tokenizer",
  params: Schema.Struct({ maxWords: Stage.param(Schema.Int, 2000) }),
  inputs: {
    captions: Input.directory(Data.captions.out.captions),
    instructions: Input.directory(Data.instructions.out.train),
    general: Input.directory(Data.generalData.out.general),
    eval: Input.directory(Data.evalData.out.eval)
  },
  outputs: { vocab: Artifact.json<Vocab>() },
  run: ({ params, inputs }) =>
    Effect.promise(async () => ({
      vocab: (await recipe()).tokenizer([jsonl(inputs.captions), jsonl(inputs.instructions), jsonl(inputs.general)], inputs.eval, params.maxWords)
    }))
})

type Training = Schema.Struct.Type<ReturnType<typeof training>>
type Recipe = Awaited<ReturnType<typeof recipe>>
type TrainOptions = Training & { readonly checkpointDir: string; readonly log: (line: string) => void }

/**
 * A training stage: a model and its loss curve out, the tensor environment in its key, its own
 * process, in-stage checkpoints; `train` calls the recipe with the stage's inputs and options.
 */
const trainingStage = <I extends Stage.Inputs>(def: {
  readonly name: string
  readonly description: string
  readonly defaults: Parameters<typeof training>
  readonly inputs: I
  readonly train: (r: Recipe, inputs: { readonly [K in keyof I]: Input.Value<I[K]> }, model: string, o: TrainOptions) => Promise<Json>
}) =>
  Stage.make({
    name: def.name,
    description: def.description,
    params: Schema.Struct(training(...def.defaults)),
    inputs: def.inputs,
    outputs: { model: Artifact.model(), curve: Artifact.json<Json>() },
    env,
    isolated: true,
    run: ({ params, inputs, outputs, checkpointDir, log }) =>
      Effect.promise(async () => ({ curve: await def.train(await recipe(), inputs, outputs.model, { ...params, checkpointDir, log }) }))
  })

export const pretrainVision = trainingStage({
  name: "pretrain-vision",
  description: "CLIP-style contrastive pretraining of the ViT on image–caption pairs",
  defaults: [400, 32, 2e-3, 0.01, 0.05, 11],
  inputs: { vocab: Input.json(tokenizer.out.vocab), captions: Input.directory(Data.captions.out.captions) },
  train: (r, inputs, model, o) => r.pretrainVision(inputs.vocab, inputs.captions, model, o)
})

export const pretrainLm = trainingStage({
  name: "pretrain-lm",
  description: "Next-token pretraining of the LM on the data's text",
  defaults: [500, 16, 2e-3, 0.01, 0.05, 12],
  inputs: {
    vocab: Input.json(tokenizer.out.vocab),
    captions: Input.directory(Data.captions.out.captions),
    instructions: Input.directory(Data.instructions.out.train),
    general: Input.directory(Data.generalData.out.general)
  },
  train: (r, inputs, model, o) => r.pretrainLm(inputs.vocab, [jsonl(inputs.captions), jsonl(inputs.instructions), jsonl(inputs.general)], model, o)
})

export const stage1 = trainingStage({
  name: "stage1",
  description: "Stage 1: the projection, on captions (everything else frozen)",
  defaults: [300, 16, 2e-3, 0, 0.03, 13],
  inputs: {
    vocab: Input.json(tokenizer.out.vocab),
    vision: Input.model(pretrainVision.out.model),
    lm: Input.model(pretrainLm.out.model),
    captions: Input.directory(Data.captions.out.captions)
  },
  train: (r, inputs, model, o) =>
    r.trainStage({ from: "pretrained", vision: inputs.vision, lm: inputs.lm, vocab: inputs.vocab }, [jsonl(inputs.captions)], "projectionOnly", true, model, o)
})

/** A stage-2 training: Pink, Pink* (with bootstrapped pairs) and the ablations differ only here. */
export const stage2 = (name: string, description: string, data: { readonly instructions: Input.FromStage<"directory", string>; readonly extra?: Input.FromStage<"directory", string> }, adapters: boolean) =>
  trainingStage({
    name,
    description,
    defaults: [500, 16, 1e-3, 0.02, 0.05, 14],
    inputs: { init: Input.model(stage1.out.model), instructions: data.instructions, ...(data.extra === undefined ? {} : { extra: data.extra }) },
    train: (r, inputs, model, o) => {
      const extra = (inputs as { extra?: string }).extra
      const sources = [jsonl(inputs.instructions), ...(extra === undefined ? [] : [jsonl(extra)])]
      return r.trainStage({ from: "model", dir: inputs.init }, sources, "adaptersAndProjection", adapters, model, o)
    }
  })

export const pink = stage2("stage2", "Stage 2 (Pink): adapters + projection + delimiter rows on the RC and general mix", { instructions: Input.directory(Data.instructions.out.train) }, true)

export const bootstrapGenerate = Stage.make({
  name: "bootstrap-generate",
  description: "Pink describes each box of the detection-only split, then grounds its own description",
  params: Schema.Struct({
    maxAnnotations: Stage.param(Schema.Int, 15),
    minArea: Stage.param(Schema.Number, 200),
    maxObjects: Stage.param(Schema.Int, 600),
    batchSize: Stage.param(Schema.Int, 32),
    seed: Stage.param(Schema.Int, 15)
  }),
  inputs: { model: Input.model(pink.out.model), detection: Input.directory(Data.detectionData.out.detection) },
  outputs: { candidates: Artifact.directory() },
  env,
  isolated: true,
  run: ({ params, inputs, outputs, log }) =>
    Effect.promise(async () => void (await (await recipe()).bootstrapGenerate(inputs.model, inputs.detection, outputs.candidates, { ...params, log })))
})

export const bootstrapFilter = Stage.make({
  name: "bootstrap-filter",
  description: "Keep a pair when its own grounding parses to one box with IoU ≥ the threshold",
  params: Schema.Struct({
    minIou: Stage.param(Schema.Number, 0.5),
    samplesPerImage: Stage.param(Schema.Int, 6),
    seed: Stage.param(Schema.Int, 16)
  }),
  inputs: { candidates: Input.directory(bootstrapGenerate.out.candidates), detection: Input.directory(Data.detectionData.out.detection) },
  outputs: { pairs: Artifact.directory(), stats: Artifact.json<Json>() },
  run: ({ params, inputs, outputs }) =>
    Effect.promise(async () => ({ stats: (await recipe()).bootstrapFilter(inputs.candidates, inputs.detection, outputs.pairs, params) }))
})

export const pinkStar = stage2("stage2-star", "Stage 2 again with the bootstrapped pairs added (Pink*)", { instructions: Input.directory(Data.instructions.out.train), extra: Input.directory(bootstrapFilter.out.pairs) }, true)

/** Evaluation of one model on the held-out splits (and an external RefCOCO-format split, if given). */
export const evaluate = (name: string, model: Input.FromStage<"model", string>) =>
  Stage.make({
    name,
    params: Schema.Struct({
      limit: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 300),
      batchSize: Stage.param(Schema.Int, 32),
      seed: Stage.param(Schema.Int, 17),
      externalRefs: Stage.param(Schema.String, ""),
      externalInstances: Stage.param(Schema.String, ""),
      externalImages: Stage.param(Schema.String, "")
    }),
    inputs: { model, eval: Input.directory(Data.evalData.out.eval) },
    outputs: { metrics: Artifact.metrics(), predictions: Artifact.directory() },
    env,
    isolated: true,
    run: ({ params, inputs, outputs, log }) =>
      Effect.promise(async () => {
        const external = params.externalRefs === "" ? undefined : { refs: params.externalRefs, instances: params.externalInstances, images: params.externalImages }
        return { metrics: await (await recipe()).evaluate(inputs.model, inputs.eval, outputs.predictions, { ...params, log, external }) }
      })
  })

export const evaluatePink = evaluate("evaluate-pink", Input.model(pink.out.model))
export const evaluatePinkStar = evaluate("evaluate-pink-star", Input.model(pinkStar.out.model))

/** The ablations of the paper's claims, each sharing every upstream stage. */
export const instructionsGeneralOnly = Data.instructionsFrom(Input.directory(Data.scenes.out.vg), "instructions-general-only", false)
export const projectionOnly = stage2("stage2-projection-only", "Ablation: no adapters (projection and delimiter rows only)", { instructions: Input.directory(Data.instructions.out.train) }, false)
export const generalOnly = stage2("stage2-general-only", "Ablation: no RC tasks (general data only)", { instructions: Input.directory(instructionsGeneralOnly.out.train) }, true)
export const evaluateProjectionOnly = evaluate("evaluate-projection-only", Input.model(projectionOnly.out.model))
export const evaluateGeneralOnly = evaluate("evaluate-general-only", Input.model(generalOnly.out.model))

export const report = Stage.make({
  name: "report",
  description: "The results table, loss curves, bootstrap survival and a gallery, as HTML and markdown",
  inputs: {
    pink: Input.metrics(evaluatePink.out.metrics),
    pinkStar: Input.metrics(evaluatePinkStar.out.metrics),
    projectionOnly: Input.metrics(evaluateProjectionOnly.out.metrics),
    generalOnly: Input.metrics(evaluateGeneralOnly.out.metrics),
    curveVision: Input.json(pretrainVision.out.curve),
    curveLm: Input.json(pretrainLm.out.curve),
    curveStage1: Input.json(stage1.out.curve),
    curvePink: Input.json(pink.out.curve),
    curvePinkStar: Input.json(pinkStar.out.curve),
    curveProjectionOnly: Input.json(projectionOnly.out.curve),
    curveGeneralOnly: Input.json(generalOnly.out.curve),
    bootstrap: Input.json(bootstrapFilter.out.stats),
    eval: Input.directory(Data.evalData.out.eval),
    predictions: Input.directory(evaluatePinkStar.out.predictions)
  },
  outputs: { report: Artifact.directory(), summary: Artifact.json<Json>() },
  run: ({ inputs, outputs, log }) =>
    Effect.promise(async () => {
      const Report = await import("../../src/eval/Report.ts")
      const fs = await import("node:fs")
      const path = await import("node:path")
      const curve = (c: Json) => (c.losses ?? []) as ReadonlyArray<readonly [number, number]>
      const trainable = (c: Json) => c.trainable as number | undefined
      const models: Array<import("../../src/eval/Report.ts").ModelResult> = [
        { name: "Pink* (ours)", note: "stage 2 with the bootstrapped pairs added", metrics: inputs.pinkStar, trainable: trainable(inputs.curvePinkStar) },
        { name: "Pink (ours)", note: "adapters + projection + delimiter rows, RC tasks + general data", metrics: inputs.pink, trainable: trainable(inputs.curvePink) },
        { name: "no bootstrapping", note: "= Pink: the difference to Pink* is the bootstrapping gain", metrics: inputs.pink, trainable: trainable(inputs.curvePink) },
        { name: "projection only", note: "no adapters: projection and delimiter rows only", metrics: inputs.projectionOnly, trainable: trainable(inputs.curveProjectionOnly) },
        { name: "general data only", note: "no RC tasks in stage 2", metrics: inputs.generalOnly, trainable: trainable(inputs.curveGeneralOnly) }
      ]
      const predictions = fs.readFileSync(path.join(inputs.predictions, "predictions.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((p) => p.kind === "rec")
      const summary = Report.write(outputs.report, {
        models,
        curves: [
          { stage: "pretrain-vision", points: curve(inputs.curveVision) },
          { stage: "pretrain-lm", points: curve(inputs.curveLm) },
          { stage: "stage 1", points: curve(inputs.curveStage1) },
          { stage: "stage 2 (Pink)", points: curve(inputs.curvePink) },
          { stage: "stage 2 (Pink*)", points: curve(inputs.curvePinkStar) },
          { stage: "projection only", points: curve(inputs.curveProjectionOnly) },
          { stage: "general only", points: curve(inputs.curveGeneralOnly) }
        ],
        bootstrap: inputs.bootstrap as never,
        totalParameters: inputs.curvePink.total as number | undefined,
        gallery: { evalDir: inputs.eval, model: "Pink*", predictions }
      })
      for (const line of summary.split("\n")) log(line)
      const claims = {
        adaptersOverProjectionOnly: (inputs.pink["rec/all"] ?? 0) - (inputs.projectionOnly["rec/all"] ?? 0),
        rcOverGeneralOnly: (inputs.pink["rec/all"] ?? 0) - (inputs.generalOnly["rec/all"] ?? 0),
        bootstrappingGain: (inputs.pinkStar["rec/all"] ?? 0) - (inputs.pink["rec/all"] ?? 0)
      }
      return { summary: { table: summary, claims, pinkStarRec: inputs.pinkStar["rec/all"] ?? 0 } }
    })
})

export const all = [
  tokenizer, pretrainVision, pretrainLm, stage1, pink, bootstrapGenerate, bootstrapFilter, pinkStar, evaluatePink, evaluatePinkStar,
  instructionsGeneralOnly, projectionOnly, generalOnly, evaluateProjectionOnly, evaluateGeneralOnly, report
] as const
