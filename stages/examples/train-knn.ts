/** "Trains" a k-nearest-neighbours model: stores the training set and k. */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Artifact, Input, Stage } from "pinkflow"
import type { Point } from "./lib/csv.ts"
import { readSet, split } from "./split.ts"

export const trainKnn = Stage.make({
  name: "train-knn",
  params: Schema.Struct({ k: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), 5) }),
  inputs: { sets: Input.directory(split.out.sets) },
  outputs: { model: Artifact.model("knn.json") },
  run: ({ params, inputs, outputs }) =>
    Effect.promise(async () => {
      const train = await readSet(inputs.sets, "train")
      await fs.promises.writeFile(path.join(outputs.model, "knn.json"), JSON.stringify({ k: params.k, points: train }))
    })
})

export const classify = (model: { readonly k: number; readonly points: ReadonlyArray<Point> }, p: { readonly x: number; readonly y: number }) => {
  const nearest = [...model.points]
    .map((q) => ({ d: (q.x - p.x) ** 2 + (q.y - p.y) ** 2, label: q.label }))
    .sort((a, b) => a.d - b.d)
    .slice(0, model.k)
  return nearest.filter((n) => n.label === 1).length * 2 > nearest.length ? 1 : 0
}
