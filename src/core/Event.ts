/**
 * Progress events: the executor emits these values; a renderer (terminal lines or JSON lines)
 * turns them into output. Nothing else in the engine prints.
 */
import type { Stored } from "./Store.ts"

export type Event =
  | { readonly _tag: "RunStarted"; readonly run: string; readonly pipeline: string; readonly variant: string; readonly stages: ReadonlyArray<string> }
  | { readonly _tag: "StageCached"; readonly stage: string; readonly key: string; readonly outputs: Readonly<Record<string, Stored>> }
  | { readonly _tag: "StageWaiting"; readonly stage: string; readonly key: string; readonly pid: number; readonly host: string }
  | {
    readonly _tag: "StageStarted"
    readonly stage: string
    /** Null under Slurm when the key depends on upstream jobs (the job computes it). */
    readonly key: string | null
  }
  | { readonly _tag: "StageSubmitted"; readonly stage: string; readonly job: string }
  | { readonly _tag: "StageLog"; readonly stage: string; readonly line: string }
  | { readonly _tag: "StageSucceeded"; readonly stage: string; readonly key: string; readonly outputs: Readonly<Record<string, Stored>>; readonly durationMs: number }
  | { readonly _tag: "StageFailed"; readonly stage: string; readonly key: string | null; readonly error: string; readonly durationMs: number }
  | { readonly _tag: "StageSkipped"; readonly stage: string; readonly because: string }
  | { readonly _tag: "StageWouldRun"; readonly stage: string; readonly key: string | null; readonly reasons: ReadonlyArray<string> }
  | {
    readonly _tag: "RunFinished"
    readonly run: string
    readonly status: "succeeded" | "failed" | "interrupted" | "dry-run"
    readonly ran: ReadonlyArray<string>
    readonly cached: ReadonlyArray<string>
    readonly failed: ReadonlyArray<string>
    readonly skipped: ReadonlyArray<string>
    readonly durationMs: number
  }

export type Sink = (event: Event) => void
