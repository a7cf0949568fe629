/**
 * The `pinkflow` command line: a thin adapter from arguments to the engine, and the composition
 * root where the store, lineage and stat-cache layers are built.
 *
 * User mistakes end as one line on stderr and exit code 2; failed stages as exit code 1; Ctrl-C
 * as 130. Every command takes `--json`.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Data, Effect, Layer, Option, Runtime } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Dag from "../core/Dag.ts"
import * as Engine from "../core/Engine.ts"
import * as Executor from "../core/Executor.ts"
import * as Lineage from "../core/Lineage.ts"
import * as Loader from "../core/Loader.ts"
import * as Maintenance from "../core/Maintenance.ts"
import * as Pipeline from "../core/Pipeline.ts"
import * as Query from "../core/Query.ts"
import * as Slurm from "../core/Slurm.ts"
import * as ProjectConfig from "../core/ProjectConfig.ts"
import { StatCache } from "../core/StatCache.ts"
import * as Status from "../core/Status.ts"
import { Store } from "../core/Store.ts"
import * as Substitute from "../core/Substitute.ts"
import * as Format from "./Format.ts"
import * as Init from "./Init.ts"
import * as Render from "./Render.ts"

// `pinkflow … | head` closes stdout early: that is not an error.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0)
  throw e
})

class CliExit extends Data.TaggedError("CliExit")<{ readonly code: number }> {
  override readonly [Runtime.errorExitCode] = this.code
}

const print = (line: string) => Effect.sync(() => void process.stdout.write(`${line}\n`))
const printJson = (value: unknown) => print(JSON.stringify(value))

/** What the one-line Ctrl-C message adds for the command that was running (set by `run`). */
let interruptNote = ""

/** Prints a one-line error and exits with `code`. */
const failWith = (code: number) => (e: { readonly message: string }) =>
  Effect.andThen(
    Effect.sync(() => void process.stderr.write(`pinkflow: ${e.message.split("\n")[0]}\n`)),
    Effect.fail(new CliExit({ code }))
  )

/** Exit codes by error: user mistakes are 2, the store and everything else 1. */
const handleErrors = <A, R>(effect: Effect.Effect<A, unknown, R>) =>
  effect.pipe(
    Effect.catch((e: unknown) => {
      if (e instanceof CliExit) return Effect.fail(e)
      const tag = (e as { _tag?: string })._tag
      const code = tag === "PipelineError" || tag === "QueryError" || tag === "ArgumentError" || tag === "ConfigError" ? 2 : 1
      return failWith(code)(e instanceof Error ? e : { message: String(e) })
    }),
    Effect.catchDefect((defect) => {
      // A file system refusal (an unwritable or odd store path) is the user's to fix: name the path.
      const sys = defect as NodeJS.ErrnoException
      if (defect instanceof Error && typeof sys.code === "string" && typeof sys.path === "string") {
        return failWith(1)({ message: `cannot use ${sys.path}: ${sys.code} (${sys.syscall ?? "file system"})` })
      }
      // Our own tagged errors (the store, the lineage database) say what went wrong themselves.
      if (defect instanceof Error && typeof (defect as { _tag?: unknown })._tag === "string") return failWith(1)(defect)
      return failWith(1)({ message: `internal error: ${defect instanceof Error ? defect.message : String(defect)}` })
    })
  )

