/** The report: the results table, the paper's claims with 95 % intervals, loss curves, bootstrap survival and a gallery, as HTML and markdown. */
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
    predictions: Input.directory(evaluatePinkStar.out.predictions),
    predictionsPink: Input.directory(evaluatePink.out.predictions),
    predictionsProjectionOnly: Input.directory(evaluateProjectionOnly.out.predictions),
    predictionsGeneralOnly: Input.directory(evaluateGeneralOnly.out.predictions)
  },
  outputs: { report: Artifact.directory(), summary: Artifact.json<Json>() },
  run: ({ inputs, outputs, log }) =>
    Effect.promise(async () => {
      const Report = await import("../../src/eval/Report.ts")
      const Claims = await import("../../src/eval/Claims.ts")
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
      const read = (dir: string) => fs.readFileSync(path.join(dir, "predictions.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
      const all = read(inputs.predictions)
      const predictions = all.filter((p) => p.kind === "rec")
      const rec = (name: string, rows: ReadonlyArray<any>) => ({ name, outcomes: Claims.outcomes(rows) })
      const [star, pinkRec, projection, general] = [rec("Pink*", all), rec("Pink", read(inputs.predictionsPink)), rec("projection only", read(inputs.predictionsProjectionOnly)), rec("general data only", read(inputs.predictionsGeneralOnly))]
      const claims = [
        Claims.claim("adapters vs projection only", pinkRec, projection),
        Claims.claim("RC tasks + general vs general data only", pinkRec, general),
        Claims.claim("bootstrapping: Pink* vs Pink", star, pinkRec)
      ]
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
        claims,
        totalParameters: inputs.curvePink.total as number | undefined,
        gallery: { evalDir: inputs.eval, model: "Pink*", predictions }
      })
      for (const line of summary.split("\n")) log(line)
      return { summary: { table: summary, claims: claims as unknown as Json, pinkStarRec: inputs.pinkStar["rec/all"] ?? 0 } }
    })
})
