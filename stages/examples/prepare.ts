/** Cleans the raw point table: drops malformed rows and, by default, duplicates. */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import { Artifact, Input, Stage } from "pinkflow"
import * as Csv from "./lib/csv.ts"

export const prepare = Stage.make({
  name: "prepare",
  description: "Drop malformed and duplicate rows of the raw table",
  params: Schema.Struct({
    dropDuplicates: Stage.param(Schema.Boolean, true)
  }),
  inputs: { raw: Input.file("pipelines/examples/data/points.csv") },
  outputs: { clean: Artifact.file("the cleaned table") },
  run: ({ params, inputs, outputs, log }) =>
    Effect.gen(function*() {
      const text = yield* Effect.promise(() => fs.promises.readFile(inputs.raw, "utf8"))
      const { points, malformed } = Csv.parse(text)
      const seen = new Set<string>()
      const kept = params.dropDuplicates
        ? points.filter((p) => {
          const k = `${p.x},${p.y},${p.label}`
          return seen.has(k) ? false : (seen.add(k), true)
        })
        : points
      log(`kept ${kept.length} of ${points.length + malformed} rows (${malformed} malformed)`)
      yield* Effect.promise(() => fs.promises.writeFile(outputs.clean, Csv.format(kept)))
    })
})
