/**
 * What every training stage of the recipe shares: its options, the backend line it logs first,
 * its progress bars, and the loss curve it returns (thinned).
 */
import * as Backend from "../model/Backend.ts"
import type * as Config from "../model/Config.ts"
import type * as Loop from "./Loop.ts"
import type * as Pretrain from "./Pretrain.ts"

export type Log = (line: string) => void

/** A progress line (the terminal draws it as a bar). */
export const bar = (p: Loop.Progress) => {
  const width = 20
  const filled = Math.round((p.step / p.steps) * width)
  const eta = Math.round(p.etaMs / 1000)
  return `progress [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${p.step}/${p.steps} loss ${p.loss.toFixed(3)} ${Math.round(p.tokensPerSecond)} tok/s ETA ${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, "0")}s`
}

/** Loss curve thinned to at most `n` points. */
export const thin = (losses: ReadonlyArray<number>, n = 200) => {
  const step = Math.max(1, Math.ceil(losses.length / n))
  const out: Array<[number, number]> = []
  for (let i = 0; i < losses.length; i += step) {
    const window = losses.slice(i, i + step)
    out.push([i + 1, window.reduce((a, b) => a + b, 0) / window.length])
  }
  return out
}

export interface TrainOptions {
  readonly preset: Config.Preset
  readonly steps: number
  readonly batchSize: number
  readonly lr: number
  readonly weightDecay: number
  readonly warmup: number
  readonly seed: number
  readonly checkpointDir: string
  readonly log: Log
}

/** The training loop's options for a stage's options. */
export const loopOptions = (o: TrainOptions, tokensPerStep: number): Loop.Options => ({
  steps: o.steps,
  lr: o.lr,
  warmupFraction: o.warmup,
  seed: o.seed,
  adamw: { weightDecay: o.weightDecay, clipNorm: 1 },
  tokensPerStep,
  checkpointDir: o.checkpointDir,
  checkpointEvery: Math.max(50, Math.round(o.steps / 5)),
  onProgress: (p) => o.log(bar(p)),
  onCheckpoint: (e) => o.log(e.saved !== undefined ? `checkpoint at step ${e.saved}` : `resumed from step ${e.resumed}`),
  progressEveryMs: 3000
})

/** Selects the tensor backend and logs which one runs. */
export const started = async (log: Log) => {
  const b = await Backend.select()
  log(`backend ${b.name} (matmul ${b.matmul}, fused kernels ${b.fused})`)
  return b
}

/** How often a pretraining saves a checkpoint (and measures its held-out metrics): a tenth of the run. */
export const checkpointEvery = (o: { readonly steps: number }): number => Math.max(50, Math.round(o.steps / 10))

/** The pretraining options (Pretrain.ts) for a stage's options. */
export const pretrainOptions = (o: TrainOptions): Pretrain.Options => ({
  steps: o.steps,
  batchSize: o.batchSize,
  lr: o.lr,
  seed: o.seed,
  weightDecay: o.weightDecay,
  warmupFraction: o.warmup,
  checkpointDir: o.checkpointDir,
  checkpointEvery: checkpointEvery(o),
  onProgress: (p) => o.log(bar(p))
})
