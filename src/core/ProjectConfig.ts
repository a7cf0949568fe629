/**
 * The project's config file, `pinkflow.config.json` at the project root (or the file named by
 * `$PINKFLOW_CONFIG`): settings that belong to the machine or site rather than to a pipeline, such
 * as the executor. A pipeline then moves from a laptop to a cluster without edits:
 *
 *   { "executor": { "kind": "slurm", "partition": "gpu", "account": "vision" } }
 *
 * and the substitutes a run draws results from (`Substitute.ts`), paths relative to the project root:
 *
 *   { "substitutes": ["exports/towers"] }
 */
import { Data, Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as Pipeline from "./Pipeline.ts"

const Executor = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("local") }),
  Schema.Struct({
    kind: Schema.Literal("slurm"),
    partition: Schema.optional(Schema.String),
    account: Schema.optional(Schema.String),
    extraArgs: Schema.optional(Schema.Array(Schema.String))
  })
])

const File = Schema.Struct({ executor: Schema.optional(Executor), substitutes: Schema.optional(Schema.Array(Schema.String)) })

export class ConfigError extends Data.TaggedError("ConfigError")<{ readonly file: string; readonly detail: string }> {
  override get message(): string {
    return `${this.file}: ${this.detail}`
  }
}

export interface ProjectConfig {
  readonly file: string | undefined
  readonly executor: Pipeline.ExecutorChoice | undefined
  /** Substitute directories, absolute (given relative to the project root). */
  readonly substitutes: ReadonlyArray<string>
}

/** Reads the config file if there is one. */
export const load = (root: string): Effect.Effect<ProjectConfig, ConfigError> =>
  Effect.gen(function*() {
    const file = process.env.PINKFLOW_CONFIG ?? path.join(root, "pinkflow.config.json")
    if (!fs.existsSync(file)) {
      if (process.env.PINKFLOW_CONFIG !== undefined) return yield* new ConfigError({ file, detail: "no such config file ($PINKFLOW_CONFIG)" })
      return { file: undefined, executor: undefined, substitutes: [] }
    }
    const text = fs.readFileSync(file, "utf8")
    const json = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: (e) => new ConfigError({ file, detail: `invalid JSON (${(e as Error).message})` }) })
    const decoded = yield* Schema.decodeUnknownEffect(File)(json, { onExcessProperty: "error" }).pipe(
      Effect.mapError((e) => new ConfigError({ file, detail: e.message.replace(/\s+/g, " ") }))
    )
    return { file, executor: decoded.executor, substitutes: (decoded.substitutes ?? []).map((d) => path.resolve(root, d)) }
  })

/** The command line over the config file over the pipeline file; local when none says. */
export const executor = (
  cli: Partial<{ readonly kind: "local" | "slurm"; readonly partition: string; readonly account: string }>,
  config: ProjectConfig,
  pipeline: Pipeline.Pipeline
): Pipeline.ExecutorChoice => {
  const base = config.executor ?? pipeline.executor ?? { kind: "local" as const }
  const kind = cli.kind ?? (cli.partition !== undefined || cli.account !== undefined ? "slurm" : base.kind)
  if (kind === "local") return { kind }
  const from: Partial<Extract<Pipeline.ExecutorChoice, { kind: "slurm" }>> = base.kind === "slurm" ? base : {}
  return { kind, partition: cli.partition ?? from.partition, account: cli.account ?? from.account, extraArgs: from.extraArgs }
}
