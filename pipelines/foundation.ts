/**
 * The foundation: the frozen towers of the Pink miniature (its CLIP and Llama), pretrained far
 * longer than the recipe runs, each with its gate. `npm run foundation` runs it from scratch;
 * its towers ship as an export (towers/) that pipelines/pink.ts takes as a substitute, so a fresh
 * clone's `npm start` reuses them as long as their keys match the code.
 */
import { Pipeline } from "pinkflow"
import { lmDiagnosis } from "../stages/foundation/diagnosis.ts"
import * as Foundation from "../stages/foundation/gates.ts"

export default Pipeline.make({
  name: "foundation",
  // The LM tower's diagnosis is the foundation's own (the recipe's pipelines take the towers and gates).
  stages: [...Foundation.all, lmDiagnosis],
  // The shipped towers' settings (pipelines/pink.ts takes the same, so its keys are these).
  params: { "vision-tower": { steps: 16000, scenes: 20000 }, "lm-tower": { steps: 3000, questions: "rc" } }
})
