/**
 * Progress events: the executor emits these values; a renderer (terminal lines or JSON lines)
 * turns them into output. Nothing else in the engine prints.
 */
import type { Stored } from "./Store.ts"

export type Event =
  | { readonly _tag: "RunStarted"; readonly run: string; readonly pipeline: string; readonly variant: string; readonly stages: ReadonlyArray<string> }
  /** `substitute`: the result was taken from that substitute (`Substitute.ts`). */
  | { readonly _tag: "StageCached"; readonly stage: string; readonly key: string; readonly outputs: Readonly<Record<string, Stored>>; readonly substitute?: string | undefined }
  /** Something the user should know that does not stop the stage: e.g. a substitute entry that failed its checks. */
  | { readonly _tag: "Warning"; readonly stage: string; readonly message: string }
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
  /** A dry run's stage that is not cached: `stale` will run, `may-run` runs only if a stale upstream's output changes. */
  | { readonly _tag: "StageWouldRun"; readonly stage: string; readonly state: "stale" | "may-run"; readonly key: string | null; readonly reasons: ReadonlyArray<string> }
  | {
    readonly _tag: "RunFinished"
    readonly run: string
    readonly status: "succeeded" | "failed" | "interrupted" | "dry-run"
    readonly ran: ReadonlyArray<string>
    readonly cached: ReadonlyArray<string>
    readonly failed: ReadonlyArray<string>
    readonly skipped: ReadonlyArray<string>
    /** A dry run's stages that will run, and those that may (both empty for a real run). */
    readonly stale: ReadonlyArray<string>
    readonly mayRun: ReadonlyArray<string>
    readonly durationMs: number
  }

export type Sink = (event: Event) => void
