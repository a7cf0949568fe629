/**
 * Content digests: SHA-256 over bytes, canonical JSON, streamed files and directory trees.
 *
 * A digest is 64 lowercase hex characters. Files are hashed in large chunks with the next read
 * issued before the current chunk is hashed, so I/O and hashing overlap and no file is ever held
 * in memory whole. A directory's digest is the digest of its manifest (sorted relative paths with
 * their file digests), so two trees with the same content have the same digest wherever they live.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Brand } from "effect"
import * as Fault from "./Fault.ts"

export type Digest = string & Brand.Brand<"Digest">

const HEX64 = /^[0-9a-f]{64}$/

export const isDigest = (s: string): s is Digest => HEX64.test(s)

export const ofBytes = (bytes: Uint8Array | string): Digest =>
  createHash("sha256").update(bytes).digest("hex") as Digest

/** JSON with object keys sorted at every depth: the one text a value hashes as. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v)

export const ofJson = (value: unknown): Digest => ofBytes(canonicalJson(value))

const CHUNK = 4 * 1024 * 1024

/** Streams a file through SHA-256, reading chunk i+1 while chunk i is hashed. */
export const ofFile = async (file: string): Promise<{ digest: Digest; size: number }> => {
  const handle = await fs.promises.open(file, "r")
  try {
    const hash = createHash("sha256")
    let buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)]
    let size = 0
    let pending = handle.read(buffers[0]!, 0, CHUNK, null)
    for (;;) {
      const { bytesRead } = await pending
      if (bytesRead === 0) break
      Fault.point("hash")
      const current = buffers[0]!
      buffers = [buffers[1]!, current]
      pending = handle.read(buffers[0]!, 0, CHUNK, null)
      hash.update(bytesRead === CHUNK ? current : current.subarray(0, bytesRead))
      size += bytesRead
    }
    return { digest: hash.digest("hex") as Digest, size }
  } finally {
    await handle.close()
  }
}

/** One file of a tree manifest: relative POSIX path, digest, size. */
export type TreeEntry = readonly [path: string, digest: Digest, size: number]

export interface Manifest {
  readonly type: "tree"
  readonly entries: ReadonlyArray<TreeEntry>
}

export const manifest = (entries: ReadonlyArray<TreeEntry>): Manifest => ({
  type: "tree",
  entries: [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
})

export const manifestText = (m: Manifest): string => canonicalJson(m)

export const isManifest = (value: unknown): value is Manifest =>
  typeof value === "object" && value !== null && (value as Manifest).type === "tree" &&
  Array.isArray((value as Manifest).entries)

/** Every regular file under `dir`, as sorted relative POSIX paths. Symlinks are followed. */
export const listFiles = async (dir: string): Promise<Array<string>> => {
  const out: Array<string> = []
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.promises.readdir(path.join(dir, rel), { withFileTypes: true })
    for (const e of entries) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`
      const full = path.join(dir, r)
      const isDir = e.isDirectory() || (e.isSymbolicLink() && fs.statSync(full).isDirectory())
      if (isDir) await walk(r)
      else out.push(r)
    }
  }
  await walk("")
  return out.sort()
}

/** Hashes a directory tree (each file through `hashFile`, so callers can add a stat cache). */
export const ofTree = async (
  dir: string,
  hashFile: (file: string) => Promise<{ digest: Digest; size: number }> = ofFile
): Promise<{ digest: Digest; manifest: Manifest }> => {
  const files = await listFiles(dir)
  const entries: Array<TreeEntry> = []
  for (const rel of files) {
    const full = path.join(dir, rel)
    const { digest, size } = await hashFile(full)
    entries.push([rel, digest, size])
  }
  const m = manifest(entries)
  return { digest: ofBytes(manifestText(m)), manifest: m }
}

export const short = (d: string): string => d.slice(0, 12)
