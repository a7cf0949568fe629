/**
 * Shared results: exports of computed stage keys, and read-only substitute directories a run
 * draws from instead of recomputing.
 *
 * An export is a plain directory laid out like the store itself, so it can be committed, copied,
 * rsynced or served as static files:
 *
 *   pinkflow-export.json     { "format": "pinkflow-export", "version": 1, "entries": [{ stage, key, outputs }] }
 *   cache/ab/<key>.json      the cache record of each exported key (key record, outputs, timing)
 *   objects/ab/<digest>      every blob those records name (tree manifests and their files too)
 *
 * The soundness rule: a substitute is consulted only for a key the current code, params, inputs
 * and environment produce, and it is used only if its record hashes to that key and every object
 * it names hashes to its digest as it is copied into the local store. Anything else — a missing
 * or truncated record, a flipped byte, a missing object — is a miss with a warning, never a
 * failure and never a result. Substitutes are never written to.
 *
 * Every read goes through `Source.read(relativePath)`, so an HTTP substitute (GET of the same
 * paths from a static server) is another `Source`, with the layout unchanged.
 */
import { Context, Data, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Artifact from "./Artifact.ts"
import * as Atomic from "./Atomic.ts"
import * as CacheKey from "./CacheKey.ts"
import * as Digest from "./Digest.ts"
import type * as Lineage from "./Lineage.ts"
import { Store, type CacheRecord, type Stored } from "./Store.ts"

export const MANIFEST = "pinkflow-export.json"
export const FORMAT = "pinkflow-export"
export const VERSION = 1

export interface Entry {
  readonly stage: string
  readonly key: string
  readonly outputs: Readonly<Record<string, Stored>>
}

export interface Manifest {
  readonly format: typeof FORMAT
  readonly version: number
  readonly entries: ReadonlyArray<Entry>
}

export class ExportError extends Data.TaggedError("ExportError")<{ readonly dir: string; readonly detail: string }> {
  override get message(): string {
    return `export ${this.dir}: ${this.detail}`
  }
}

const recordPath = (key: string) => path.join("cache", key.slice(0, 2), `${key}.json`)
const objectPath = (digest: string) => path.join("objects", digest.slice(0, 2), digest)

/** Where a substitute's bytes come from: a directory today; a static HTTP server would be another. */
export interface Source {
  readonly label: string
  /** A local file holding the bytes at `rel`, or undefined when there is none. */
  readonly file: (rel: string) => string | undefined
}

export const directory = (dir: string): Source => {
  const abs = path.resolve(dir)
  return {
    label: dir,
    file: (rel) => {
      const f = path.join(abs, rel)
      return fs.statSync(f, { throwIfNoEntry: false })?.isFile() === true ? f : undefined
    }
  }
}

const readManifest = (source: Source): Manifest | undefined => {
  const f = source.file(MANIFEST)
  if (f === undefined) return undefined
  try {
    const m = JSON.parse(fs.readFileSync(f, "utf8")) as Manifest
    return m.format === FORMAT && Array.isArray(m.entries) ? m : undefined
  } catch {
    return undefined
  }
}

const isRecord = (u: unknown, key: string): u is CacheRecord => {
  const r = u as CacheRecord
  return typeof r === "object" && r !== null && r.key === key && typeof r.record === "object" && r.record !== null &&
    typeof r.outputs === "object" && r.outputs !== null &&
    Object.values(r.outputs).every((o) => typeof o?.digest === "string" && Digest.isDigest(o.digest) && typeof o.kind === "string")
}

/** A miss, with why. */
class Miss extends Data.TaggedError("Miss")<{ readonly detail: string }> {}

/**
 * Takes `key` from `source` into the store: the record must hash to the key, every object must
 * hash to its digest as it is copied. Objects already in the store are not copied again.
 */
const take = (store: Store["Service"], source: Source, key: string) =>
  Effect.gen(function*() {
    const file = source.file(recordPath(key))
    if (file === undefined) return undefined
    const text = yield* Effect.try({ try: () => fs.readFileSync(file, "utf8"), catch: () => new Miss({ detail: "its record cannot be read" }) })
    const parsed = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => new Miss({ detail: "its record is not valid JSON (truncated?)" }) })
    if (!isRecord(parsed, key) || CacheKey.hash(parsed.record) !== key) return yield* new Miss({ detail: "its record does not match the key" })
    const adopt = (digest: string) =>
      Effect.gen(function*() {
        if (store.hasBlob(digest)) return
        const f = source.file(objectPath(digest))
        if (f === undefined) return yield* new Miss({ detail: `object ${digest.slice(0, 12)} is missing` })
        yield* store.adopt(f, digest).pipe(Effect.mapError((e) => new Miss({ detail: `object ${digest.slice(0, 12)} is corrupt (${e.detail})` })))
      })
    for (const o of Object.values(parsed.outputs)) {
      yield* adopt(o.digest)
      if (!Artifact.isTreeKind(o.kind)) continue
      const m = store.manifest(o.digest)
      if (m === undefined) return yield* new Miss({ detail: `object ${o.digest.slice(0, 12)} is not a tree manifest` })
      for (const [, d] of m.entries) yield* adopt(d)
    }
    const record: CacheRecord = { ...parsed, substitute: source.label }
    yield* store.writeRecord(record).pipe(Effect.mapError((e) => new Miss({ detail: e.message })))
    return record
  })

