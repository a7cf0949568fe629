/**
 * Turns engine events and query results into terminal text or JSON lines. The only module that
 * knows how output looks.
 */
import type * as Event from "../core/Event.ts"
import * as Digest from "../core/Digest.ts"
import type { Stored } from "../core/Store.ts"

export type Write = (line: string) => void

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`

const digests = (outputs: Readonly<Record<string, Stored>>) =>
  Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.digest]))

const pad = (s: string, n: number) => s.length >= n ? s : s + " ".repeat(n - s.length)

/** A sink that prints events as JSON lines (`--json`). */
export const jsonEvents = (write: Write): Event.Sink => (e) => {
  switch (e._tag) {
    case "RunStarted":
      return write(JSON.stringify({ type: "run", run: e.run, pipeline: e.pipeline, variant: e.variant, stages: e.stages }))
    case "StageCached":
      return write(JSON.stringify({ type: "stage", stage: e.stage, status: "cached", key: e.key, outputs: digests(e.outputs), durationMs: 0, ...(e.substitute === undefined ? {} : { from: e.substitute }) }))
    case "Warning":
      return write(JSON.stringify({ type: "warning", stage: e.stage, message: e.message }))
    case "StageSucceeded":
      return write(JSON.stringify({ type: "stage", stage: e.stage, status: "ran", key: e.key, outputs: digests(e.outputs), durationMs: Math.round(e.durationMs) }))
    case "StageFailed":
      return write(JSON.stringify({ type: "stage", stage: e.stage, status: "failed", key: e.key, outputs: {}, error: e.error, durationMs: Math.round(e.durationMs) }))
    case "StageSkipped":
      return write(JSON.stringify({ type: "stage", stage: e.stage, status: "skipped", key: null, outputs: {}, because: e.because }))
    case "StageWouldRun":
      return write(JSON.stringify({ type: "stage", stage: e.stage, status: e.state, key: e.key, outputs: {}, reasons: e.reasons }))
    case "StageWaiting":
      return write(JSON.stringify({ type: "waiting", stage: e.stage, key: e.key, pid: e.pid, host: e.host }))
    case "StageStarted":
      return write(JSON.stringify({ type: "started", stage: e.stage, key: e.key }))
    case "StageSubmitted":
      return write(JSON.stringify({ type: "submitted", stage: e.stage, job: e.job }))
    case "StageLog":
      return write(JSON.stringify({ type: "log", stage: e.stage, line: e.line }))
    case "RunFinished":
      return write(JSON.stringify({
        type: "summary",
        run: e.run,
        status: e.status,
        ...(e.status === "dry-run" ? { stale: e.stale, mayRun: e.mayRun } : { ran: e.ran }),
        cached: e.cached,
        failed: e.failed,
        skipped: e.skipped,
        durationMs: Math.round(e.durationMs)
      }))
  }
}

/** The first line of a text, marked `…` when there is more. */
export const firstLine = (text: string): string => {
  const nl = text.indexOf("\n")
  return nl < 0 ? text : `${text.slice(0, nl).trimEnd()} …`
}

/** A sink that prints events as terminal lines. */
export const textEvents = (write: Write, options: { readonly verbose: boolean }): Event.Sink => {
  let width = 8
  let run = ""
  return (e) => {
    switch (e._tag) {
      case "RunStarted":
        run = e.run
        width = Math.max(8, ...e.stages.map((s) => s.length))
        return write(`run ${e.run}  ${e.pipeline}${e.variant === "" ? "" : `  [${e.variant}]`}`)
      case "StageCached":
        return write(`  cached   ${pad(e.stage, width)}  ${Digest.short(e.key)}${e.substitute === undefined ? "" : `  (substitute ${e.substitute})`}`)
      case "Warning":
        return write(`  warning  ${pad(e.stage, width)}  ${e.message}`)
      case "StageSucceeded":
        return write(`  ran      ${pad(e.stage, width)}  ${Digest.short(e.key)}  ${seconds(e.durationMs)}`)
      case "StageFailed":
        // One line per stage: a longer error is in `pinkflow show <run>`.
        return write(`  failed   ${pad(e.stage, width)}  ${e.error.includes("\n") ? `${firstLine(e.error)} (whole error: pinkflow show ${run})` : e.error}`)
      case "StageSkipped":
        return write(`  skipped  ${pad(e.stage, width)}  ${e.because}`)
      case "StageWouldRun":
        return write(`  ${pad(e.state, 7)}  ${pad(e.stage, width)}  ${e.reasons.join("; ")}`)
      case "StageWaiting":
        return write(`  waiting  ${pad(e.stage, width)}  computed by pid ${e.pid} on ${e.host}`)
      case "StageStarted":
        return options.verbose ? write(`  started  ${e.stage}`) : undefined
      case "StageSubmitted":
        return write(`  queued   ${pad(e.stage, width)}  slurm job ${e.job}`)
      case "StageLog":
        // Progress bars and table rows are for the user; other log lines only with --verbose.
        return options.verbose || e.line.startsWith("progress ") || e.line.startsWith("| ")
          ? write(e.line.startsWith("| ") ? e.line : `    ${pad(e.stage, width)}  ${e.line.replace(/^progress /, "")}`)
          : undefined
      case "RunFinished": {
        const parts = e.status === "dry-run"
          ? [`${e.stale.length} stale (will run)`, `${e.mayRun.length} may-run (if an upstream output changes)`, `${e.cached.length} cached`]
          : [`${e.ran.length} ran`, `${e.cached.length} cached`]
        if (e.failed.length > 0) parts.push(`${e.failed.length} failed`)
        if (e.skipped.length > 0) parts.push(`${e.skipped.length} skipped`)
        return write(`${e.status}: ${parts.join(", ")} in ${seconds(e.durationMs)}`)
      }
    }
  }
}

/** A fixed-width table. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => pad(c, widths[i]!)).join("  ").trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")
}

export const show = (v: unknown): string =>
  v === undefined ? "-" : typeof v === "string" ? v : JSON.stringify(v)
