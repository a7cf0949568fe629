/** Shuffles the cleaned table with a seed and splits it into train and test sets. */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Artifact, Input, Stage } from "pinkflow"
import * as Csv from "./lib/csv.ts"
import { rng, shuffle } from "../../src/data/Random.ts"
import { prepare } from "./prepare.ts"

export const split = Stage.make({
  name: "split",
  params: Schema.Struct({
    testFraction: Stage.param(Schema.Number.check(Schema.isBetween({ minimum: 0.05, maximum: 0.95 })), 0.25),
    seed: Stage.param(Schema.Int, 7)
  }),
  inputs: { clean: Input.file(prepare.out.clean) },
  outputs: { sets: Artifact.directory("train.csv and test.csv") },
  run: ({ params, inputs, outputs }) =>
    Effect.promise(async () => {
      const { points } = Csv.parse(await fs.promises.readFile(inputs.clean, "utf8"))
      const shuffled = shuffle(points, rng(params.seed))
      const nTest = Math.round(shuffled.length * params.testFraction)
      await fs.promises.writeFile(path.join(outputs.sets, "test.csv"), Csv.format(shuffled.slice(0, nTest)))
      await fs.promises.writeFile(path.join(outputs.sets, "train.csv"), Csv.format(shuffled.slice(nTest)))
    })
})

export const readSet = async (dir: string, name: "train" | "test") =>
  Csv.parse(await fs.promises.readFile(path.join(dir, `${name}.csv`), "utf8")).points
