/** Accuracy of both models on the test set. */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Artifact, Input, Stage } from "pinkflow"
import * as Logistic from "./lib/logistic.ts"
import { readSet, split } from "./split.ts"
import { classify, trainKnn } from "./train-knn.ts"
import { trainLinear } from "./train-linear.ts"

export const evaluate = Stage.make({
  name: "evaluate",
  inputs: {
    sets: Input.directory(split.out.sets),
    linear: Input.model(trainLinear.out.model),
    knn: Input.model(trainKnn.out.model)
  },
  outputs: { metrics: Artifact.metrics("test accuracy per model") },
  run: ({ inputs }) =>
    Effect.promise(async () => {
      const test = await readSet(inputs.sets, "test")
      const weights = JSON.parse(await fs.promises.readFile(path.join(inputs.linear, "weights.json"), "utf8"))
      const knn = JSON.parse(await fs.promises.readFile(path.join(inputs.knn, "knn.json"), "utf8"))
      const accuracy = (predict: (p: { x: number; y: number }) => number) =>
        test.filter((p) => predict(p) === p.label).length / test.length
      return {
        metrics: {
          accuracyLinear: accuracy((p) => (Logistic.predict(weights, p) >= 0.5 ? 1 : 0)),
          accuracyKnn: accuracy((p) => classify(knn, p)),
          testSize: test.length
        }
      }
    })
})
