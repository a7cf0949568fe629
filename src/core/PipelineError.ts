/**
 * The one error a malformed pipeline is reported as: one line naming the file, the stage (if
 * any) and what is wrong; the CLI exits 2 on it.
 */
import { Data } from "effect"

export type Reason = "invalid-stage" | "duplicate-stage" | "unknown-input" | "missing-file" | "cycle" | "params" | "load"

export class PipelineError extends Data.TaggedError("PipelineError")<{
  readonly reason: Reason
  readonly file: string
  readonly stage?: string | undefined
  readonly detail: string
}> {
  override get message(): string {
    return `${this.file}: ${this.stage === undefined ? "" : `stage ${this.stage}: `}${this.detail}`
  }
}
