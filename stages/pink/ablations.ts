/** The ablations behind the paper's claims, each sharing every upstream stage: no adapters, no RC tasks. */
import { Input } from "pinkflow"
import * as Data from "./data.ts"
import { stage2 } from "./stage2.ts"

export const instructionsGeneralOnly = Data.instructionsFrom(Input.directory(Data.scenes.out.vg), "instructions-general-only", false)

export const projectionOnly = stage2(
  "stage2-projection-only",
  "Ablation: no adapters (projection and delimiter rows only)",
  { instructions: Input.directory(Data.instructions.out.train) },
  false
)

export const generalOnly = stage2(
  "stage2-general-only",
  "Ablation: no RC tasks (general data only)",
  { instructions: Input.directory(instructionsGeneralOnly.out.train) },
  true
)
