/**
 * No orphan workers: a stage body running in its worker process, one that never looks at its abort
 * signal, ends with the engine, whether the engine is killed outright (the worker sees its IPC
 * channel close) or stopped with SIGTERM (the body is abandoned as interrupted) — and so does a
 * body that never returns to the event loop, awaiting only resolved promises between stretches of
 * work as a training loop does between checkpoints (the worker's watchdog thread ends it).
 */
import test from "ava"
import { project } from "./helpers/project.ts"

const pipeline = (yieldTo: string) => `import { Effect, Schema } from "effect"
import * as Artifact from "../src/core/Artifact.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Stage from "../src/core/Stage.ts"

// A body that keeps a core busy and never checks its signal, as a training loop between steps.
const spin = Stage.make({
  name: "spin",
  params: Schema.Struct({}),
  outputs: { metrics: Artifact.metrics() },
  isolated: true,
  run: (ctx) => Effect.promise(async () => {
    ctx.log(\`pid \${process.pid}\`)
    for (;;) {
      const until = Date.now() + 20
      while (Date.now() < until) {}
      await ${yieldTo}
    }
  })
})
export default Pipeline.make({ name: "spin", stages: [spin] })
`

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const gone = async (pid: number, withinMs: number) => {
  const until = Date.now() + withinMs
  while (Date.now() < until) {
    if (!alive(pid)) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return !alive(pid)
}

const cases = [
  { signal: "SIGKILL", body: "new Promise((r) => setImmediate(r))", what: "" },
  { signal: "SIGTERM", body: "new Promise((r) => setImmediate(r))", what: "" },
  { signal: "SIGKILL", body: "Promise.resolve()", what: " while its body never yields to the event loop" }
] as const

for (const { signal, body, what } of cases) {
  test(`a worker does not outlive an engine stopped with ${signal}${what}`, async (t) => {
    const p = project()
    p.write("pipelines/spin.ts", pipeline(body))
    let pid: number | undefined
    const guard = setTimeout(() => pid !== undefined && alive(pid) && process.kill(pid, "SIGKILL"), 60_000)
    const r = await p.start(["run", "pipelines/spin.ts", "--verbose"], (line, child) => {
      const m = line.type === "log" ? /^pid (\d+)$/.exec(line.line) : null
      if (m !== null) {
        pid = Number(m[1])
        child.kill(signal)
      }
    })
    t.truthy(pid, r.stderr)
    t.true(await gone(pid!, 10_000), `worker ${pid} still running after the engine got ${signal}`)
    clearTimeout(guard)
  })
}