class ArgumentError extends Data.TaggedError("ArgumentError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

/** A numeric flag's value checked against its range before anything is touched. */
const atLeast = (flag: string, value: number, min: number) =>
  value >= min ? Effect.void : Effect.fail(new ArgumentError({ detail: `--${flag} ${value}: expected an integer of at least ${min}` }))

// ---------------------------------------------------------------------------------------------
// Shared flags

const json = Flag.Boolean("json").pipe(Flag.withDescription("Print JSON (one object per line for run)"), Flag.withDefault(false))
const storeFlag = Flag.String("store").pipe(
  Flag.withDescription("Artifact store directory (default: $PINKFLOW_STORE, else <project>/artifacts)"),
  Flag.optional
)
const setFlag = Flag.String("set").pipe(
  Flag.withDescription("Override a param: stage.param=value (value parsed as JSON when it is JSON)"),
  Flag.atLeast(0)
)
const pipelineArg = Argument.String("pipeline").pipe(Argument.withDescription("A pipeline file, e.g. pipelines/pink.ts"))

const storeRoot = (flag: Option.Option<string>, near?: string): string =>
  Option.isSome(flag)
    ? path.resolve(flag.value)
    : process.env.PINKFLOW_STORE !== undefined && process.env.PINKFLOW_STORE !== ""
    ? path.resolve(process.env.PINKFLOW_STORE)
    : path.join(Loader.projectRoot(near === undefined ? path.join(process.cwd(), "x") : path.resolve(near)), "artifacts")

const substituteFlag = Flag.String("substitute").pipe(
  Flag.withDescription("A read-only directory of exported results to take cached results from (repeatable; also \"substitutes\" in pinkflow.config.json)"),
  Flag.atLeast(0)
)

const noSubstitutesFlag = Flag.Boolean("no-substitutes").pipe(
  Flag.withDescription("Take nothing from substitutes, not even pinkflow.config.json's: compute what the local store lacks"),
  Flag.withDefault(false)
)

const services = (root: string, substitutes: ReadonlyArray<string> = []) => {
  const store = Store.layer(root)
  return Layer.mergeAll(
    store,
    Substitute.Substitutes.layer(substitutes).pipe(Layer.provide(store)),
    Lineage.Lineage.layer(root),
    StatCache.layer(path.join(root, "statcache.json"))
  )
}

/**
 * The substitutes of a command: `--substitute` directories first, then the config file's; each must
 * be a directory (a mistyped one is a one-line error, not a silent miss). `--no-substitutes` takes
 * none (and refuses `--substitute` beside it).
 */
const substitutesOf = (flags: ReadonlyArray<string>, near: string | undefined, none = false) =>
  Effect.gen(function*() {
    if (none) {
      if (flags.length > 0) return yield* new ArgumentError({ detail: "--no-substitutes and --substitute contradict each other; give one" })
      return []
    }
    const root = Loader.projectRoot(near === undefined ? path.join(process.cwd(), "x") : path.resolve(near))
    const config = yield* ProjectConfig.load(root)
    const dirs = [...flags.map((d) => path.resolve(d)), ...config.substitutes]
    for (const d of dirs) {
      if (fs.statSync(d, { throwIfNoEntry: false })?.isDirectory() !== true) {
        return yield* new ArgumentError({ detail: `substitute ${d}: not a directory${config.substitutes.includes(d) ? ` (from ${config.file})` : ""}` })
      }
    }
    return [...new Set(dirs)]
  })

const parseSet = (pairs: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const out: Record<string, unknown> = {}
    for (const pair of pairs) {
      const eq = pair.indexOf("=")
      const dotted = eq < 0 ? pair : pair.slice(0, eq)
      if (eq < 0 || Pipeline.splitPath(dotted) === undefined) {
        return yield* new ArgumentError({ detail: `--set ${pair}: expected stage.param=value` })
      }
      const raw = pair.slice(eq + 1)
      let value: unknown = raw
      try {
        value = JSON.parse(raw)
      } catch {
        value = raw
      }
      out[dotted] = value
    }
    return out
  })

// ---------------------------------------------------------------------------------------------
// run

/** The worker-process entry, built beside this bundle. */
const WORKER = fileURLToPath(new URL("./worker.mjs", import.meta.url))
/** This bundle, which Slurm jobs run as `node <bundle> job <spec>`. */
const SELF = fileURLToPath(import.meta.url)

