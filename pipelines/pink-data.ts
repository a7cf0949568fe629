/**
 * The Pink recipe's data build on its embedded generator: scenes in Visual Genome's format, the
 * stage-2 instruction mix, stage-1 captions, the detection-only split and the held-out evaluation
 * splits. Each output directory has a preview.png of a few samples with their boxes drawn.
 */
import { Pipeline } from "pinkflow"
import * as Data from "../stages/pink/data.ts"

export default Pipeline.make({ name: "pink-data", stages: [...Data.all] })
