/**
 * Artifact kinds, output declarations and the typed references that wire one stage's output
 * into another stage's input.
 *
 * A `Ref<K, A>` carries its kind `K` in its type, so an input that expects a directory cannot be
 * given a JSON value: the wiring fails to typecheck, and the runtime check in `Dag` catches
 * untyped (JavaScript) pipelines.
 */
export type Kind = "file" | "directory" | "json" | "model" | "metrics"

/** Kinds whose bytes the stage writes to a path it is given. */
export type PathKind = "file" | "directory" | "model"
/** Kinds the stage returns as a value. */
export type ValueKind = "json" | "metrics"

export type Metrics = Readonly<Record<string, number>>

export const isValueKind = (kind: Kind): kind is ValueKind => kind === "json" || kind === "metrics"
/** Kinds stored as a tree of files. */
export const isTreeKind = (kind: Kind): boolean => kind === "directory" || kind === "model"

/** An output declaration: its kind, and for value kinds the type of the value. */
export interface Output<K extends Kind = Kind, A = unknown> {
  readonly kind: K
  readonly description: string | undefined
  /** Phantom: the value type of a `json` output. */
  readonly _A?: () => A
}

const output = <K extends Kind, A = unknown>(kind: K, description?: string): Output<K, A> => ({
  kind,
  description
})

export const file = (description?: string): Output<"file", string> => output("file", description)
export const directory = (description?: string): Output<"directory", string> => output("directory", description)
export const model = (description?: string): Output<"model", string> => output("model", description)
export const json = <A>(description?: string): Output<"json", A> => output("json", description)
export const metrics = (description?: string): Output<"metrics", Metrics> => output("metrics", description)

/** A reference to output `output` of stage `stage`. */
export interface Ref<K extends Kind = Kind, A = unknown> {
  readonly _tag: "Ref"
  readonly kind: K
  readonly stage: string
  readonly output: string
  readonly _A?: () => A
}

export const ref = <K extends Kind, A>(stage: string, output: string, kind: K): Ref<K, A> => ({
  _tag: "Ref",
  kind,
  stage,
  output
})

export const label = (r: { readonly stage: string; readonly output: string }): string => `${r.stage}.${r.output}`
