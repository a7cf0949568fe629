import test from "ava"
import { Effect, Fiber } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Lock from "../../src/core/Lock.ts"

const lockFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pinkflow-lock-")), "k.lock")

test("a lock left by a dead process is taken over", async (t) => {
  const file = lockFile()
  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" })
  fs.writeFileSync(file, JSON.stringify({ host: os.hostname(), pid: Number(dead.stdout), nonce: "old", since: "" }))
  t.is(Lock.holder(file), undefined)
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    yield* Lock.acquire(file)
    t.is(Lock.holder(file)?.pid, process.pid)
  })))
  t.false(fs.existsSync(file), "released when the scope closes")
})

test("a live holder makes the second acquirer wait until release", async (t) => {
  const file = lockFile()
  const order: Array<string> = []
  await Effect.runPromise(Effect.gen(function*() {
    const first = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
      yield* Lock.acquire(file)
      order.push("first acquired")
      yield* Effect.sleep("300 millis")
      order.push("first releases")
    })))
    yield* Effect.sleep("50 millis")
    let waited = false
    yield* Effect.scoped(Effect.gen(function*() {
      yield* Lock.acquire(file, () => Effect.sync(() => void (waited = true)))
      order.push("second acquired")
    }))
    yield* Fiber.join(first)
    t.true(waited)
  }))
  t.deepEqual(order, ["first acquired", "first releases", "second acquired"])
})

test("another host's lock counts while its heartbeat is fresh and is taken over once it is stale", async (t) => {
  const file = lockFile()
  fs.writeFileSync(file, JSON.stringify({ host: "node-elsewhere", pid: 1, nonce: "remote", since: "" }))
  t.is(Lock.holder(file)?.host, "node-elsewhere", "a fresh heartbeat: held")
  const old = new Date(Date.now() - Lock.STALE_MS - 1000)
  fs.utimesSync(file, old, old)
  t.is(Lock.holder(file), undefined, "no heartbeat for longer than STALE_MS: stale")
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    yield* Lock.acquire(file)
    t.is(Lock.holder(file)?.pid, process.pid)
  })))
})
