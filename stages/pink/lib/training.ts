/**
 * What the recipe's training stages share: their params (with each stage's defaults), the tensor
 * environment in their key, and `trainingStage`, which makes a stage with a model and its loss
 * curve out, its own process and in-stage checkpoints. Each stage's `train` loads the library code
 * it runs itself, so its key covers that code and nothing else.
 */
import { Effect, Schema } from "effect"
import { Artifact, Stage } from "pinkflow"
import type { Input } from "pinkflow"
import * as Environment from "../../../src/model/Environment.ts"
import type * as Session from "../../../src/train/Session.ts"

export type Json = Readonly<Record<string, unknown>>
export type Vocab = ReadonlyArray<string>

/** The tensor backend a stage's numbers depend on. */
export const env = { tensors: Environment.fingerprint }

/** A data directory's training records. */
export const jsonl = (dir: string) => ({ dir, file: "train.jsonl" })

/** The params of a training stage, with its defaults. */
export const training = (steps: number, batchSize: number, lr: number, weightDecay: number, warmup: number, seed: number) => ({
  preset: Stage.param(Schema.Literals(["nano", "small", "hires"]), "small"),
  steps: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), steps),
  batchSize: Stage.param(Schema.Int.check(Schema.isGreaterThan(0)), batchSize),
  lr: Stage.param(Schema.Number.check(Schema.isGreaterThan(0)), lr),
  weightDecay: Stage.param(Schema.Number, weightDecay),
  warmup: Stage.param(Schema.Number, warmup),
  seed: Stage.param(Schema.Int, seed)
})

/**
 * A training stage: a model and its loss curve out, the tensor environment in its key, its own
 * process, in-stage checkpoints; `train` runs the training with the stage's inputs and options.
 */
export const trainingStage = <I extends Stage.Inputs, F extends { readonly [k: string]: Schema.Codec<any, any, never, never> } = {}>(def: {
  readonly name: string
  readonly description: string
  readonly defaults: Parameters<typeof training>
  /** The preset's default (`small` unless given). */
  readonly preset?: "nano" | "small" | "hires"
  /** Params beyond the training ones, passed to `train` as `extra`. */
  readonly params?: F
  readonly inputs: I
  readonly train: (
    inputs: { readonly [K in keyof I]: Input.Value<I[K]> },
    model: string,
    o: Session.TrainOptions,
    extra: Schema.Struct.Type<F>
  ) => Promise<Json>
}) =>
  Stage.make({
    name: def.name,
    description: def.description,
    params: Schema.Struct({
      ...training(...def.defaults),
      ...(def.preset === undefined ? {} : { preset: Stage.param(Schema.Literals(["nano", "small", "hires"]), def.preset) }),
      ...(def.params ?? ({} as F))
    }),
    inputs: def.inputs,
    outputs: { model: Artifact.model(), curve: Artifact.json<Json>() },
    env,
    isolated: true,
    run: ({ params, inputs, outputs, checkpointDir, log }) =>
      Effect.promise(async () => ({ curve: await def.train(inputs, outputs.model, { ...(params as Session.TrainOptions), checkpointDir, log }, params as Schema.Struct.Type<F>) }))
  })
