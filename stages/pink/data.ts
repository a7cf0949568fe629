/**
 * The Pink data-build stages: generated Visual Genome scenes, general instruction data, the
 * stage-2 instruction set (RC tasks mixed with general data), stage-1 captions, the detection-only
 * split, and the held-out evaluation splits. Each writes a directory (JSONL + images + stats +
 * preview.png) and returns its stats as a JSON output. The builders load only when a stage runs.
 */
import { Effect, Schema } from "effect"
import { Artifact, Input, Stage } from "pinkflow"

const build = () => import("../../src/data/Build.ts")

const sceneParams = (seed: number, images: number) => ({
  seed: Stage.param(Schema.Int, seed),
  images: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), images),
  minObjects: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 3),
  maxObjects: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 6)
})

type Stats = Readonly<Record<string, unknown>>

export const scenes = Stage.make({
  name: "scenes",
  description: "Generated scenes in Visual Genome's format (images + the five JSON files)",
  params: Schema.Struct(sceneParams(1, 800)),
  outputs: { vg: Artifact.directory(), stats: Artifact.json<Stats>() },
  run: ({ params, outputs }) => Effect.promise(async () => ({ stats: (await build()).vgScenes(outputs.vg, params) }))
})

export const generalData = Stage.make({
  name: "general-data",
  description: "General instructions: short answers, multiple choice, grounded captions",
  params: Schema.Struct({ ...sceneParams(2, 300), samplesPerImage: Stage.param(Schema.Int, 2) }),
  outputs: { general: Artifact.directory(), stats: Artifact.json<Stats>() },
  run: ({ params, outputs }) => Effect.promise(async () => ({ stats: (await build()).general(outputs.general, params) }))
})

/** General instruction data from a real LLaVA conversation JSON and its images, instead of generated. */
export const generalFromLlava = (json: Input.FromProject<"file">, images: Input.FromProject<"directory">) =>
  Stage.make({
    name: "general-data",
    description: "General instructions from LLaVA conversation JSON",
    params: Schema.Struct({ skipBad: Stage.param(Schema.Boolean, false) }),
    inputs: { json, images },
    outputs: { general: Artifact.directory(), stats: Artifact.json<Stats>() },
    run: ({ params, inputs, outputs }) =>
      Effect.promise(async () => ({ stats: (await build()).generalFromLlava(inputs.json, inputs.images, outputs.general, params) }))
  })

/** The stage-2 instruction set from a VG directory: the generated scenes, or a real Visual Genome. */
export const instructionsFrom = (
  vg: Input.FromStage<"directory", string> | Input.FromProject<"directory">,
  name = "instructions",
  rcTasks = true,
  general: Input.FromStage<"directory", string> = Input.directory(generalData.out.general)
) =>
  Stage.make({
    name,
    description: "RC tasks from Visual-Genome-style annotations, mixed with the general data",
    params: Schema.Struct({
      seed: Stage.param(Schema.Int, 3),
      samplesPerImage: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 6),
      rcTasks: Stage.param(Schema.Boolean, rcTasks),
      skipBad: Stage.param(Schema.Boolean, false)
    }),
    inputs: { vg, general },
    outputs: { train: Artifact.directory(), stats: Artifact.json<Stats>() },
    run: ({ params, inputs, outputs }) =>
      Effect.promise(async () => ({ stats: (await build()).instructions(inputs.vg, outputs.train, { ...params, generalDir: inputs.general }) }))
  })

export const instructions = instructionsFrom(Input.directory(scenes.out.vg))

export const captions = Stage.make({
  name: "captions",
  description: "Stage-1 image–caption pairs",
  params: Schema.Struct(sceneParams(4, 800)),
  outputs: { captions: Artifact.directory(), stats: Artifact.json<Stats>() },
  run: ({ params, outputs }) => Effect.promise(async () => ({ stats: (await build()).captions(outputs.captions, params) }))
})

export const detectionData = Stage.make({
  name: "detection-data",
  description: "Detection-only split (boxes and categories, no phrases) for bootstrapping",
  params: Schema.Struct(sceneParams(5, 300)),
  outputs: { detection: Artifact.directory(), stats: Artifact.json<Stats>() },
  run: ({ params, outputs }) => Effect.promise(async () => ({ stats: (await build()).detection(outputs.detection, params) }))
})

export const evalData = Stage.make({
  name: "eval-data",
  description: "Held-out RefCOCO-format (val/testA/testB), Visual-7W-style and PointQA-style splits",
  params: Schema.Struct(sceneParams(6, 300)),
  outputs: { eval: Artifact.directory(), stats: Artifact.json<Stats>() },
  run: ({ params, outputs }) => Effect.promise(async () => ({ stats: (await build()).evaluation(outputs.eval, params) }))
})

export const all = [scenes, generalData, instructions, captions, detectionData, evalData] as const
