/** Stage 1: the projection learns to map the frozen ViT's features into the frozen LM, on captions. */
import { Schema } from "effect"
import { Input, Stage } from "pinkflow"
import * as Data from "./data.ts"
import { jsonl, trainingStage, type Json, type Vocab } from "./lib/training.ts"
import { alignmentGate, lmGate, visionGate } from "../foundation/gates.ts"
import { lmCoordinates, visionTower } from "../foundation/towers.ts"
import { vocabulary } from "../foundation/vocabulary.ts"

export interface Towers {
  readonly vocab: Input.FromStage<"json", Vocab>
  readonly vision: Input.FromStage<"model", string>
  readonly lm: Input.FromStage<"model", string>
  /** The towers' gate metrics (stages/foundation/gates.ts): stage 1 refuses a tower that failed. */
  readonly gates?: { readonly vision: Input.FromStage<"json", Json>; readonly lm: Input.FromStage<"json", Json>; readonly alignment: Input.FromStage<"json", Json> }
}

/** Refuses towers whose gate failed (each tower's, and the pair's), naming the gate and its numbers, unless `requireGates` is off. */
const checkGates = (gates: Readonly<Record<string, Json>>, required: boolean, log: (line: string) => void) => {
  const failed = Object.entries(gates).filter(([, m]) => m.pass !== true)
  for (const [name, m] of failed) {
    const detail = Object.entries(m).filter(([k, v]) => typeof v === "number" && k !== "n" && k !== "objectPatches").map(([k, v]) => `${k} ${(v as number).toFixed(3)}`).join(", ")
    const line = `the ${name} failed its gate (${detail})`
    if (required) throw new Error(`${line}; it is not worth a recipe run (set requireGates=false to run anyway)`)
    log(`warning: ${line}; running anyway (requireGates=false)`)
  }
}

/**
 * Stage 1 over a pair of towers and their vocabulary. `objective` is what the projection learns
 * from: `captions` (the paper's stage 1, on image–caption pairs) or `layouts` (towers whose LM was
 * pretrained on scene layouts, src/train/Alignment.ts: the projected patches against their
 * layout cells, and the LM's answers to layout questions with the image in the layout's place, on
 * `scenes` generated scenes of `sceneSeed`, from the least-squares map, at `refineLr`). Either way
 * only the projection trains. The captions
 * stay an input under both objectives (a stage's inputs do not depend on its params), so new
 * caption data reruns a layouts stage 1 too, which then gives the same model.
 */
export const stage1From = (name: string, towers: Towers, o: { readonly preset?: "small" | "hires"; readonly objective?: "captions" | "layouts" } = {}) =>
  trainingStage({
    name,
    description: "Stage 1: the projection, on captions or on scene layouts (everything else frozen)",
    defaults: [300, 16, 2e-3, 0, 0.03, 13],
    ...(o.preset === undefined ? {} : { preset: o.preset }),
    params: {
      requireGates: Stage.param(Schema.Boolean, true),
      objective: Stage.param(Schema.Literals(["captions", "layouts"]), o.objective ?? "captions"),
      sceneSeed: Stage.param(Schema.Int, 301),
      scenes: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 2000),
      turns: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 8),
      alignWeight: Stage.param(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0)), 1),
      /** Layouts: the learning rate of the steps after the least-squares start (`lr` is the captions objective's). */
      refineLr: Stage.param(Schema.Number.check(Schema.isGreaterThan(0)), 1e-5)
    },
    inputs: {
      vocab: towers.vocab,
      vision: towers.vision,
      lm: towers.lm,
      captions: Input.directory(Data.captions.out.captions),
      ...(towers.gates === undefined ? {} : { visionGate: towers.gates.vision, lmGate: towers.gates.lm, alignmentGate: towers.gates.alignment })
    },
    train: async (inputs, model, o, extra) => {
      const gates = inputs as { visionGate?: Json; lmGate?: Json; alignmentGate?: Json }
      if (gates.visionGate !== undefined && gates.lmGate !== undefined && gates.alignmentGate !== undefined) checkGates({ "vision tower": gates.visionGate, "lm tower": gates.lmGate, "pair of towers": gates.alignmentGate }, extra.requireGates, o.log)
      const init = { from: "pretrained", vision: inputs.vision, lm: inputs.lm, vocab: inputs.vocab } as const
      if (extra.objective === "layouts") return (await import("../../src/train/Alignment.ts")).alignStage(init, extra, model, o)
      return (await import("../../src/train/Recipe.ts")).trainStage(
        init,
        [jsonl(inputs.captions)],
        "projectionOnly",
        true,
        model,
        o
      )
    }
  })

/** The recipe's stage 1: over the foundation's towers (pipelines/foundation.ts), aligned to the LM's layouts. */
export const stage1 = stage1From("stage1", {
  vocab: Input.json(vocabulary.out.vocab),
  vision: Input.model(visionTower.out.model),
  lm: Input.model(lmCoordinates.out.model),
  gates: { vision: Input.json(visionGate.out.metrics), lm: Input.json(lmGate.out.metrics), alignment: Input.json(alignmentGate.out.metrics) }
}, { preset: "hires", objective: "layouts" })