const run = Command.make("run", {
  pipeline: pipelineArg,
  set: setFlag,
  force: Flag.String("force").pipe(Flag.withDescription("Recompute this stage even if cached"), Flag.atLeast(0)),
  dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("Show what would run, run nothing"), Flag.withDefault(false)),
  concurrency: Flag.Int("concurrency").pipe(Flag.withDescription("Stages run at once (default: cores)"), Flag.withDefault(Executor.defaultConcurrency())),
  gpus: Flag.Int("gpus").pipe(Flag.withDescription("GPUs held at once by GPU stages"), Flag.withDefault(1)),
  keepGoing: Flag.Boolean("keep-going").pipe(Flag.withDescription("After a failure, finish the stages that do not depend on it"), Flag.withDefault(false)),
  backend: Flag.String("backend").pipe(
    Flag.withDescription("Tensor backend for training stages: auto, tensorflow-gpu, tensorflow, webgpu, wasm, cpu (sets PINKFLOW_BACKEND)"),
    Flag.optional
  ),
  isolate: Flag.Boolean("isolate").pipe(Flag.withDescription("Run every stage in its own worker process"), Flag.withDefault(false)),
  executor: Flag.Literals("executor", ["local", "slurm"]).pipe(
    Flag.withDescription("Where stages run: this machine, or one Slurm job per stage (default: pinkflow.config.json, then the pipeline file, then local)"),
    Flag.optional
  ),
  partition: Flag.String("partition").pipe(Flag.withDescription("Slurm partition (implies --executor slurm)"), Flag.optional),
  account: Flag.String("account").pipe(Flag.withDescription("Slurm account (implies --executor slurm)"), Flag.optional),
  verbose: Flag.Boolean("verbose").pipe(Flag.withDescription("Print stage logs"), Flag.withDefault(false)),
  substitute: substituteFlag,
  noSubstitutes: noSubstitutesFlag,
  json,
  store: storeFlag
}, (a) =>
  handleErrors(Effect.gen(function*() {
    yield* atLeast("concurrency", a.concurrency, 1)
    yield* atLeast("gpus", a.gpus, 1)
    interruptNote = " (completed stages are kept; run again to continue)"
    const set = yield* parseSet(a.set)
    const substitutes = yield* substitutesOf(a.substitute, a.pipeline, a.noSubstitutes)
    // Stages read the backend through their declared environment, so it enters their cache keys.
    if (Option.isSome(a.backend)) process.env.PINKFLOW_BACKEND = a.backend.value
    const emit = a.json ? Render.jsonEvents((l) => process.stdout.write(`${l}\n`)) : Render.textEvents((l) => process.stdout.write(`${l}\n`), { verbose: a.verbose })
    const outcomes = yield* Engine.run(a.pipeline, {
      set,
      force: a.force,
      dryRun: a.dryRun,
      concurrency: a.concurrency,
      gpus: a.gpus,
      keepGoing: a.keepGoing,
      worker: WORKER,
      isolateAll: a.isolate,
      executor: {
        ...(Option.isSome(a.executor) ? { kind: a.executor.value } : {}),
        ...(Option.isSome(a.partition) ? { partition: a.partition.value } : {}),
        ...(Option.isSome(a.account) ? { account: a.account.value } : {})
      },
      cli: SELF,
      emit
    }).pipe(Effect.provide(services(storeRoot(a.store, a.pipeline), substitutes)))
    // One line on stderr names the first failure (the stage lines above name every one).
    const failures = outcomes.flatMap((o) => [...o.stages].filter(([, r]) => r.status === "failed").map(([, r]) => r.error ?? "failed"))
    if (failures.length > 0) {
      const more = failures.length > 1 ? ` (and ${failures.length - 1} more failed stage${failures.length > 2 ? "s" : ""})` : ""
      return yield* failWith(1)({ message: `${failures[0]}${more}` })
    }
    if (outcomes.some((o) => o.status === "failed")) return yield* new CliExit({ code: 1 })
  }))).pipe(Command.withDescription("Run a pipeline: recompute only the stages whose code, params, inputs or environment changed"))

// ---------------------------------------------------------------------------------------------
// status / why / dag

const status = Command.make("status", { pipeline: pipelineArg, set: setFlag, substitute: substituteFlag, noSubstitutes: noSubstitutesFlag, json, store: storeFlag }, (a) =>
  handleErrors(Effect.gen(function*() {
    const set = yield* parseSet(a.set)
    const substitutes = yield* substitutesOf(a.substitute, a.pipeline, a.noSubstitutes)
    const variants = yield* Engine.inspect(a.pipeline, set).pipe(Effect.provide(services(storeRoot(a.store, a.pipeline), substitutes)))
    for (const { states } of variants) {
      for (const s of states) for (const w of s.warnings) yield* Effect.sync(() => void process.stderr.write(`pinkflow: warning: stage ${s.stage}: ${w}\n`))
    }
    for (const { plan, states } of variants) {
      if (a.json) {
        yield* printJson({
          pipeline: plan.loaded.file,
          variant: plan.variant.label,
          stages: states.map((s) => ({ stage: s.stage, state: s.state, key: s.key, reasons: s.reasons, ...(s.substitute === undefined ? {} : { substitute: s.substitute }), warnings: s.warnings }))
        })
        continue
      }
      if (plan.variant.label !== "") yield* print(`[${plan.variant.label}]`)
      const width = Math.max(...states.map((s) => s.stage.length))
      for (const s of states) {
        const state = s.substitute === undefined ? s.state : `${s.state} (substitute ${s.substitute})`
        const head = `${s.stage.padEnd(width)}  ${state.padEnd(10)}`
        yield* print(s.reasons.length === 0 ? head.trimEnd() : `${head}  ${s.reasons.map(Status.describe).join("; ")}`)
      }
    }
  }))).pipe(Command.withDescription("Say which stages are up to date, and why the others are stale"))

