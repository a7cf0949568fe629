/** Stage 1: the projection learns to map the frozen ViT's features into the frozen LM, on captions. */
import { Schema } from "effect"
import { Input, Stage } from "pinkflow"
import * as Data from "./data.ts"
import { jsonl, trainingStage, type Json, type Vocab } from "./lib/training.ts"
import { tokenizer } from "./tokenizer.ts"
import { pretrainLm, pretrainVision } from "./towers.ts"

export interface Towers {
  readonly vocab: Input.FromStage<"json", Vocab>
  readonly vision: Input.FromStage<"model", string>
  readonly lm: Input.FromStage<"model", string>
  /** The towers' gate metrics (stages/foundation/gates.ts): stage 1 refuses a tower that failed. */
  readonly gates?: { readonly vision: Input.FromStage<"json", Json>; readonly lm: Input.FromStage<"json", Json> }
}

/** Refuses towers whose gate failed, naming the gate and its numbers, unless `requireGates` is off. */
const checkGates = (gates: Readonly<Record<string, Json>>, required: boolean, log: (line: string) => void) => {
  const failed = Object.entries(gates).filter(([, m]) => m.pass !== true)
  for (const [name, m] of failed) {
    const detail = Object.entries(m).filter(([k, v]) => typeof v === "number" && k !== "n" && k !== "objectPatches").map(([k, v]) => `${k} ${(v as number).toFixed(3)}`).join(", ")
    const line = `the ${name} tower failed its gate (${detail})`
    if (required) throw new Error(`${line}; it is not worth a recipe run (set requireGates=false to run anyway)`)
    log(`warning: ${line}; running anyway (requireGates=false)`)
  }
}

/** Stage 1 over a pair of towers and their vocabulary. */
export const stage1From = (name: string, towers: Towers, preset?: "small" | "hires") =>
  trainingStage({
    name,
    description: "Stage 1: the projection, on captions (everything else frozen)",
    defaults: [300, 16, 2e-3, 0, 0.03, 13],
    ...(preset === undefined ? {} : { preset }),
    params: { requireGates: Stage.param(Schema.Boolean, true) },
    inputs: {
      vocab: towers.vocab,
      vision: towers.vision,
      lm: towers.lm,
      captions: Input.directory(Data.captions.out.captions),
      ...(towers.gates === undefined ? {} : { visionGate: towers.gates.vision, lmGate: towers.gates.lm })
    },
    train: async (inputs, model, o, extra) => {
      const gates = inputs as { visionGate?: Json; lmGate?: Json }
      if (gates.visionGate !== undefined && gates.lmGate !== undefined) checkGates({ vision: gates.visionGate, lm: gates.lmGate }, extra.requireGates, o.log)
      return (await import("../../src/train/Recipe.ts")).trainStage(
        { from: "pretrained", vision: inputs.vision, lm: inputs.lm, vocab: inputs.vocab },
        [jsonl(inputs.captions)],
        "projectionOnly",
        true,
        model,
        o
      )
    }
  })

export const stage1 = stage1From("stage1", {
  vocab: Input.json(tokenizer.out.vocab),
  vision: Input.model(pretrainVision.out.model),
  lm: Input.model(pretrainLm.out.model)
})
