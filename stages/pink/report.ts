/** The report: the results table, loss curves, bootstrap survival and a gallery, as HTML and markdown. */
import { Effect } from "effect"
import { Artifact, Input, Stage } from "pinkflow"
import { generalOnly, projectionOnly } from "./ablations.ts"
import { bootstrapFilter, pinkStar } from "./bootstrap.ts"
import * as Data from "./data.ts"
import { evaluateGeneralOnly, evaluatePink, evaluatePinkStar, evaluateProjectionOnly } from "./evaluate.ts"
import { lmTower, visionTower } from "../foundation/towers.ts"
import type { Json } from "./lib/training.ts"
import { stage1 } from "./stage1.ts"
import { pink } from "./stage2.ts"

export const report = Stage.make({
  name: "report",
  description: "The results table, loss curves, bootstrap survival and a gallery, as HTML and markdown",
  inputs: {
    pink: Input.metrics(evaluatePink.out.metrics),
    pinkStar: Input.metrics(evaluatePinkStar.out.metrics),
    projectionOnly: Input.metrics(evaluateProjectionOnly.out.metrics),
    generalOnly: Input.metrics(evaluateGeneralOnly.out.metrics),
    curveVision: Input.json(visionTower.out.curve),
    curveLm: Input.json(lmTower.out.curve),
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
          { stage: "vision tower", points: curve(inputs.curveVision) },
          { stage: "LM tower", points: curve(inputs.curveLm) },
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