const why = Command.make("why", {
  pipeline: pipelineArg,
  stage: Argument.String("stage"),
  set: setFlag,
  json,
  store: storeFlag
}, (a) =>
  handleErrors(Effect.gen(function*() {
    const set = yield* parseSet(a.set)
    const [first] = yield* Engine.inspect(a.pipeline, set).pipe(Effect.provide(services(storeRoot(a.store, a.pipeline))))
    const state = first!.states.find((s) => s.stage === a.stage)
    if (state === undefined) {
      return yield* new Dag.PipelineError({ reason: "params", file: first!.plan.loaded.file, detail: `no stage named "${a.stage}"` })
    }
    const previous = state.previous?.record ?? null
    if (a.json) {
      return yield* printJson({ stage: a.stage, state: state.state, key: state.key, previousKey: state.previous?.key ?? null, previous, current: state.record, reasons: state.reasons })
    }
    yield* print(`${a.stage}: ${state.state}`)
    yield* print(`  last run   ${state.previous === undefined ? "(never)" : `${state.previous.key} (run ${state.previous.run})`}`)
    yield* print(`  current    ${state.key ?? "(unknown until upstream stages run)"}`)
    for (const r of state.reasons) yield* print(`  ${r.reason.padEnd(14)} ${r.detail}`)
    const current = state.record
    if (previous !== null && current !== null) {
      const lines = Format.sideBySide(previous, current)
      for (const l of lines) yield* print(l)
    }
  }))).pipe(Command.withDescription("Show a stage's key record from its last run beside the current one, diffed"))

const dag = Command.make("dag", {
  pipeline: pipelineArg,
  format: Flag.Literals("format", ["text", "dot", "mermaid", "json"]).pipe(Flag.withDefault("text")),
  json
}, (a) =>
  handleErrors(Effect.gen(function*() {
    const loaded = yield* Loader.load(a.pipeline)
    const built = Dag.make(loaded.pipeline, loaded.file, loaded.root)
    if (!built.ok) return yield* built.error
    yield* print(Format.render(built.dag, built.order, a.json ? "json" : a.format))
  }))).pipe(Command.withDescription("Print the pipeline's DAG as text, Graphviz dot, Mermaid or JSON"))

// ---------------------------------------------------------------------------------------------
// lineage / runs / show / compare / pin

const withDb = <A, E>(store: Option.Option<string>, f: (db: Lineage.Database) => Effect.Effect<A, E, Store | Substitute.Substitutes>, substitutes: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const db = yield* (yield* Lineage.Lineage).read
    // What the substitutes computed counts as known lineage too (local knowledge wins).
    return yield* f(substitutes.length === 0 ? db : Substitute.lineage(substitutes, db))
  }).pipe(Effect.provide(services(storeRoot(store), substitutes)))

const lineage = Command.make("lineage", {
  subject: Argument.String("artifact").pipe(Argument.withDescription("A digest (or prefix) or stage.output")),
  down: Flag.Boolean("down").pipe(Flag.withDescription("Show what derives from the artifact"), Flag.withDefault(false)),
  substitute: substituteFlag,
  json,
  store: storeFlag
}, (a) =>
  handleErrors(Effect.flatMap(substitutesOf(a.substitute, undefined), (substitutes) => withDb(a.store, (db) =>
    Effect.gen(function*() {
      const digest = yield* Query.resolve(db, a.subject)
      if (a.json) return yield* printJson(Query.graph(db, digest, a.down ? "down" : "up"))
      if (a.down) {
        const tree = Query.downstream(db, digest)
        yield* print(`${digest}`)
        for (const l of Format.downstreamLines(tree, "  ")) yield* print(l)
        if (tree.length === 0) yield* print("  (nothing derives from it)")
        return
      }
      const up = Query.upstream(db, digest, db.artifacts[digest]?.kind)
      for (const l of Format.upstreamLines(up, "")) yield* print(l)
    }), substitutes)))).pipe(Command.withDescription("Say what produced an artifact (recursively), or with --down what derives from it"))

