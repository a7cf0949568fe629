/**
 * Fault injection for the reliability tests, in the manner of SQLite's and Bazel's crash tests.
 *
 * The store, lineage and executor call `point(name)` at the moments a crash would hurt most
 * (between writing a temporary file and renaming it, between storing a result and recording it,
 * while hashing, while a stage logs). Unless `PINKFLOW_FAULT` is set, a point does nothing.
 *
 * - `PINKFLOW_FAULT=<point>@<n>[:<action>]` acts at the n-th time `point` is reached:
 *   `kill` (default) is SIGKILL to this process, `interrupt` is SIGINT (Ctrl-C), `enospc` throws
 *   the error a full disk gives.
 * - `PINKFLOW_FAULT_TRACE=<file>` appends every point reached to `file`, one name per line, so a
 *   harness can enumerate the kill points of a run before sweeping them.
 */
import * as fs from "node:fs"

export type Action = "kill" | "interrupt" | "enospc"

interface Spec {
  readonly point: string
  readonly n: number
  readonly action: Action
}

const parse = (text: string | undefined): Spec | undefined => {
  const m = text === undefined ? null : /^([\w.:-]+)@(\d+)(?::(kill|interrupt|enospc))?$/.exec(text)
  return m === null ? undefined : { point: m[1]!, n: Number(m[2]), action: (m[3] ?? "kill") as Action }
}

const spec = parse(process.env.PINKFLOW_FAULT)
const trace = process.env.PINKFLOW_FAULT_TRACE
let reached = 0

/** Marks a named point; acts only when the environment asks for a fault here. */
export const point = (name: string): void => {
  if (trace !== undefined) fs.appendFileSync(trace, `${name}\n`)
  if (spec === undefined || spec.point !== name || ++reached !== spec.n) return
  if (spec.action === "kill") process.kill(process.pid, "SIGKILL")
  else if (spec.action === "interrupt") process.kill(process.pid, "SIGINT")
  else throw Object.assign(new Error(`ENOSPC: no space left on device, write (injected at ${name})`), { code: "ENOSPC" })
}
