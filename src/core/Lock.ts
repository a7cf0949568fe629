/**
 * Process-tied file locks: `O_EXCL` creation of a lock file that names its owner (host, pid,
 * nonce). A lock whose owner is a dead process on this host is stale and taken over, so a killed
 * run never leaves the store locked. On a filesystem shared by several hosts, where another host's
 * pid cannot be checked, holders refresh the lock's mtime (a heartbeat) and a lock from another
 * host is stale once its heartbeat is older than STALE_MS. Waiting polls; the wait is interruptible.
 */
import { Effect, Schedule } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

interface Owner {
  readonly host: string
  readonly pid: number
  readonly nonce: string
  readonly since: string
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

const readOwner = (file: string): Owner | undefined => {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Owner
  } catch {
    return undefined
  }
}

/**
 * Holders refresh their lock's mtime every HEARTBEAT_MS. A lock from another host (a shared
 * filesystem, several machines) cannot be checked by pid: it is live while its heartbeat is fresher
 * than STALE_MS.
 */
export const HEARTBEAT_MS = 10_000
export const STALE_MS = 60_000

const fresh = (file: string): boolean => {
  const st = fs.statSync(file, { throwIfNoEntry: false })
  return st !== undefined && Date.now() - st.mtimeMs < STALE_MS
}

/** The lock's owner, if it is held by a live process (on another host: a recent heartbeat). */
export const holder = (file: string): Owner | undefined => {
  const owner = readOwner(file)
  if (owner === undefined) return undefined
  return (owner.host === os.hostname() ? alive(owner.pid) : fresh(file)) ? owner : undefined
}

const isStale = (file: string, owner: Owner): boolean =>
  owner.host === os.hostname() ? !alive(owner.pid) : !fresh(file)

/** One attempt: `true` when this process now holds the lock. */
const tryAcquire = (file: string, me: Owner): boolean => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  try {
    fs.writeFileSync(file, JSON.stringify(me), { flag: "wx" })
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
  }
  const owner = readOwner(file)
  if (owner === undefined) {
    // Created but not yet written, or truncated by a crash: stale only if it stays empty.
    const st = fs.statSync(file, { throwIfNoEntry: false })
    if (st !== undefined && Date.now() - st.mtimeMs > 2000) fs.rmSync(file, { force: true })
    return false
  }
  if (isStale(file, owner)) removeStale(file, owner, me.nonce)
  return false
}

/** Takes a stale lock aside and deletes it, putting it back if someone's fresh lock was taken instead. */
const removeStale = (file: string, stale: Owner, nonce: string) => {
  const aside = `${file}.stale-${nonce}`
  try {
    fs.renameSync(file, aside)
  } catch {
    return
  }
  const moved = readOwner(aside)
  if (moved?.nonce === stale.nonce) fs.rmSync(aside, { force: true })
  else fs.renameSync(aside, file)
}

/** Removes every lock in `dir` whose owner is dead (on another host: silent for STALE_MS). */
export const pruneStale = (dir: string): void => {
  const nonce = randomBytes(8).toString("hex")
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith(".lock")) : []) {
    const file = path.join(dir, name)
    const owner = readOwner(file)
    if (owner !== undefined && isStale(file, owner)) removeStale(file, owner, nonce)
  }
}

const newOwner = (): Owner => ({ host: os.hostname(), pid: process.pid, nonce: randomBytes(8).toString("hex"), since: new Date().toISOString() })

/** Refreshes the mtime of `file` every HEARTBEAT_MS while it still names `me`, for the scope. */
const heartbeat = (file: string, me: Owner) =>
  Effect.forkScoped(Effect.sync(() => {
    const now = new Date()
    if (readOwner(file)?.nonce === me.nonce) fs.utimesSync(file, now, now)
  }).pipe(Effect.repeat(Schedule.spaced(HEARTBEAT_MS))))

/**
 * Holds the lock `file` for the scope. `onWait` runs once if another live process holds it.
 */
export const acquire = (file: string, onWait?: (owner: Owner) => Effect.Effect<void>) => {
  const me = newOwner()
  let told = false
  const attempt = Effect.suspend(() => {
    if (tryAcquire(file, me)) return Effect.void
    const owner = holder(file)
    const notify = owner !== undefined && !told && onWait !== undefined ? (told = true, onWait(owner)) : Effect.void
    return Effect.andThen(notify, Effect.fail("busy" as const))
  })
  return Effect.acquireRelease(
    attempt.pipe(Effect.retry(Schedule.spaced("50 millis")), Effect.orDie),
    () => Effect.sync(() => {
      if (readOwner(file)?.nonce === me.nonce) fs.rmSync(file, { force: true })
    })
  ).pipe(Effect.tap(() => heartbeat(file, me)))
}

/**
 * A shared lease in `dir`: one uniquely named owner file per holder, removed when the scope
 * closes. Many processes hold leases at once; `liveLeases` lists the holders still alive.
 */
export const lease = (dir: string) => {
  const me = newOwner()
  const file = path.join(dir, `${me.host}-${me.pid}-${me.nonce}.lease`)
  return Effect.acquireRelease(
    Effect.sync(() => {
      fs.mkdirSync(dir, { recursive: true })
      fs.writeFileSync(file, JSON.stringify(me))
      liveLeases(dir) // prunes the leases of dead processes
      return me
    }),
    () => Effect.sync(() => fs.rmSync(file, { force: true }))
  ).pipe(Effect.tap(() => heartbeat(file, me)))
}

/** Holders of live leases in `dir`; the leases of dead holders are removed. */
export const liveLeases = (dir: string): Array<Owner> => {
  const names = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith(".lease")) : []
  return names.flatMap((name) => {
    const file = path.join(dir, name)
    const owner = holder(file)
    if (owner === undefined && readOwner(file) !== undefined) fs.rmSync(file, { force: true })
    return owner === undefined ? [] : [owner]
  })
}

/** Waits (polling, interruptibly) until no live process holds the lock `file`. */
export const awaitFree = (file: string, onWait?: (owner: Owner) => Effect.Effect<void>) => {
  let told = false
  return Effect.suspend(() => {
    const owner = holder(file)
    if (owner === undefined) return Effect.void
    const notify = !told && onWait !== undefined ? (told = true, onWait(owner)) : Effect.void
    return Effect.andThen(notify, Effect.fail("busy" as const))
  }).pipe(Effect.retry(Schedule.spaced("50 millis")), Effect.orDie)
}

/** True when `pid` on this host is a live process (the owner test for leases and runs). */
export const isAlive = (owner: { readonly host: string; readonly pid: number }): boolean =>
  owner.host !== os.hostname() || alive(owner.pid)
