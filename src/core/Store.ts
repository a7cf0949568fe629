/**
 * The content-addressed artifact store.
 *
 * Layout under the store root (default `artifacts/`):
 * - `objects/ab/abcd…`   blobs named by their SHA-256, read-only once stored;
 * - `trees/<digest>/`    directory artifacts materialised as hard links to their blobs;
 * - `cache/ab/<key>.json` one record per computed stage key: the key record and output digests;
 * - `tmp/`               staging areas and temporary names, renamed into place only when complete.
 *
 * A directory artifact is a manifest blob listing (path, digest, size); its digest is the
 * manifest's digest. A cache record counts only while every blob it names exists.
 */
import { Context, Data, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Artifact from "./Artifact.ts"
import * as Atomic from "./Atomic.ts"
import type * as CacheKey from "./CacheKey.ts"
import * as Digest from "./Digest.ts"
import * as Fault from "./Fault.ts"

export class StoreError extends Data.TaggedError("StoreError")<{
  readonly op: string
  readonly path: string
  readonly detail: string
}> {
  override get message(): string {
    return `store: cannot ${this.op} ${this.path}: ${this.detail}`
  }
}

/** One stored output: its kind, digest and size in bytes (the sum of its files for trees). */
export interface Stored {
  readonly kind: Artifact.Kind
  readonly digest: Digest.Digest
  readonly size: number
}

/** What a computed stage key left in the store. */
export interface CacheRecord {
  readonly key: string
  readonly record: CacheKey.KeyRecord
  readonly outputs: Readonly<Record<string, Stored>>
  readonly createdAt: string
  readonly durationMs: number
  readonly run: string
  /** Set when the record was taken from a substitute (`Substitute.ts`): where from. */
  readonly substitute?: string
}

const errorText = (e: unknown): string => {
  const err = e as NodeJS.ErrnoException
  return err?.code !== undefined ? `${err.code}: ${err.message.replace(/^[A-Z]+: /, "")}` : e instanceof Error ? e.message : String(e)
}

export class Store extends Context.Service<Store, {
  readonly root: string
  readonly blobPath: (digest: string) => string
  readonly hasBlob: (digest: string) => boolean
  /** Moves (or copies, when `keep`) a file into the store. */
  readonly putFile: (file: string, options?: { readonly keep?: boolean }) => Effect.Effect<Stored, StoreError>
  readonly putBytes: (bytes: string | Uint8Array) => Effect.Effect<Stored, StoreError>
  readonly putJson: (value: unknown) => Effect.Effect<Stored, StoreError>
  /**
   * Copies `file` in as `digest` only if its bytes hash to it: the copy is hashed where it lands
   * (a temporary name in the store), so what enters is exactly what was verified.
   */
  readonly adopt: (file: string, digest: string) => Effect.Effect<void, StoreError>
  /** Stores every file of a directory; the directory's contents are moved. */
  readonly putTree: (dir: string) => Effect.Effect<Stored, StoreError>
  readonly readJson: (digest: string) => Effect.Effect<unknown, StoreError>
  /** The tree manifest stored as `digest`; undefined when it is missing or not a manifest. */
  readonly manifest: (digest: string) => Digest.Manifest | undefined
  /** True when the artifact and, for trees, every file of it are present. */
  readonly isComplete: (stored: { readonly kind: Artifact.Kind; readonly digest: string }) => boolean
  /** A read-only directory holding the tree `digest`. */
  readonly materialize: (digest: string) => Effect.Effect<string, StoreError>
  readonly readRecord: (key: string) => CacheRecord | undefined
  readonly writeRecord: (record: CacheRecord) => Effect.Effect<void, StoreError>
  readonly recordPath: (key: string) => string
  /** A fresh private directory under `tmp/`, removed when the scope closes. */
  readonly staging: (label: string) => Effect.Effect<string, StoreError, import("effect").Scope.Scope>
}>()("pinkflow/Store") {
  static readonly make = (root: string): Store["Service"] => {
    const abs = path.resolve(root)
    const tmpDir = path.join(abs, "tmp")
    const blobPath = (digest: string) => path.join(abs, "objects", digest.slice(0, 2), digest)
    const recordPath = (key: string) => path.join(abs, "cache", key.slice(0, 2), `${key}.json`)
    const attempt = <A>(op: string, p: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: (e) => new StoreError({ op, path: p, detail: errorText(e) }) })

    const hasBlob = (digest: string) => fs.existsSync(blobPath(digest))

    /** Puts an already hashed file in place: rename (or copy) to a temp name, then rename. */
    const install = async (file: string, digest: string, keep: boolean) => {
      const target = blobPath(digest)
      if (fs.existsSync(target)) {
        if (!keep) await fs.promises.rm(file, { force: true })
        return
      }
      await fs.promises.mkdir(path.dirname(target), { recursive: true })
      const tmp = Atomic.tempName(target)
      Fault.point("write")
      if (keep) await fs.promises.copyFile(file, tmp)
      else await fs.promises.rename(file, tmp).catch(() => fs.promises.copyFile(file, tmp))
      await fs.promises.chmod(tmp, 0o444)
      Fault.point("rename")
      await fs.promises.rename(tmp, target)
      if (!keep) await fs.promises.rm(file, { force: true })
    }

    const putFile = (file: string, options?: { readonly keep?: boolean }) =>
      attempt("store", file, async () => {
        const { digest, size } = await Digest.ofFile(file)
        await install(file, digest, options?.keep === true)
        return { kind: "file" as const, digest, size }
      })

    const adopt = (file: string, digest: string) =>
      attempt("adopt", file, async () => {
        const target = blobPath(digest)
        if (fs.existsSync(target)) return
        await fs.promises.mkdir(path.dirname(target), { recursive: true })
        const tmp = Atomic.tempName(target)
        Fault.point("write")
        await fs.promises.copyFile(file, tmp)
        const actual = (await Digest.ofFile(tmp)).digest
        if (actual !== digest) {
          await fs.promises.rm(tmp, { force: true })
          throw new Error(`its content hashes to ${actual.slice(0, 12)}, not ${digest.slice(0, 12)}`)
        }
        await fs.promises.chmod(tmp, 0o444)
        Fault.point("rename")
        await fs.promises.rename(tmp, target)
      })

    const putBytes = (bytes: string | Uint8Array) =>
      attempt("store", "(bytes)", async () => {
        const digest = Digest.ofBytes(bytes)
        const target = blobPath(digest)
        if (!fs.existsSync(target)) await Atomic.writeFile(target, bytes, 0o444)
        return { kind: "file" as const, digest, size: typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.length }
      })

    const putJson = (value: unknown) =>
      Effect.map(putBytes(Digest.canonicalJson(value)), (s) => ({ ...s, kind: "json" as const }))

    const putTree = (dir: string) =>
      attempt("store", dir, async () => {
        const files = await Digest.listFiles(dir)
        const entries: Array<Digest.TreeEntry> = []
        let total = 0
        for (const rel of files) {
          const full = path.join(dir, rel)
          const { digest, size } = await Digest.ofFile(full)
          await install(full, digest, false)
          entries.push([rel, digest, size])
          total += size
        }
        const text = Digest.manifestText(Digest.manifest(entries))
        const digest = Digest.ofBytes(text)
        if (!hasBlob(digest)) await Atomic.writeFile(blobPath(digest), text, 0o444)
        return { kind: "directory" as const, digest, size: total }
      })

    const readJson = (digest: string) =>
      attempt("read", blobPath(digest), async () => JSON.parse(await fs.promises.readFile(blobPath(digest), "utf8")))

    const readManifest = (digest: string) =>
      Effect.flatMap(readJson(digest), (value) =>
        Digest.isManifest(value)
          ? Effect.succeed(value)
          : Effect.fail(new StoreError({ op: "read tree", path: blobPath(digest), detail: "not a tree manifest" })))

    const manifest = (digest: string): Digest.Manifest | undefined => {
      try {
        const m: unknown = JSON.parse(fs.readFileSync(blobPath(digest), "utf8"))
        return Digest.isManifest(m) ? m : undefined
      } catch {
        return undefined
      }
    }

    const isComplete = (stored: { readonly kind: Artifact.Kind; readonly digest: string }) => {
      if (!hasBlob(stored.digest)) return false
      if (!Artifact.isTreeKind(stored.kind)) return true
      return manifest(stored.digest)?.entries.every(([, d]) => hasBlob(d)) ?? false
    }

    const materialize = (digest: string) =>
      Effect.flatMap(readManifest(digest), (m) =>
        attempt("materialise", digest, async () => {
          const target = path.join(abs, "trees", digest)
          if (fs.existsSync(target)) return target
          const tmp = Atomic.tempName(target)
          for (const [rel, d] of m.entries) {
            const dest = path.join(tmp, rel)
            await fs.promises.mkdir(path.dirname(dest), { recursive: true })
            await fs.promises.link(blobPath(d), dest).catch(() => fs.promises.copyFile(blobPath(d), dest))
          }
          await fs.promises.mkdir(tmp, { recursive: true })
          await fs.promises.rename(tmp, target).catch(async (e) => {
            // Another process materialised it first: theirs is identical.
            await fs.promises.rm(tmp, { recursive: true, force: true })
            if (!fs.existsSync(target)) throw e
          })
          return target
        }))

    const readRecord = (key: string): CacheRecord | undefined => {
      try {
        return JSON.parse(fs.readFileSync(recordPath(key), "utf8")) as CacheRecord
      } catch {
        return undefined
      }
    }

    const writeRecord = (record: CacheRecord) =>
      attempt("write", recordPath(record.key), () => (Fault.point("record"), Atomic.writeFile(recordPath(record.key), JSON.stringify(record))))

    const staging = (label: string) =>
      Effect.acquireRelease(
        attempt("create", tmpDir, async () => {
          await fs.promises.mkdir(tmpDir, { recursive: true })
          return fs.promises.mkdtemp(path.join(tmpDir, `${label}-${process.pid}-`))
        }),
        (dir) => Effect.promise(() => fs.promises.rm(dir, { recursive: true, force: true }))
      )

    return Store.of({
      root: abs,
      blobPath,
      hasBlob,
      putFile,
      adopt,
      putBytes,
      putJson,
      putTree,
      readJson,
      manifest,
      isComplete,
      materialize,
      readRecord,
      writeRecord,
      recordPath,
      staging
    })
  }

  static readonly layer = (root: string) => Layer.sync(Store, () => Store.make(root))
}