const pathCommand = Command.make("path", {
  subject: Argument.String("artifact").pipe(Argument.withDescription("A digest (or prefix) or stage.output")),
  substitute: substituteFlag,
  json,
  store: storeFlag
}, (a) =>
  handleErrors(Effect.flatMap(substitutesOf(a.substitute, undefined), (substitutes) => withDb(a.store, (db) =>
    Effect.gen(function*() {
      const store = yield* Store
      const digest = yield* Query.resolve(db, a.subject)
      const kind = db.artifacts[digest]?.kind ?? "file"
      // Not here yet: take its producer's result from a substitute (verified, into the store).
      const producer = db.artifacts[digest]?.producer.key
      if (!store.isComplete({ kind, digest }) && producer !== undefined) {
        yield* (yield* Substitute.Substitutes).lookup(producer, (w) => void process.stderr.write(`pinkflow: warning: ${w}\n`))
      }
      const where = kind === "directory" || kind === "model" ? yield* store.materialize(digest) : store.blobPath(digest)
      yield* a.json ? printJson({ digest, kind, path: where }) : print(where)
    }), substitutes)))).pipe(Command.withDescription("Print where an artifact can be read (a directory is materialised, read-only)"))

// ---------------------------------------------------------------------------------------------
// init

const init = Command.make("init", {
  dir: Argument.String("dir").pipe(Argument.withDescription("The project directory (default: the current one)"), Argument.optional),
  json
}, (a) =>
  handleErrors(Effect.gen(function*() {
    const dir = Option.getOrElse(a.dir, () => ".")
    if (fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory() === false) return yield* new ArgumentError({ detail: `${dir}: not a directory` })
    fs.mkdirSync(dir, { recursive: true })
    const r = Init.scaffold(dir)
    if (!r.ok) return yield* new ArgumentError({ detail: `${r.existing.join(", ")} already exist${r.existing.length === 1 ? "s" : ""} in ${dir}; nothing was written` })
    if (a.json) return yield* printJson(r.result)
    yield* print(`created ${r.result.created.join(", ")}`)
    yield* print(`next: ${dir === "." ? "" : `cd ${dir} && `}${r.result.next}`)
  }))).pipe(Command.withDescription("Scaffold a two-stage pipeline, its stages, a data file and a test in a project"))

// ---------------------------------------------------------------------------------------------
// export

const exportCommand = Command.make("export", {
  pipeline: pipelineArg,
  stages: Flag.String("stages").pipe(Flag.withDescription("Comma-separated stages to export (default: every stage)"), Flag.optional),
  set: setFlag,
  to: Flag.String("to").pipe(Flag.withDescription("The export directory: created if new, merged with an earlier export")),
  substitute: substituteFlag,
  json,
  store: storeFlag
}, (a) =>
  handleErrors(Effect.gen(function*() {
    const set = yield* parseSet(a.set)
    const substitutes = yield* substitutesOf(a.substitute, a.pipeline)
    if (fs.statSync(a.to, { throwIfNoEntry: false })?.isDirectory() === false) return yield* new ArgumentError({ detail: `--to ${a.to}: not a directory` })
    const layer = services(storeRoot(a.store, a.pipeline), substitutes)
    const variants = yield* Engine.inspect(a.pipeline, set).pipe(Effect.provide(layer))
    const names = new Set(variants.flatMap((v) => v.states.map((s) => s.stage)))
    const wanted = Option.isSome(a.stages) ? a.stages.value.split(",").map((s) => s.trim()).filter((s) => s !== "") : [...names]
    if (Option.isSome(a.stages) && wanted.length === 0) return yield* new ArgumentError({ detail: `--stages ${a.stages.value}: names no stage` })
    const unknown = wanted.find((s) => !names.has(s))
    if (unknown !== undefined) return yield* new ArgumentError({ detail: `--stages ${unknown}: no stage named "${unknown}" in ${a.pipeline}` })
    const entries: Array<Substitute.Entry> = []
    for (const { states } of variants) {
      for (const s of states.filter((x) => wanted.includes(x.stage))) {
        if (s.state !== "up-to-date") return yield* new ArgumentError({ detail: `stage ${s.stage} is not computed for the current code, params and inputs (${s.state}); run the pipeline first` })
        entries.push({ stage: s.stage, key: s.key!, outputs: s.outputs! })
      }
    }
    const r = yield* Substitute.exportTo(a.to, entries).pipe(Effect.provide(layer))
    yield* a.json ? printJson({ ...r, to: path.resolve(a.to) }) : print(`exported ${r.entries} stage results to ${a.to} (${r.objects} objects copied, ${mib(r.bytes)})`)
  }))).pipe(Command.withDescription("Write the current results of a pipeline's stages (records and objects) to a directory others can use as a substitute"))

