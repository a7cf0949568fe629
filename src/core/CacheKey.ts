/**
 * Cache keys: a typed record of everything a stage's result depends on, hashed.
 *
 * The record is kept (in the cache record and in lineage) so that `status` and `why` can say what
 * changed: which param, which module, which input or upstream stage, which environment field.
 * Inputs enter by content digest, so an upstream stage that reruns and produces identical bytes
 * leaves this key unchanged (early cutoff).
 */
import type * as Artifact from "./Artifact.ts"
import * as Digest from "./Digest.ts"
import type * as Fingerprint from "./Fingerprint.ts"

export interface InputRecord {
  readonly kind: Artifact.Kind
  readonly digest: string
  /** `stage.output` for stage outputs, the project path for project inputs. */
  readonly from: string
}

export interface KeyRecord {
  readonly stage: string
  readonly version: string | null
  readonly code: Fingerprint.Fingerprint
  readonly params: unknown
  readonly inputs: Readonly<Record<string, InputRecord>>
  readonly env: Readonly<Record<string, string>>
}

export type CacheKey = string

export const hash = (record: KeyRecord): CacheKey => Digest.ofJson(record)

export type Reason = "code" | "params" | "input" | "env" | "version"

export interface Change {
  readonly reason: Reason
  /** What changed: a module, package, param path, input name or env field. */
  readonly what: string
  readonly before: unknown
  readonly after: unknown
}

const same = (a: unknown, b: unknown) => Digest.canonicalJson(a) === Digest.canonicalJson(b)

const diffMaps = (
  reason: Reason,
  prefix: string,
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>
): Array<Change> =>
  [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
    .filter((k) => !same(before[k], after[k]))
    .map((k) => ({ reason, what: `${prefix}${k}`, before: before[k], after: after[k] }))

const flatten = (value: unknown, prefix = ""): Record<string, unknown> => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { [prefix]: value }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) Object.assign(out, flatten(v, prefix === "" ? k : `${prefix}.${k}`))
  return out
}

/** Field-by-field differences between the last key record and the current one. */
export const diff = (before: KeyRecord, after: KeyRecord): Array<Change> => [
  ...(before.version === after.version ? [] : [{ reason: "version" as const, what: "version", before: before.version, after: after.version }]),
  ...diffMaps("code", "", before.code.modules, after.code.modules),
  ...diffMaps("code", "package ", before.code.packages, after.code.packages),
  ...diffMaps("params", "", flatten(before.params), flatten(after.params)),
  ...diffMaps("input", "", before.inputs, after.inputs),
  ...diffMaps("env", "", before.env, after.env)
]

const show = (v: unknown): string => v === undefined ? "(none)" : typeof v === "string" ? v : JSON.stringify(v)

/** One line per change, e.g. `params lr: 0.1 -> 0.01`, `input data: from train.model (ab12… -> cd34…)`. */
export const describe = (c: Change): string => {
  switch (c.reason) {
    case "code":
      return c.before === undefined ? `code ${c.what}: added` : c.after === undefined ? `code ${c.what}: removed` : `code ${c.what} changed${c.what.startsWith("package ") ? `: ${show(c.before)} -> ${show(c.after)}` : ""}`
    case "input": {
      const b = c.before as InputRecord | undefined
      const a = c.after as InputRecord | undefined
      const from = a?.from ?? b?.from
      return `input ${c.what} (${from}): ${b === undefined ? "new" : Digest.short(b.digest)} -> ${a === undefined ? "removed" : Digest.short(a.digest)}`
    }
    default:
      return `${c.reason} ${c.what}: ${show(c.before)} -> ${show(c.after)}`
  }
}
