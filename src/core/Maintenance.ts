/**
 * Store maintenance: `verify` rehashes every object and checks that every cache record's blobs
 * exist; `gc` frees what neither the most recent runs nor pinned runs reference.
 */
import { Data, Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Artifact from "./Artifact.ts"
import * as Digest from "./Digest.ts"
import { Lineage } from "./Lineage.ts"
import * as Lock from "./Lock.ts"
import { Store, type CacheRecord } from "./Store.ts"

export class MaintenanceError extends Data.TaggedError("MaintenanceError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

const walk = (dir: string): Array<string> => {
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
}

const records = (root: string): Array<CacheRecord & { readonly file: string }> =>
  walk(path.join(root, "cache")).filter((f) => f.endsWith(".json")).flatMap((file) => {
    try {
      return [{ ...(JSON.parse(fs.readFileSync(file, "utf8")) as CacheRecord), file }]
    } catch {
      return []
    }
  })

export interface VerifyReport {
  readonly objects: number
  readonly bytes: number
  readonly corrupt: ReadonlyArray<string>
  readonly missing: ReadonlyArray<{ readonly key: string; readonly stage: string; readonly output: string; readonly digest: string }>
  readonly unreadableRecords: ReadonlyArray<string>
  /** Why the lineage database cannot be read, if it cannot. */
  readonly lineage: string | null
  /** With `repair`, where the damaged database was moved before it was rebuilt from the records. */
  readonly lineageMovedTo: string | null
  readonly repaired: boolean
}

/** Materialised trees hard-link their blobs: drops every tree that is or holds one of `gone`. */
const dropTrees = (store: Store["Service"], gone: ReadonlySet<string>) => {
  const treeDir = path.join(store.root, "trees")
  for (const name of fs.existsSync(treeDir) ? fs.readdirSync(treeDir) : []) {
    const holds = gone.has(name) || (store.manifest(name)?.entries.some(([, d]) => gone.has(d)) ?? true)
    if (holds) fs.rmSync(path.join(treeDir, name), { recursive: true, force: true })
  }
}

/**
 * Removes objects that can no longer be trusted (e.g. a stage wrote into one it was given), the
 * cache records whose outputs are or hold them, and the materialised trees that hold them, so the
 * store stays consistent and the next run recomputes exactly those results. Returns the stages
 * whose results were dropped.
 */
export const evict = (store: Store["Service"], digests: ReadonlyArray<string>): Array<string> => {
  const bad = new Set(digests)
  for (const d of bad) fs.rmSync(store.blobPath(d), { force: true })
  const needs = (o: { readonly kind: Artifact.Kind; readonly digest: string }) =>
    bad.has(o.digest) || (Artifact.isTreeKind(o.kind) && (store.manifest(o.digest)?.entries.some(([, d]) => bad.has(d)) ?? true))
  const dropped = records(store.root).filter((r) => Object.values(r.outputs).some(needs))
  for (const r of dropped) fs.rmSync(r.file, { force: true })
  dropTrees(store, new Set([...bad, ...dropped.flatMap((r) => Object.values(r.outputs).map((o) => o.digest))]))
  return [...new Set(dropped.map((r) => r.record.stage))].sort()
}

/** Rehashes every object. With `repair`, deletes corrupt objects and every cache record that
 * needs a missing or corrupt object, so the next run recomputes exactly those results. */
export const verify = Effect.fn("Maintenance.verify")(function*(options: { readonly repair: boolean } = { repair: false }) {
  const store = yield* Store
  const corrupt: Array<string> = []
  let bytes = 0
  const objects = walk(path.join(store.root, "objects")).filter((f) => Digest.isDigest(path.basename(f)))
  for (const file of objects) {
    const { digest, size } = yield* Effect.promise(() => Digest.ofFile(file))
    bytes += size
    if (digest !== path.basename(file)) corrupt.push(path.basename(file))
  }
  const all = walk(path.join(store.root, "cache")).filter((f) => f.endsWith(".json"))
  const good = records(store.root)
  const unreadableRecords = all.filter((f) => !good.some((r) => r.file === f)).map((f) => path.relative(store.root, f))
  const bad = new Set(corrupt)
  const holdsBad = (o: { readonly kind: Artifact.Kind; readonly digest: string }) => {
    if (bad.has(o.digest)) return true
    if (!Artifact.isTreeKind(o.kind)) return false
    return store.manifest(o.digest)?.entries.some(([, d]) => bad.has(d)) ?? true
  }
  const missing = good.flatMap((r) =>
    Object.entries(r.outputs)
      .filter(([, o]) => holdsBad(o) || !store.isComplete(o))
      .map(([output, o]) => ({ key: r.key, stage: r.record.stage, output, digest: o.digest })))
  const lineage = yield* Lineage
  const lineageError = yield* lineage.read.pipe(Effect.as(null), Effect.catch((e) => Effect.succeed(e.detail)))
  let lineageMovedTo: string | null = null
  if (options.repair) {
    for (const d of corrupt) fs.rmSync(store.blobPath(d), { force: true })
    for (const m of missing) fs.rmSync(store.recordPath(m.key), { force: true })
    for (const f of unreadableRecords) fs.rmSync(path.join(store.root, f), { force: true })
    dropTrees(store, new Set([...corrupt, ...missing.map((m) => m.digest)]))
    if (lineageError !== null) {
      const dropped = new Set(missing.map((m) => m.key))
      lineageMovedTo = yield* lineage.rebuild(good.filter((r) => !dropped.has(r.key)))
    }
  }
  return { objects: objects.length, bytes, corrupt, missing, unreadableRecords, lineage: lineageError, lineageMovedTo, repaired: options.repair } satisfies VerifyReport
})

export interface GcReport {
  readonly dryRun: boolean
  readonly keptRuns: number
  readonly objects: number
  readonly bytes: number
  readonly records: number
  readonly trees: number
  readonly temporaries: number
}

/** Frees objects, cache records and materialised trees that no kept run references. */
export const gc = Effect.fn("Maintenance.gc")(function*(options: { readonly keepRuns: number; readonly dryRun: boolean }) {
  const store = yield* Store
  // Runs hold a lease for their whole life and wait while this lock is held: with the lock taken
  // and no live lease, no run can start using (or producing) what is about to be freed.
  const locks = path.join(store.root, "locks")
  yield* Lock.acquire(path.join(locks, "gc.lock"))
  const busy = Lock.liveLeases(path.join(locks, "runs"))[0] ??
    walk(locks).filter((f) => f.endsWith(".lock") && path.basename(f) !== "gc.lock").map((f) => Lock.holder(f)).find((o) => o !== undefined)
  if (busy !== undefined) {
    return yield* new MaintenanceError({ detail: `gc: a run is in progress (pid ${busy.pid} on ${busy.host}); try again when it has finished` })
  }
  const db = yield* (yield* Lineage).read
  const kept = db.runs.filter((r, i) => r.pinned || i >= db.runs.length - options.keepRuns)
  const keys = new Set<string>()
  const live = new Set<string>()
  const keepTree = (digest: string) => {
    live.add(digest)
    // A missing or unreadable manifest keeps nothing more.
    for (const [, d] of store.manifest(digest)?.entries ?? []) live.add(d)
  }
  for (const run of kept) {
    for (const s of Object.values(run.stages)) {
      if (s.key !== null) keys.add(s.key)
      for (const o of Object.values(s.outputs)) keepTree(o.digest)
    }
  }
  let objects = 0
  let bytes = 0
  let freedRecords = 0
  let trees = 0
  for (const r of records(store.root)) {
    if (keys.has(r.key)) {
      for (const o of Object.values(r.outputs)) keepTree(o.digest)
      continue
    }
    freedRecords++
    if (!options.dryRun) fs.rmSync(r.file, { force: true })
  }
  for (const file of walk(path.join(store.root, "objects")).filter((f) => Digest.isDigest(path.basename(f)))) {
    if (live.has(path.basename(file))) continue
    objects++
    bytes += fs.statSync(file).size
    if (!options.dryRun) fs.rmSync(file, { force: true })
  }
  const treeDir = path.join(store.root, "trees")
  for (const name of fs.existsSync(treeDir) ? fs.readdirSync(treeDir) : []) {
    if (live.has(name)) continue
    trees++
    if (!options.dryRun) fs.rmSync(path.join(treeDir, name), { recursive: true, force: true })
  }
  // Temporary files and staging directories of processes that died before renaming them.
  let temporaries = 0
  for (const file of [...walk(path.join(store.root, "objects")), ...walk(path.join(store.root, "cache"))]) {
    if (!abandoned(path.basename(file))) continue
    temporaries++
    if (!options.dryRun) fs.rmSync(file, { force: true })
  }
  const tmpDir = path.join(store.root, "tmp")
  for (const name of fs.existsSync(tmpDir) ? fs.readdirSync(tmpDir) : []) {
    const pid = /-(\d+)-[^-]+$/.exec(name)
    if (pid === null || Lock.isAlive({ host: os.hostname(), pid: Number(pid[1]) })) continue
    temporaries++
    if (!options.dryRun) fs.rmSync(path.join(tmpDir, name), { recursive: true, force: true })
  }
  return { dryRun: options.dryRun, keptRuns: kept.length, objects, bytes, records: freedRecords, trees, temporaries } satisfies GcReport
}, Effect.scoped)

/** A temporary name (`Atomic.tempName`) whose writer on this host is dead. */
const abandoned = (name: string): boolean => {
  const m = /\.tmp-(.+)-(\d+)-[0-9a-f]{12}$/.exec(name)
  return m !== null && !Lock.isAlive({ host: m[1]!, pid: Number(m[2]) })
}