const runs = Command.make("runs", { json, store: storeFlag }, (a) =>
  handleErrors(withDb(a.store, (db) =>
    Effect.gen(function*() {
      const list = Lineage.runsNewestFirst(db)
      if (a.json) return yield* printJson(list.map(({ stages, ...r }) => ({ ...r, status: Lineage.effectiveStatus({ ...r, stages }), counts: countStatuses(stages) })))
      yield* print(Render.table(
        ["run", "pipeline", "variant", "status", "ran", "cached", "failed", "started", "pinned"],
        list.map((r) => {
          const c = countStatuses(r.stages)
          return [r.id, r.pipeline, Pipeline.describeVariant(r) || "-", Lineage.effectiveStatus(r), String(c.ran), String(c.cached), String(c.failed), r.startedAt, r.pinned ? "yes" : ""]
        })
      ))
    })))).pipe(Command.withDescription("List runs, newest first"))

const countStatuses = (stages: Readonly<Record<string, Lineage.StageInRun>>) => {
  const c = { ran: 0, cached: 0, failed: 0, skipped: 0, interrupted: 0 }
  for (const s of Object.values(stages)) c[s.status]++
  return c
}

const findRun = (db: Lineage.Database, id: string) => {
  const r = Lineage.findRun(db, id)
  return r === undefined
    ? Effect.fail(new Query.QueryError({ subject: id, detail: "no such run (see pinkflow runs)" }))
    : Effect.succeed(r)
}

const show = Command.make("show", { run: Argument.String("run"), json, store: storeFlag }, (a) =>
  handleErrors(withDb(a.store, (db) =>
    Effect.gen(function*() {
      const r = yield* findRun(db, a.run)
      if (a.json) return yield* printJson(r)
      const variant = Pipeline.describeVariant(r)
      yield* print(`run ${r.id}  ${r.pipeline}  ${Lineage.effectiveStatus(r)}${variant === "" ? "" : `  [${variant}]`}`)
      yield* print(`started ${r.startedAt}, finished ${r.finishedAt ?? "-"}${r.pinned ? ", pinned" : ""}`)
      yield* print(Render.table(
        ["stage", "status", "key", "time", "outputs"],
        Object.entries(r.stages).map(([s, x]) => [
          s,
          x.substitute === undefined ? x.status : `${x.status} (substitute ${x.substitute})`,
          x.key === null ? "-" : x.key.slice(0, 12),
          x.status === "ran" ? `${(x.durationMs / 1000).toFixed(2)}s` : "-",
          x.error === undefined ? Object.entries(x.outputs).map(([o, d]) => `${o}=${d.digest.slice(0, 12)}`).join(" ") : Render.firstLine(x.error)
        ])
      ))
      // Whole errors below the table, indented, so a multi-line one cannot break it.
      for (const [s, x] of Object.entries(r.stages)) {
        if (x.error === undefined || !x.error.includes("\n")) continue
        yield* print(`\n${s}:`)
        for (const line of x.error.split("\n")) yield* print(`  ${line}`)
      }
    })))).pipe(Command.withDescription("Show one run: each stage's status, key and outputs"))

const compare = Command.make("compare", {
  runs: Argument.String("run").pipe(Argument.variadic({ min: 1 })),
  all: Flag.Boolean("all").pipe(Flag.withDescription("Also list rows that are equal in every run"), Flag.withDefault(false)),
  json,
  store: storeFlag
}, (a) =>
  handleErrors(withDb(a.store, (db) =>
    Effect.gen(function*() {
      const c = yield* Query.compare(db, a.runs)
      if (a.json) return yield* printJson(c)
      const rows = c.rows.filter((r) => a.all || r.differs || r.section === "metric")
      yield* print(Render.table(
        ["", "", ...c.runs.map((r) => r.id)],
        [
          ["", "pipeline", ...c.runs.map((r) => r.pipeline)],
          ["", "variant", ...c.runs.map((r) => r.variant || "-")],
          ...rows.map((r) => [r.differs ? "*" : "", `${r.section} ${r.name}`, ...r.values.map(Render.show)])
        ]
      ))
      yield* print("* differs between runs")
    })))).pipe(Command.withDescription("Print params and metrics of runs side by side, differences marked"))

