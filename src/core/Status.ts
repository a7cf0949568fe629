/**
 * Staleness: for each planned stage, whether its current key has a complete cached result, and if
 * not, why, by diffing the current key record against the stage's last execution in lineage.
 *
 * Reasons: `new` (never ran), `code`, `params`, `input`, `env`, `version`, `missing-output` (the
 * key is known but a blob it needs is gone). A stage below a stale stage cannot know its input
 * digests yet; its reason names the stale upstream stage.
 */
import { Effect } from "effect"
import * as CacheKey from "./CacheKey.ts"
import * as Lineage from "./Lineage.ts"
import * as Plan from "./Plan.ts"
import { StatCache } from "./StatCache.ts"
import { Store, type Stored } from "./Store.ts"

export type ReasonKind = "new" | "missing-output" | "forced" | CacheKey.Reason

export interface Reason {
  readonly reason: ReasonKind
  readonly detail: string
}

export interface StageState {
  readonly stage: string
  readonly state: "up-to-date" | "stale"
  /** The current key, when every input digest is known. */
  readonly key: string | null
  readonly record: CacheKey.KeyRecord | null
  readonly previous: Lineage.Execution | undefined
  readonly reasons: ReadonlyArray<Reason>
  readonly outputs: Readonly<Record<string, Stored>> | undefined
}

const fromChanges = (changes: ReadonlyArray<CacheKey.Change>): Array<Reason> =>
  changes.map((c) => ({ reason: c.reason, detail: CacheKey.describe(c) }))

/** The state of every stage of the plan, in topological order. */
export const inspect = Effect.fn("Status.inspect")(function*(plan: Plan.Plan, force: ReadonlySet<string> = new Set()) {
  const store = yield* Store
  const cache = yield* StatCache
  const db = yield* (yield* Lineage.Lineage).read
  const known = new Map<string, Readonly<Record<string, Stored>>>()
  const last = Lineage.lastExecutions(db, plan.loaded.file)
  const states: Array<StageState> = []
  for (const name of plan.order) {
    const planned = plan.stages.get(name)!
    const { records: inputs, unknown: missing } = yield* Effect.promise(() =>
      Plan.inputRecords(cache, plan.loaded.root, planned, (stage) => known.get(stage)))
    const unknown: Array<Reason> = missing.map((m) => ({ reason: "input", detail: `input ${m.input}: upstream stage ${m.stage} is stale` }))
    const previous = last(name)
    if (unknown.length > 0) {
      const partial = Plan.keyRecord(planned, {})
      const others = previous === undefined
        ? [{ reason: "new" as const, detail: "never ran" }]
        : fromChanges(CacheKey.diff({ ...previous.record, inputs: {} }, partial))
      states.push({ stage: name, state: "stale", key: null, record: null, previous, reasons: [...unknown, ...others], outputs: undefined })
      continue
    }
    const record = Plan.keyRecord(planned, inputs)
    const key = CacheKey.hash(record)
    const cached = store.readRecord(key)
    const complete = cached !== undefined && Object.values(cached.outputs).every(store.isComplete)
    if (complete && !force.has(name)) {
      known.set(name, cached.outputs)
      states.push({ stage: name, state: "up-to-date", key, record, previous, reasons: [], outputs: cached.outputs })
      continue
    }
    const reasons: Array<Reason> = force.has(name) ? [{ reason: "forced", detail: "forced with --force" }] : []
    if (cached !== undefined && !complete) {
      const missing = Object.entries(cached.outputs).filter(([, o]) => !store.isComplete(o)).map(([o]) => o)
      reasons.push({ reason: "missing-output", detail: `output ${missing.join(", ")} is missing from the store` })
    } else if (!force.has(name)) {
      if (previous === undefined) reasons.push({ reason: "new", detail: "never ran" })
      else if (previous.key === key) reasons.push({ reason: "missing-output", detail: "its cache record is missing from the store" })
      else reasons.push(...fromChanges(CacheKey.diff(previous.record, record)))
    }
    states.push({ stage: name, state: "stale", key, record, previous, reasons, outputs: undefined })
  }
  return states
})