export class Substitutes extends Context.Service<Substitutes, {
  readonly sources: ReadonlyArray<Source>
  /**
   * The complete record of `key`: the local one, else one taken from the first substitute that
   * holds it intact (now in the local store, `substitute` naming where from). A substitute entry
   * that fails a check is reported to `warn` and skipped.
   */
  readonly lookup: (key: string, warn: (message: string) => void) => Effect.Effect<CacheRecord | undefined>
  /** The complete local record of `key`, substitutes not asked. */
  readonly local: (key: string) => CacheRecord | undefined
}>()("pinkflow/Substitutes") {
  static readonly layer = (dirs: ReadonlyArray<string>) =>
    Layer.effect(Substitutes, Effect.gen(function*() {
      const store = yield* Store
      const sources = dirs.map(directory)
      const local = (key: string) => {
        const rec = store.readRecord(key)
        return rec !== undefined && Object.values(rec.outputs).every(store.isComplete) ? rec : undefined
      }
      const takeFrom = (key: string, warn: (message: string) => void) =>
        Effect.gen(function*() {
          for (const source of sources) {
            const taken = yield* take(store, source, key).pipe(
              Effect.catch((e) => Effect.sync(() => {
                warn(`substitute ${source.label}: key ${key.slice(0, 12)}: ${e._tag === "Miss" ? e.detail : e.message}; not used`)
                return undefined
              }))
            )
            if (taken !== undefined) return taken
          }
          return undefined
        })
      const lookup = (key: string, warn: (message: string) => void) =>
        Effect.suspend(() => {
          const here = local(key)
          return here !== undefined ? Effect.succeed(here) : takeFrom(key, warn)
        })
      return Substitutes.of({ sources, lookup, local })
    }))

  /** No substitutes: local records only. */
  static readonly none = Substitutes.layer([])
}

/**
 * Writes the cache records of `entries` and every object they name into `dir`, merged with what
 * an earlier export left there. Objects are copied once; the manifest is written last.
 */