const pinCommand = (name: "pin" | "unpin") =>
  Command.make(name, { run: Argument.String("run"), json, store: storeFlag }, (a) =>
    handleErrors(Effect.gen(function*() {
      const lineageDb = yield* Lineage.Lineage
      const id = yield* lineageDb.update((db) => {
        const r = Lineage.findRun(db, a.run)
        if (r !== undefined) r.pinned = name === "pin"
        return r?.id
      })
      if (id === undefined) return yield* new Query.QueryError({ subject: a.run, detail: "no such run (see pinkflow runs)" })
      yield* a.json ? printJson({ run: id, pinned: name === "pin" }) : print(`${name === "pin" ? "pinned" : "unpinned"} ${id}`)
    }).pipe(Effect.provide(services(storeRoot(a.store)))))).pipe(
    Command.withDescription(name === "pin" ? "Keep a run's artifacts through gc" : "Let gc free a run's artifacts again")
  )

// ---------------------------------------------------------------------------------------------
// gc / verify

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

const gc = Command.make("gc", {
  dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("Say what would be freed, free nothing"), Flag.withDefault(false)),
  keep: Flag.Int("keep-runs").pipe(Flag.withDescription("Recent runs whose artifacts are kept"), Flag.withDefault(10)),
  json,
  store: storeFlag
}, (a) =>
  handleErrors(Effect.gen(function*() {
    yield* atLeast("keep-runs", a.keep, 0)
    const r = yield* Maintenance.gc({ keepRuns: a.keep, dryRun: a.dryRun }).pipe(Effect.provide(services(storeRoot(a.store))))
    if (a.json) return yield* printJson(r)
    yield* print(`${a.dryRun ? "would free" : "freed"} ${r.objects} objects (${mib(r.bytes)}), ${r.records} cache records, ${r.trees} trees, ${r.temporaries} abandoned temporaries; kept what ${r.keptRuns} runs reference`)
  }))).pipe(Command.withDescription("Free what neither recent runs nor pinned runs reference"))

const verify = Command.make("verify", {
  repair: Flag.Boolean("repair").pipe(Flag.withDescription("Delete corrupt objects and the cache records that need them; rebuild a damaged lineage database"), Flag.withDefault(false)),
  substitute: Flag.String("substitute").pipe(Flag.withDescription("Check an export directory instead of the store (read-only; repeatable)"), Flag.atLeast(0)),
  json,
  store: storeFlag
}, (a) =>
  handleErrors(Effect.gen(function*() {
    if (a.substitute.length > 0) {
      let problems = 0
      for (const dir of a.substitute) {
        if (fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true) return yield* new ArgumentError({ detail: `--substitute ${dir}: not a directory` })
        const r = yield* Substitute.verifyDirectory(dir)
        problems += r.problems.length
        if (a.json) yield* printJson({ ...r, ok: r.problems.length === 0 })
        else {
          yield* print(`${dir}: checked ${r.entries} records and ${r.objects} objects`)
          for (const p of r.problems) yield* print(`  ${p}`)
          yield* print(r.problems.length === 0 ? "ok" : `${r.problems.length} problems (a run skips the entries they affect and computes those stages)`)
        }
      }
      if (problems > 0) return yield* new CliExit({ code: 1 })
      return
    }
    const r = yield* Maintenance.verify({ repair: a.repair }).pipe(Effect.provide(services(storeRoot(a.store))))
    const problems = r.corrupt.length + r.missing.length + r.unreadableRecords.length + (r.lineage === null ? 0 : 1)
    if (a.json) yield* printJson({ ...r, ok: problems === 0 })
    else {
      yield* print(`checked ${r.objects} objects (${mib(r.bytes)})`)
      for (const d of r.corrupt) yield* print(`corrupt object ${d}: its content does not match its digest`)
      for (const m of r.missing) yield* print(`missing: ${m.stage}.${m.output} (key ${m.key.slice(0, 12)}) needs ${m.digest.slice(0, 12)}`)
      for (const f of r.unreadableRecords) yield* print(`unreadable cache record ${f}`)
      if (r.lineage !== null) yield* print(`lineage database: ${r.lineage}`)
      if (r.lineageMovedTo !== null) yield* print(`lineage database moved to ${r.lineageMovedTo} and rebuilt from the cache records (run history starts afresh)`)
      yield* print(problems === 0 ? "ok" : r.repaired ? `${problems} problems repaired: the next run recomputes what they affected` : `${problems} problems (pinkflow verify --repair removes them)`)
    }
    if (problems > 0 && !r.repaired) return yield* new CliExit({ code: 1 })
  }))).pipe(Command.withDescription("Rehash the store; report corrupt or missing objects"))

