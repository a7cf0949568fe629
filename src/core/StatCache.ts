/**
 * A stat cache: remembers, per absolute path, a value computed from the file's content together
 * with the file's (inode, size, mtime, ctime). While those are unchanged the value is reused, so
 * unchanged project inputs and source modules are never re-read. It is only a cache: it is saved
 * atomically, and if two processes race the last writer wins without harm.
 */
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Atomic from "./Atomic.ts"

type Sig = readonly [ino: number, size: number, mtimeMs: number, ctimeMs: number]

interface Entry {
  readonly s: Sig
  readonly v: Record<string, string>
}

export class StatCache extends Context.Service<StatCache, {
  /** The value named `kind` for `file`, computed by `compute` unless cached for the same stat. */
  readonly get: (file: string, kind: string, compute: (file: string) => Promise<string>) => Promise<string>
  /** Writes the cache back if anything changed. */
  readonly save: Effect.Effect<void>
}>()("pinkflow/StatCache") {
  static readonly make = (file: string | undefined): StatCache["Service"] => {
    let entries: Record<string, Entry> = {}
    if (file !== undefined) {
      try {
        entries = JSON.parse(fs.readFileSync(file, "utf8"))
      } catch {
        entries = {}
      }
    }
    let dirty = false
    const sigOf = (st: fs.Stats): Sig => [st.ino, st.size, st.mtimeMs, st.ctimeMs]
    const get = async (p: string, kind: string, compute: (file: string) => Promise<string>) => {
      const abs = path.resolve(p)
      const sig = sigOf(await fs.promises.stat(abs))
      const entry = entries[abs]
      const same = entry !== undefined && entry.s.every((x, i) => x === sig[i])
      const hit = same ? entry.v[kind] : undefined
      if (hit !== undefined) return hit
      const value = await compute(abs)
      // A file modified while it was read keeps no entry: its next use rehashes it.
      const after = sigOf(await fs.promises.stat(abs))
      if (after.every((x, i) => x === sig[i])) {
        entries[abs] = { s: sig, v: { ...(same ? entry.v : {}), [kind]: value } }
        dirty = true
      }
      return value
    }
    const save = Effect.sync(() => {
      if (!dirty || file === undefined) return
      Atomic.writeFileSync(file, JSON.stringify(entries))
      dirty = false
    })
    return StatCache.of({ get, save })
  }

  static readonly layer = (file: string) => Layer.sync(StatCache, () => StatCache.make(file))
  static readonly layerMemory = Layer.sync(StatCache, () => StatCache.make(undefined))
}