export const exportTo = (dir: string, entries: ReadonlyArray<Entry>) =>
  Effect.gen(function*() {
    const store = yield* Store
    const abs = path.resolve(dir)
    const fail = (detail: string) => new ExportError({ dir, detail })
    let objects = 0
    let bytes = 0
    const copy = (digest: string) =>
      Effect.try({
        try: () => {
          const target = path.join(abs, objectPath(digest))
          if (fs.existsSync(target)) return
          fs.mkdirSync(path.dirname(target), { recursive: true })
          const tmp = Atomic.tempName(target)
          fs.copyFileSync(store.blobPath(digest), tmp)
          fs.chmodSync(tmp, 0o444)
          fs.renameSync(tmp, target)
          objects++
          bytes += fs.statSync(target).size
        },
        catch: (e) => fail(`cannot copy object ${digest.slice(0, 12)}: ${(e as Error).message}`)
      })
    const previous = readManifest(directory(abs))?.entries ?? []
    for (const entry of entries) {
      const record = store.readRecord(entry.key)
      if (record === undefined) return yield* fail(`stage ${entry.stage} (key ${entry.key.slice(0, 12)}) has no record in the store`)
      for (const o of Object.values(record.outputs)) {
        yield* copy(o.digest)
        if (Artifact.isTreeKind(o.kind)) for (const [, d] of store.manifest(o.digest)?.entries ?? []) yield* copy(d)
      }
      const { substitute: _from, ...kept } = record
      yield* Effect.try({
        try: () => Atomic.writeFileSync(path.join(abs, recordPath(entry.key)), JSON.stringify(kept)),
        catch: (e) => fail(`cannot write the record of ${entry.stage}: ${(e as Error).message}`)
      })
    }
    const byKey = new Map([...previous, ...entries].map((e) => [e.key, e]))
    const manifest: Manifest = { format: FORMAT, version: VERSION, entries: [...byKey.values()].sort((a, b) => a.stage < b.stage ? -1 : a.stage > b.stage ? 1 : a.key < b.key ? -1 : 1) }
    yield* Effect.try({
      try: () => Atomic.writeFileSync(path.join(abs, MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`),
      catch: (e) => fail(`cannot write ${MANIFEST}: ${(e as Error).message}`)
    })
    return { entries: entries.length, objects, bytes }
  })

export interface DirectoryReport {
  readonly dir: string
  readonly entries: number
  readonly objects: number
  /** One line per problem: a corrupt or missing object, a record that does not match its key. */
  readonly problems: ReadonlyArray<string>
}

/** Checks an export without writing to it: every object rehashed, every record against its key and objects. */
export const verifyDirectory = (dir: string): Effect.Effect<DirectoryReport> =>
  Effect.promise(async () => {
    const source = directory(dir)
    const problems: Array<string> = []
    const manifest = readManifest(source)
    if (manifest === undefined) problems.push(`${MANIFEST} is missing or not a pinkflow export`)
    const objectsDir = path.join(dir, "objects")
    const files = fs.existsSync(objectsDir) ? fs.readdirSync(objectsDir, { recursive: true }).map(String).filter((f) => Digest.isDigest(path.basename(f))) : []
    for (const f of files) {
      const { digest } = await Digest.ofFile(path.join(objectsDir, f))
      if (digest !== path.basename(f)) problems.push(`corrupt object ${path.basename(f)}: its content does not match its digest`)
    }
    const has = (d: string) => source.file(objectPath(d)) !== undefined
    for (const e of manifest?.entries ?? []) {
      const f = source.file(recordPath(e.key))
      let record: unknown
      try {
        record = f === undefined ? undefined : JSON.parse(fs.readFileSync(f, "utf8"))
      } catch {
        record = undefined
      }
      if (!isRecord(record, e.key) || CacheKey.hash(record.record) !== e.key) {
        problems.push(`record of ${e.stage} (key ${e.key.slice(0, 12)}) is missing, unreadable or does not match its key`)
        continue
      }
      for (const [name, o] of Object.entries(record.outputs)) {
        const needed = [o.digest]
        if (Artifact.isTreeKind(o.kind) && has(o.digest)) {
          try {
            const m = JSON.parse(fs.readFileSync(source.file(objectPath(o.digest))!, "utf8"))
            if (Digest.isManifest(m)) needed.push(...m.entries.map(([, d]) => d))
          } catch {
            // The object itself is reported corrupt above if it is.
          }
        }
        const missing = needed.filter((d) => !has(d))
        if (missing.length > 0) problems.push(`${e.stage}.${name} (key ${e.key.slice(0, 12)}) needs ${missing.length} missing object${missing.length > 1 ? "s" : ""}, e.g. ${missing[0]!.slice(0, 12)}`)
      }
    }
    return { dir, entries: manifest?.entries.length ?? 0, objects: files.length, problems }
  })

/**
 * What the substitutes know for lineage queries: their records as executions and their outputs
 * as artifacts, for digests the local database has not seen (local knowledge wins).
 */
export const lineage = (dirs: ReadonlyArray<string>, db: Lineage.Database): Lineage.Database => {
  const executions = { ...db.executions }
  const artifacts = { ...db.artifacts }
  for (const dir of dirs) {
    const source = directory(dir)
    for (const e of readManifest(source)?.entries ?? []) {
      if (executions[e.key] !== undefined) continue
      const f = source.file(recordPath(e.key))
      let record: CacheRecord | undefined
      try {
        const parsed: unknown = f === undefined ? undefined : JSON.parse(fs.readFileSync(f, "utf8"))
        record = isRecord(parsed, e.key) ? parsed : undefined
      } catch {
        record = undefined
      }
      if (record === undefined) continue
      executions[e.key] = { key: e.key, stage: record.record.stage, run: record.run, record: record.record, outputs: record.outputs, startedAt: record.createdAt, durationMs: record.durationMs, log: [], substitute: dir }
      for (const [output, s] of Object.entries(record.outputs)) {
        if (artifacts[s.digest] === undefined) artifacts[s.digest] = { kind: s.kind, size: s.size, producer: { key: e.key, stage: record.record.stage, output } }
      }
    }
  }
  return { ...db, executions, artifacts }
}