// ---------------------------------------------------------------------------------------------
// job (what a Slurm job runs)

const job = Command.make("job", {
  spec: Argument.String("spec").pipe(Argument.withDescription("The job file the Slurm executor wrote")),
  store: storeFlag
}, (a) =>
  handleErrors(Effect.gen(function*() {
    const result = yield* Slurm.runJob(a.spec, (e) => {
      if (e._tag === "StageLog") process.stdout.write(`${e.line}\n`)
    }).pipe(Effect.provide(services(storeRoot(a.store))))
    if (result.status === "failed") return yield* failWith(1)({ message: result.error })
    yield* print(result.status === "ran" ? `pinkflow: computed ${result.execution.stage} (key ${result.execution.key.slice(0, 12)})` : `pinkflow: already stored (key ${result.key.slice(0, 12)})`)
  }))).pipe(Command.withDescription("Compute one stage key against the store (run by the Slurm executor's jobs)"))

// ---------------------------------------------------------------------------------------------
// ui

/** The explorer's static files, built beside this bundle. */
const UI_APP = fileURLToPath(new URL("./ui/", import.meta.url))

const ui = Command.make("ui", {
  port: Flag.Int("port").pipe(Flag.withDescription("Port to listen on (0: any free port)"), Flag.withDefault(4800)),
  host: Flag.String("host").pipe(Flag.withDescription("Address to listen on (loopback unless you choose otherwise)"), Flag.withDefault("127.0.0.1")),
  store: storeFlag
}, (a) =>
  handleErrors(Effect.scoped(Effect.gen(function*() {
    if (a.port < 0 || a.port > 65535) return yield* new ArgumentError({ detail: `--port ${a.port}: expected a port from 0 to 65535` })
    const UiServer = yield* Effect.promise(() => import("../ui/Server.ts"))
    const server = yield* UiServer.serve({ storeRoot: storeRoot(a.store), projectRoot: process.cwd(), host: a.host, port: a.port, appDir: UI_APP })
    yield* print(`pinkflow ui: ${server.url}  (store ${storeRoot(a.store)}; Ctrl-C stops it)`)
    return yield* Effect.never
  })))).pipe(Command.withDescription("Serve the lineage explorer: the DAG, runs, lineage, metrics and predictions in a browser"))

// ---------------------------------------------------------------------------------------------

const pinkflow = Command.make("pinkflow").pipe(
  Command.withDescription("Typed, cached, content-addressed experiment pipelines"),
  Command.withSubcommands([init, run, status, why, dag, lineage, pathCommand, exportCommand, runs, show, compare, pinCommand("pin"), pinCommand("unpin"), gc, verify, ui, job])
)

/**
 * What Effect CLI writes with `Console.log` (help, version, completions), held back until it is
 * known whether the arguments were bad: then the help is dropped and one line names the problem.
 */
const held: Array<string> = []
const holdingConsole: Console.Console = { ...globalThis.console, log: (...args: ReadonlyArray<unknown>) => void held.push(args.map(String).join(" ")) }
const release = Effect.sync(() => {
  if (held.length > 0) process.stdout.write(`${held.splice(0).join("\n")}\n`)
})

pinkflow.pipe(
  Command.run({ version: "0.1.0", renderErrors: false }),
  Effect.provideService(Console.Console, holdingConsole),
  // Ctrl-C: one line, then exit 130. A run keeps every stage it completed.
  Effect.onInterrupt(() => Effect.sync(() => void process.stderr.write(`pinkflow: interrupted${interruptNote}\n`))),
  // Bad arguments: the help Effect CLI prepared is dropped; one line on stderr and exit 2 like
  // every user mistake. Asked-for help (`--help`, no subcommand) is printed.
  Effect.catchIf((e) => (e as { _tag?: string })._tag === "ShowHelp", (e) => {
    const errors = (e as unknown as { errors: ReadonlyArray<{ readonly message: string }> }).errors
    if (errors.length === 0) return Effect.void
    held.length = 0
    return failWith(2)({ message: errors.map((x) => x.message.replace(/\s+/g, " ").trim()).join("; ") })
  }),
  Effect.ensuring(release),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
