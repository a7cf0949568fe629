/**
 * Input declarations: what a stage consumes, either another stage's output (by `Ref`) or a file
 * or directory of the project (by path, relative to the project root).
 *
 * Each constructor accepts only references of its own kind, which is what makes a mis-wired
 * pipeline a type error. What the stage body receives is `Value<I>`: a path for file-like inputs,
 * the decoded value for JSON and metrics inputs.
 */
import type * as Artifact from "./Artifact.ts"

export interface FromStage<K extends Artifact.Kind = Artifact.Kind, A = unknown> {
  readonly _tag: "FromStage"
  readonly kind: K
  readonly stage: string
  readonly output: string
  readonly _A?: () => A
}

export interface FromProject<K extends "file" | "directory" = "file" | "directory"> {
  readonly _tag: "FromProject"
  readonly kind: K
  readonly path: string
}

export type Input = FromStage | FromProject

const fromRef = <K extends Artifact.Kind, A>(kind: K, r: Artifact.Ref<K, A>): FromStage<K, A> => {
  // Checked here as well as by the types, for pipelines written in plain JavaScript.
  if (r === undefined || r === null || r._tag !== "Ref") {
    throw new TypeError(`expected an output reference of kind ${kind}, got ${String(r)}`)
  }
  // The kind this constructor expects, not the reference's: the DAG check compares it with the
  // producing output's kind, so `Input.directory(report.out.summary)` in JavaScript fails there.
  return { _tag: "FromStage", kind, stage: r.stage, output: r.output }
}

export function file(source: string): FromProject<"file">
export function file(source: Artifact.Ref<"file", string>): FromStage<"file", string>
export function file(source: string | Artifact.Ref<"file", string>): FromStage<"file", string> | FromProject<"file"> {
  return typeof source === "string" ? { _tag: "FromProject", kind: "file", path: source } : fromRef("file", source)
}

export function directory(source: string): FromProject<"directory">
export function directory(source: Artifact.Ref<"directory", string>): FromStage<"directory", string>
export function directory(source: string | Artifact.Ref<"directory", string>): FromStage<"directory", string> | FromProject<"directory"> {
  return typeof source === "string" ? { _tag: "FromProject", kind: "directory", path: source } : fromRef("directory", source)
}

export const model = (source: Artifact.Ref<"model", string>): FromStage<"model", string> => fromRef("model", source)

export const json = <A>(source: Artifact.Ref<"json", A>): FromStage<"json", A> => fromRef("json", source)

export const metrics = (source: Artifact.Ref<"metrics", Artifact.Metrics>): FromStage<"metrics", Artifact.Metrics> =>
  fromRef("metrics", source)

/** What a stage body receives for an input. */
export type Value<I> = I extends FromStage<infer K, infer A> ? (K extends Artifact.ValueKind ? A : string)
  : I extends FromProject ? string
  : never

export const describe = (input: Input): string =>
  input._tag === "FromProject" ? input.path : `${input.stage}.${input.output}`
