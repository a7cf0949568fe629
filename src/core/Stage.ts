/**
 * A stage: a named, typed unit of work with params (an Effect Schema with defaults), named inputs,
 * named outputs of declared kinds, resource needs, declared environment fields and an Effect that
 * runs it.
 *
 * Pipeline files are bundled and loaded as plugins, with their own copy of the Effect runtime, so a
 * stage talks to the engine through plain data and closures only: `resolveParams` decodes params
 * with the stage's own schema, and `execute` runs the body with the stage's own runtime.
 */
import { Cause, Effect, Exit, Logger, Schema } from "effect"
import * as Artifact from "./Artifact.ts"
import type * as Input from "./Input.ts"

export type Inputs = Readonly<Record<string, Input.Input>>
export type Outputs = Readonly<Record<string, Artifact.Output>>

export interface Resources {
  /** GPUs held while the stage runs; at most `--gpus` (default 1) are held at once. */
  readonly gpu?: number
  /** CPU slots the stage takes out of `--concurrency` (and CPUs per task under Slurm). */
  readonly cpu?: number
  /** Memory for a Slurm job, in sbatch's form (`"8G"`); the local executor ignores it. */
  readonly memory?: string
  /** Time limit for a Slurm job, in sbatch's form (`"2:00:00"`); the local executor ignores it. */
  readonly time?: string
}

/** An environment field the stage's result depends on, read when its key is computed. */
export type EnvField = () => string

type PathOutputs<O extends Outputs> = {
  readonly [K in keyof O as O[K] extends Artifact.Output<Artifact.PathKind> ? K : never]: string
}

type ValueOutputs<O extends Outputs> = {
  readonly [K in keyof O as O[K] extends Artifact.Output<Artifact.ValueKind> ? K : never]: O[K] extends
    Artifact.Output<Artifact.Kind, infer A> ? A : never
}

/** What the body returns: the values of its JSON and metrics outputs (nothing if it has none). */
export type Returned<O extends Outputs> = keyof ValueOutputs<O> extends never ? void | {} : ValueOutputs<O>

export interface Context<P, I extends Inputs, O extends Outputs> {
  readonly stage: string
  readonly params: P
  readonly inputs: { readonly [K in keyof I]: Input.Value<I[K]> }
  /** Where to write each file, directory and model output (directories exist already). */
  readonly outputs: PathOutputs<O>
  /** Scratch space, removed after the stage. */
  readonly workDir: string
  /**
   * Where the body may save in-stage checkpoints. It belongs to this stage key and survives a
   * killed run, so a rerun of the same key can resume; it is removed once the result is stored.
   */
  readonly checkpointDir: string
  /**
   * A line for the stage log (kept in lineage); `Effect.log` inside the body lands here too. The
   * terminal shows it with `--verbose`, and always when it starts with `progress ` (a progress
   * bar) or `| ` (a table row).
   */
  readonly log: (message: string) => void
}

/** The same context, as the engine builds it: untyped. */
export interface RawContext {
  readonly stage: string
  readonly params: unknown
  readonly inputs: Readonly<Record<string, unknown>>
  readonly outputs: Readonly<Record<string, string>>
  readonly workDir: string
  readonly checkpointDir: string
  readonly log: (message: string) => void
}

export type Resolved =
  | { readonly ok: true; readonly params: unknown; readonly encoded: unknown }
  | { readonly ok: false; readonly message: string }

export type Executed =
  | { readonly ok: true; readonly values: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly interrupted: boolean; readonly message: string; readonly detail: string }

