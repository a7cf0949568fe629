/**
 * Staleness: for each planned stage, whether its current key has a complete cached result, and if
 * not, why, by diffing the current key record against the stage's last execution in lineage.
 *
 * Reasons: `new` (never ran), `code`, `params`, `input`, `env`, `version`, `missing-output` (the
 * key is known but a blob it needs is gone).
 *
 * A stage below a stale stage cannot know its input digests until that stage has run. Its key is
 * tried with the outputs the stale stage last produced: if that key is cached, the stage `may-run`
 * (it reruns only if the upstream output changes); otherwise it is `stale` for its own reasons
 * (measured against that assumed key) besides the stale upstream.
 */
import { Effect } from "effect"
import * as CacheKey from "./CacheKey.ts"
import * as Lineage from "./Lineage.ts"
import * as Plan from "./Plan.ts"
import { StatCache } from "./StatCache.ts"
import { Store, type Stored } from "./Store.ts"
import { Substitutes } from "./Substitute.ts"

export type ReasonKind = "new" | "missing-output" | "forced" | CacheKey.Reason

export interface Reason {
  readonly reason: ReasonKind
  readonly detail: string
}

export interface StageState {
  readonly stage: string
  /** `stale`: will run; `may-run`: runs only if a stale upstream stage's output changes. */
  readonly state: "up-to-date" | "stale" | "may-run"
  /** The current key, when every input digest is known. */
  readonly key: string | null
  readonly record: CacheKey.KeyRecord | null
  readonly previous: Lineage.Execution | undefined
  readonly reasons: ReadonlyArray<Reason>
  readonly outputs: Readonly<Record<string, Stored>> | undefined
  /** The substitute its cached result was taken from, if it was. */
  readonly substitute?: string | undefined
  /** Substitute entries for its key that failed their checks (each was skipped). */
  readonly warnings: ReadonlyArray<string>
}

/** A reason in one line, its kind named once: `params lr: 0.1 -> 0.01`, `new: never ran`. */
export const describe = (r: Reason): string => r.detail.startsWith(r.reason) ? r.detail : `${r.reason}: ${r.detail}`

const fromChanges = (changes: ReadonlyArray<CacheKey.Change>): Array<Reason> =>
  changes.map((c) => ({ reason: c.reason, detail: CacheKey.describe(c) }))

/** The state of every stage of the plan, in topological order. */
export const inspect = Effect.fn("Status.inspect")(function*(plan: Plan.Plan, force: ReadonlySet<string> = new Set()) {
  const store = yield* Store
  const substitutes = yield* Substitutes
  const cache = yield* StatCache
  const db = yield* (yield* Lineage.Lineage).read
  const known = new Map<string, Readonly<Record<string, Stored>>>()
  // Outputs if every stale stage reproduces what it produced last (known ones included).
  const assumed = new Map<string, Readonly<Record<string, Stored>>>()
  const last = Lineage.lastExecutions(db, plan.loaded.file)
  const states: Array<StageState> = []
  const stateOf = new Map<string, StageState["state"]>()
  const warnings = new Map<string, Array<string>>()
  const complete = (stage: string, key: string) =>
    substitutes.lookup(key, (message) => warnings.set(stage, [...(warnings.get(stage) ?? []), message]))
  const warned = (stage: string) => warnings.get(stage) ?? []
  const add = (state: Omit<StageState, "warnings">) => {
    stateOf.set(state.stage, state.state)
    states.push({ ...state, warnings: warned(state.stage) })
  }
  for (const name of plan.order) {
    const planned = plan.stages.get(name)!
    const { records: inputs, unknown: missing } = yield* Effect.promise(() =>
      Plan.inputRecords(cache, plan.loaded.root, planned, (stage) => known.get(stage)))
    const previous = last(name)
    if (missing.length > 0) {
      const { records: guessed, unknown: unguessable } = yield* Effect.promise(() =>
        Plan.inputRecords(cache, plan.loaded.root, planned, (stage) => assumed.get(stage)))
      const guess = unguessable.length === 0 ? Plan.keyRecord(planned, guessed) : undefined
      const outputs = guess === undefined || force.has(name) ? undefined : (yield* complete(name, CacheKey.hash(guess)))?.outputs
      const upstream = (then: string): Array<Reason> =>
        missing.map((m) => ({ reason: "input", detail: `input ${m.input}: upstream stage ${m.stage} ${stateOf.get(m.stage) === "may-run" ? "may run" : "will run"}${then}` }))
      if (outputs !== undefined) {
        assumed.set(name, outputs)
        add({ stage: name, state: "may-run", key: null, record: null, previous, reasons: upstream("; cached if its output is unchanged"), outputs: undefined })
        continue
      }
      const stale = new Set(missing.map((m) => m.input))
      const own = force.has(name) ? [{ reason: "forced" as const, detail: "forced with --force" }]
        : previous === undefined ? [{ reason: "new" as const, detail: "never ran" }]
        : guess === undefined ? fromChanges(CacheKey.diff({ ...previous.record, inputs: {} }, Plan.keyRecord(planned, {})))
        : fromChanges(CacheKey.diff(previous.record, guess).filter((c) => !(c.reason === "input" && stale.has(c.what))))
      if (previous !== undefined) assumed.set(name, previous.outputs)
      add({ stage: name, state: "stale", key: null, record: null, previous, reasons: [...upstream(""), ...own], outputs: undefined })
      continue
    }
    const record = Plan.keyRecord(planned, inputs)
    const key = CacheKey.hash(record)
    const hit = force.has(name) ? undefined : yield* complete(name, key)
    if (hit !== undefined) {
      known.set(name, hit.outputs)
      assumed.set(name, hit.outputs)
      add({ stage: name, state: "up-to-date", key, record, previous, reasons: [], outputs: hit.outputs, substitute: hit.substitute })
      continue
    }
    const cached = store.readRecord(key)
    const reasons: Array<Reason> = force.has(name) ? [{ reason: "forced", detail: "forced with --force" }] : []
    if (cached !== undefined && !Object.values(cached.outputs).every(store.isComplete)) {
      const missing = Object.entries(cached.outputs).filter(([, o]) => !store.isComplete(o)).map(([o]) => o)
      reasons.push({ reason: "missing-output", detail: `output ${missing.join(", ")} is missing from the store` })
    } else if (!force.has(name)) {
      if (previous === undefined) reasons.push({ reason: "new", detail: "never ran" })
      else if (previous.key === key) reasons.push({ reason: "missing-output", detail: "its cache record is missing from the store" })
      else reasons.push(...fromChanges(CacheKey.diff(previous.record, record)))
    }
    if (previous !== undefined) assumed.set(name, previous.outputs)
    add({ stage: name, state: "stale", key, record, previous, reasons, outputs: undefined })
  }
  return states
})
