/**
 * A pipeline: the stages of one experiment, param overrides per stage, and an optional sweep.
 *
 * A pipeline file default-exports `Pipeline.make(...)`. Two pipelines that list the same stage with
 * the same params share its cached results, whatever their names: cache keys never include the
 * pipeline. A sweep is a grid over `stage.param` values; each point is one variant (one run).
 */
import type * as Stage from "./Stage.ts"

export type Overrides = Readonly<Record<string, Readonly<Record<string, unknown>>>>

export interface Pipeline {
  readonly _tag: "Pipeline"
  readonly name: string
  readonly description: string | undefined
  readonly stages: ReadonlyArray<Stage.Any>
  readonly params: Overrides
  /** `"stage.param"` → the values to try. */
  readonly sweep: Readonly<Record<string, ReadonlyArray<unknown>>>
  /** Where its stages run, unless the project's config file or the command line says otherwise. */
  readonly executor: ExecutorChoice | undefined
}

/** The executor a run uses: this machine, or Slurm jobs (with their partition and account). */
export type ExecutorChoice =
  | { readonly kind: "local" }
  | { readonly kind: "slurm"; readonly partition?: string | undefined; readonly account?: string | undefined; readonly extraArgs?: ReadonlyArray<string> | undefined }

export interface Definition {
  readonly name: string
  readonly description?: string
  readonly stages: ReadonlyArray<Stage.Any>
  readonly params?: Overrides
  readonly sweep?: Readonly<Record<string, ReadonlyArray<unknown>>>
  readonly executor?: ExecutorChoice
}

export const make = (def: Definition): Pipeline => ({
  _tag: "Pipeline",
  name: def.name,
  description: def.description,
  stages: def.stages,
  params: def.params ?? {},
  sweep: def.sweep ?? {},
  executor: def.executor
})

export const isPipeline = (u: unknown): u is Pipeline =>
  typeof u === "object" && u !== null && (u as Pipeline)._tag === "Pipeline" &&
  Array.isArray((u as Pipeline).stages)

/** One point of the sweep grid: its label and the overrides that make it. */
export interface Variant {
  readonly label: string
  readonly swept: Readonly<Record<string, unknown>>
  /** The command line's `--set` overrides (`stage.param` → value). */
  readonly set: Readonly<Record<string, unknown>>
  readonly overrides: Overrides
}

/** `"stage.param"` → `[stage, param]`; `undefined` when there is no dot. */
export const splitPath = (dotted: string): readonly [string, string] | undefined => {
  const i = dotted.indexOf(".")
  return i <= 0 || i === dotted.length - 1 ? undefined : [dotted.slice(0, i), dotted.slice(i + 1)]
}

export const mergeOverrides = (...layers: ReadonlyArray<Overrides>): Overrides => {
  const out: Record<string, Record<string, unknown>> = {}
  for (const layer of layers) {
    for (const [stage, params] of Object.entries(layer)) out[stage] = { ...out[stage], ...params }
  }
  return out
}

const fromDotted = (values: Readonly<Record<string, unknown>>): Overrides => {
  const out: Record<string, Record<string, unknown>> = {}
  for (const [dotted, value] of Object.entries(values)) {
    const [stage, param] = splitPath(dotted) ?? [dotted, ""]
    out[stage] = { ...out[stage], [param]: value }
  }
  return out
}

/** What sets a run apart from the pipeline's defaults: its sweep point and its `--set` overrides. */
export const describeVariant = (v: { readonly variant: string; readonly set?: Readonly<Record<string, unknown>> | undefined }): string =>
  [...(v.variant === "" ? [] : [v.variant]), ...Object.entries(v.set ?? {}).map(([k, x]) => `${k}=${JSON.stringify(x)}`)].join(",")

/**
 * The variants to run: the sweep grid (in declaration order) over the pipeline's params, with
 * command-line overrides on top. A `--set` of a swept param pins it, collapsing that axis.
 */
export const variants = (pipeline: Pipeline, cli: Readonly<Record<string, unknown>> = {}): ReadonlyArray<Variant> => {
  const axes = Object.entries(pipeline.sweep).filter(([dotted]) => !(dotted in cli))
  let grid: Array<Record<string, unknown>> = [{}]
  for (const [dotted, values] of axes) {
    grid = grid.flatMap((point) => values.map((v) => ({ ...point, [dotted]: v })))
  }
  return grid.map((swept) => ({
    label: Object.entries(swept).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(","),
    swept,
    set: cli,
    overrides: mergeOverrides(pipeline.params, fromDotted(swept), fromDotted(cli))
  }))
}
