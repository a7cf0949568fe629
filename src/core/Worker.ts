/**
 * The stage worker: a child process that runs one stage body, so CPU-bound stages run in
 * parallel and a crashing body cannot take the engine down. Plain Node (no Effect here): the stage
 * brings its own runtime inside the pipeline bundle.
 *
 * Protocol over the IPC channel: the parent sends one `Job`; the worker answers with `log`
 * messages and one `done` message, then exits. SIGTERM aborts the body. A worker whose parent is
 * gone (its IPC channel closed: the engine was killed) exits at once, so no orphan keeps a core
 * busy for a run nobody will record; in-stage checkpoints make the rerun resume.
 *
 * The IPC channel's close reaches the worker only through its event loop, and a body that runs
 * synchronous work between microtask awaits (a training loop between checkpoints) never returns to
 * it. So a watchdog thread, whose own loop does not wait on the body, also checks the parent's pid
 * and kills the worker once the parent is gone.
 */
import { pathToFileURL } from "node:url"
import { Worker as Thread } from "node:worker_threads"
import type * as Stage from "./Stage.ts"

export interface Job {
  /** Absolute path of the pipeline bundle's entry module. */
  readonly bundle: string
  readonly stage: string
  readonly overrides: Readonly<Record<string, unknown>>
  readonly ctx: Omit<Stage.RawContext, "params" | "log">
}

export type Message =
  | { readonly type: "log"; readonly line: string }
  | { readonly type: "done"; readonly result: Stage.Executed }

const send = (message: Message) => new Promise<void>((resolve) => process.send!(message, () => resolve()))

const fail = (message: string): Stage.Executed => ({ ok: false, interrupted: false, message, detail: message })

const run = async (job: Job): Promise<Stage.Executed> => {
  const mod = (await import(pathToFileURL(job.bundle).href)) as { default?: { stages?: ReadonlyArray<Stage.Any> } }
  const stage = mod.default?.stages?.find((s) => s.name === job.stage)
  if (stage === undefined) return fail(`stage ${job.stage} is not in ${job.bundle}`)
  const resolved = stage.resolveParams(job.overrides)
  if (!resolved.ok) return fail(`invalid params: ${resolved.message}`)
  const controller = new AbortController()
  process.on("SIGTERM", () => controller.abort())
  const log = (line: string) => void process.send!({ type: "log", line } satisfies Message)
  return stage.execute({ ...job.ctx, params: resolved.params, log }, controller.signal)
}

/** How often the watchdog thread looks for the parent. */
const WATCHDOG_MS = 250

const WATCHDOG = `const { workerData } = require("node:worker_threads")
setInterval(() => { if (process.ppid !== workerData) process.kill(process.pid, "SIGKILL") }, ${WATCHDOG_MS})`

export const main = (): void => {
  process.on("disconnect", () => process.exit(129))
  new Thread(WATCHDOG, { eval: true, workerData: process.ppid }).unref()
  process.once("message", (job: Job) => {
    run(job)
      .catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)))
      .then((result) => send({ type: "done", result }))
      .then(() => process.exit(0))
  })
}
