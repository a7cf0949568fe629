/** Names the better model. */
import { Effect } from "effect"
import { Artifact, Input, Stage } from "pinkflow"
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
