/**
 * Compile-time checks, run by `npm run typecheck`: wiring an output into an input of another kind
 * does not typecheck, and stage bodies see precisely typed params, inputs and outputs. Each
 * `@ts-expect-error` fails the typecheck if the line below it stops being an error.
 */
import { Effect, Schema } from "effect"
import * as Artifact from "../../src/core/Artifact.ts"
import * as Input from "../../src/core/Input.ts"
import * as Stage from "../../src/core/Stage.ts"

const producer = Stage.make({
  name: "producer",
  params: Schema.Struct({ n: Stage.param(Schema.Int, 3) }),
  outputs: {
    table: Artifact.file(),
    images: Artifact.directory(),
    weights: Artifact.model(),
    stats: Artifact.json<{ readonly count: number }>(),
    scores: Artifact.metrics()
  },
  run: ({ params }) => Effect.succeed({ stats: { count: params.n }, scores: { accuracy: 1 } })
})

// Each kind wires into its own input constructor.
export const consumer = Stage.make({
  name: "consumer",
  inputs: {
    table: Input.file(producer.out.table),
    images: Input.directory(producer.out.images),
    weights: Input.model(producer.out.weights),
    stats: Input.json(producer.out.stats),
    scores: Input.metrics(producer.out.scores),
    raw: Input.directory("data/raw")
  },
  outputs: { out: Artifact.json<number>() },
  run: ({ inputs }) => {
    const path: string = inputs.images
    const count: number = inputs.stats.count
    const accuracy: number | undefined = inputs.scores.accuracy
    return Effect.succeed({ out: path.length + count + (accuracy ?? 0) + inputs.raw.length })
  }
})

// @ts-expect-error a directory is not a file
Input.file(producer.out.images)
// @ts-expect-error a model checkpoint is not a directory
Input.directory(producer.out.weights)
// @ts-expect-error JSON is not a model
Input.model(producer.out.stats)
// @ts-expect-error metrics are not arbitrary JSON of another type
Input.json<{ readonly count: number }>(producer.out.scores)
// @ts-expect-error a file is not metrics
Input.metrics(producer.out.table)
// @ts-expect-error a project path can only be a file or directory input
Input.model("weights/")

Stage.make({
  name: "bad-return",
  outputs: { stats: Artifact.json<{ readonly count: number }>() },
  // @ts-expect-error the body must return the JSON output's value, with its type
  run: () => Effect.succeed({ stats: { count: "three" } })
})

Stage.make({
  name: "bad-param",
  params: Schema.Struct({ lr: Stage.param(Schema.Number, 0.1) }),
  outputs: {},
  // @ts-expect-error params are typed from the schema
  run: ({ params }) => Effect.sync(() => params.lr.toUpperCase())
})

Stage.make({
  name: "bad-output",
  outputs: { table: Artifact.file() },
  // @ts-expect-error a value output has no path; only file, directory and model outputs do
  run: ({ outputs }) => Effect.sync(() => outputs.missing)
})
