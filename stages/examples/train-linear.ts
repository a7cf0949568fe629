/** Trains a logistic-regression model on the training set. */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Artifact, Input, Stage } from "pinkflow"
import * as Logistic from "./lib/logistic.ts"
import { readSet, split } from "./split.ts"

export const trainLinear = Stage.make({
  name: "train-linear",
  params: Schema.Struct({
    lr: Stage.param(Schema.Number.check(Schema.isGreaterThan(0)), 0.5),
    epochs: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 200)
  }),
  inputs: { sets: Input.directory(split.out.sets) },
  outputs: { model: Artifact.model("weights.json") },
  env: { node: () => process.versions.node.split(".")[0]! },
  run: ({ params, inputs, outputs, log }) =>
    Effect.gen(function*() {
      const train = yield* Effect.promise(() => readSet(inputs.sets, "train"))
      const { weights, loss } = Logistic.train(train, params.lr, params.epochs)
      log(`final training loss ${loss.toFixed(4)}`)
      yield* Effect.promise(() => fs.promises.writeFile(path.join(outputs.model, "weights.json"), JSON.stringify(weights)))
    })
})