export interface Stage<P = unknown, I extends Inputs = Inputs, O extends Outputs = Outputs> {
  readonly _tag: "Stage"
  readonly name: string
  readonly description: string | undefined
  /** The project-relative module that declared the stage (set by the pipeline loader). */
  readonly module: string | undefined
  /** The index of the module's top-level statement that declared it (where its code fingerprint starts). */
  readonly statement: number | undefined
  readonly inputs: I
  readonly outputs: O
  readonly out: { readonly [K in keyof O & string]: Artifact.Ref<O[K]["kind"], OutputValue<O[K]>> }
  readonly resources: Resources
  readonly env: Readonly<Record<string, EnvField>>
  /** Bump to force every cached result of this stage to be recomputed. */
  readonly version: string | undefined
  /** Run the body in its own process (CPU-bound stages then run in parallel). */
  readonly isolated: boolean
  /** The param names and their defaults, for help and validation messages. */
  readonly paramNames: ReadonlyArray<string>
  readonly resolveParams: (overrides: Readonly<Record<string, unknown>>) => Resolved
  readonly execute: (ctx: RawContext, signal: AbortSignal) => Promise<Executed>
  readonly _P?: () => P
}

export type Any = Stage<any, Inputs, Outputs>

type OutputValue<Out> = Out extends Artifact.Output<Artifact.Kind, infer A> ? A : never

export interface Definition<S extends Schema.Codec<any, any>, I extends Inputs, O extends Outputs, E> {
  readonly name: string
  readonly description?: string
  readonly params?: S
  readonly inputs?: I
  readonly outputs: O
  readonly resources?: Resources
  readonly env?: Readonly<Record<string, EnvField>>
  readonly version?: string
  /** Run the body in a worker process: for CPU-bound work, so independent stages run in parallel. */
  readonly isolated?: boolean
  readonly run: (ctx: Context<S["Type"], I, O>) => Effect.Effect<Returned<O>, E>
}

/** Set by the pipeline loader before each top-level statement of a project module runs: `module#statement`. */
export const MODULE_MARKER = Symbol.for("pinkflow/module")

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/

const EmptyParams = Schema.Struct({})

const formatIssue = (error: unknown): string => {
  const text = error instanceof Error ? error.message : String(error)
  return text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0).join("; ")
}

const isPlainJson = (u: unknown): boolean => {
  if (u === null || typeof u === "string" || typeof u === "boolean") return true
  if (typeof u === "number") return Number.isFinite(u)
  if (Array.isArray(u)) return u.every(isPlainJson)
  if (typeof u !== "object" || Object.getPrototypeOf(u) !== Object.prototype) return false
  return Object.values(u).every(isPlainJson)
}

/** `Expected number; at ["seed"]` → `param seed = "seven": expected number`. */
const paramIssue = (text: string, overrides: Readonly<Record<string, unknown>>): string =>
  text.split("; ").reduce<Array<string>>((acc, part) => {
    const at = /^at \["?([^"\]]+)"?\]$/.exec(part)
    if (at === null || acc.length === 0) return [...acc, part]
    const name = at[1]!
    const issue = acc.pop()!.replace(/^Expected no excess property$/, "unknown param").replace(/^E/, "e")
    const given = name in overrides ? ` = ${JSON.stringify(overrides[name])}` : ""
    return [...acc, `param ${name}${given}: ${issue}`]
  }, []).join("; ")

/** A stage failure in one line: `Tag: message`, or `Tag (field: value, …)` for errors that are only data. */
const failureMessage = (error: unknown): string => {
  if (typeof error !== "object" || error === null) return String(error)
  const tag = (error as { _tag?: unknown })._tag
  const message = error instanceof Error ? error.message : ""
  const fields = Object.entries(error)
    .filter(([k]) => k !== "_tag" && k !== "message" && k !== "stack")
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
  const text = message !== "" ? message : fields.length > 0 ? `(${fields.join(", ")})` : JSON.stringify(error)
  return typeof tag === "string" && !text.startsWith(tag) ? `${tag}${message !== "" ? ":" : ""} ${text}` : text
}

export const make = <
  I extends Inputs = {},
  O extends Outputs = {},
  E = never,
  S extends Schema.Codec<any, any> = typeof EmptyParams
