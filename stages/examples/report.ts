/** Names the better model. */
import { Effect } from "effect"
import * as Artifact from "../../src/core/Artifact.ts"
import * as Input from "../../src/core/Input.ts"
import * as Stage from "../../src/core/Stage.ts"
import { evaluate } from "./evaluate.ts"

export const report = Stage.make({
  name: "report",
  inputs: { metrics: Input.metrics(evaluate.out.metrics) },
  outputs: { summary: Artifact.json<{ readonly best: string; readonly accuracy: number }>() },
  run: ({ inputs }) =>
    Effect.sync(() => {
      const linear = inputs.metrics.accuracyLinear ?? 0
      const knn = inputs.metrics.accuracyKnn ?? 0
      return { summary: linear >= knn ? { best: "linear", accuracy: linear } : { best: "knn", accuracy: knn } }
    })
})