>(def: Definition<S, I, O, E>): Stage<S["Type"], I, O> => {
  if (typeof def.name !== "string" || !NAME.test(def.name)) {
    throw new TypeError(`invalid stage name ${JSON.stringify(def.name)}: use letters, digits, '_' and '-'`)
  }
  const schema = (def.params ?? EmptyParams) as Schema.Codec<unknown, unknown>
  // Built on first use: planning 100,000 stages should not pay for encoders it never calls.
  let decoder: ReturnType<typeof Schema.decodeUnknownExit<typeof schema>> | undefined
  let encoder: ReturnType<typeof Schema.encodeUnknownExit<typeof schema>> | undefined
  const decode: NonNullable<typeof decoder> = (input, options) => (decoder ??= Schema.decodeUnknownExit(schema))(input, options)
  const encode: NonNullable<typeof encoder> = (input, options) => (encoder ??= Schema.encodeUnknownExit(schema))(input, options)
  const fields = (schema as unknown as { fields?: Record<string, unknown> }).fields
  const out = Object.fromEntries(
    Object.entries(def.outputs).map(([name, o]) => [name, Artifact.ref(def.name, name, o.kind)])
  ) as Stage<S["Type"], I, O>["out"]

  const resolveParams = (overrides: Readonly<Record<string, unknown>>): Resolved => {
    const decoded = decode(overrides, { onExcessProperty: "error", errors: "all" })
    if (Exit.isFailure(decoded)) return { ok: false, message: paramIssue(formatIssue(Cause.squash(decoded.cause)), overrides) }
    // Plain JSON params enter the key as they are; others (dates, classes…) in their encoded form.
    if (isPlainJson(decoded.value)) return { ok: true, params: decoded.value, encoded: decoded.value }
    const encoded = encode(decoded.value)
    if (Exit.isFailure(encoded)) return { ok: false, message: formatIssue(Cause.squash(encoded.cause)) }
    return { ok: true, params: decoded.value, encoded: encoded.value }
  }

  const execute = (ctx: RawContext, signal: AbortSignal): Promise<Executed> => {
    const capture = Logger.make(({ message }) => {
      ctx.log((Array.isArray(message) ? message : [message]).map((m) => typeof m === "string" ? m : JSON.stringify(m)).join(" "))
    })
    const body = Effect.suspend(() => def.run(ctx as unknown as Context<S["Type"], I, O>)).pipe(
      Effect.provide(Logger.layer([capture]))
    )
    return Effect.runPromiseExit(body, { signal }).then((exit): Executed => {
      if (Exit.isSuccess(exit)) return { ok: true, values: (exit.value ?? {}) as Record<string, unknown> }
      const interrupted = Cause.hasInterruptsOnly(exit.cause)
      const error = Cause.squash(exit.cause)
      return {
        ok: false,
        interrupted,
        message: interrupted ? "interrupted" : failureMessage(error),
        detail: Cause.pretty(exit.cause)
      }
    })
  }

  const marker = (globalThis as Record<symbol, unknown>)[MODULE_MARKER]
  const declared = typeof marker === "string" ? /^(.*)#(\d+)$/.exec(marker) : null
  return {
    _tag: "Stage",
    name: def.name,
    description: def.description,
    module: declared?.[1],
    statement: declared === null ? undefined : Number(declared[2]),
    inputs: (def.inputs ?? {}) as I,
    outputs: def.outputs,
    out,
    resources: def.resources ?? {},
    env: def.env ?? {},
    version: def.version,
    isolated: def.isolated ?? false,
    paramNames: fields === undefined ? [] : Object.keys(fields),
    resolveParams,
    execute
  }
}

/** A param with a default: `Stage.param(Schema.Number, 0.1)`. */
export const param = <S extends Schema.Codec<any, any>>(schema: S, defaultValue: S["Encoded"]) =>
  schema.pipe(Schema.withDecodingDefaultKey(Effect.succeed(defaultValue)))
