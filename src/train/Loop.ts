/**
 * The training loop: AdamW with a warmup-cosine schedule and gradient clipping over the weights a
 * freeze policy allows, seeded (batches and dropout depend only on the seed and the step, so a run
 * is deterministic on a given backend), with progress events, a clear error on a non-finite loss,
 * and periodic checkpoints (weights + optimizer state + step) from which a killed run resumes.
 *
 * The caller supplies `lossAt(step, seed)`, which builds the step's batch and returns the loss; the
 * loop owns the tensors it creates and disposes them every step.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Fault from "../core/Fault.ts"
import type * as Freeze from "../model/Freeze.ts"
import * as W from "../model/Weights.ts"
import * as AdamW from "./AdamW.ts"
import * as Schedule from "./Schedule.ts"

export interface Options {
  readonly steps: number
  readonly lr: number
  readonly warmupFraction: number
  readonly seed: number
  readonly adamw?: Partial<AdamW.Options>
  /** Tokens (or samples) per step, for the throughput in progress events. */
  readonly tokensPerStep: number
  /** Save a checkpoint every this many steps into `checkpointDir` (0: never). */
  readonly checkpointEvery?: number
  readonly checkpointDir?: string
  readonly onProgress?: (p: Progress) => void
  /** Called after each checkpoint is saved, and once with the step a run resumed from. */
  readonly onCheckpoint?: (e: { readonly saved?: number; readonly resumed?: number }) => void
  /**
   * Held-out metrics against steps: `run` measures the model every `every` steps and after the last
   * one (outside the gradient tape; it must not change the weights). A checkpoint keeps the
   * evaluations made so far, so a resumed run returns the same list.
   */
  readonly evaluate?: { readonly every: number; readonly run: (step: number) => Promise<Readonly<Record<string, number>>> }
  /** Progress events at most this often (ms); the last step always reports. */
  readonly progressEveryMs?: number
}

export interface Progress {
  readonly step: number
  readonly steps: number
  readonly loss: number
  readonly lr: number
  readonly gradNorm: number
  readonly tokensPerSecond: number
  readonly elapsedMs: number
  readonly etaMs: number
}

/** Held-out metrics of the model at a step (Options.evaluate). */
export interface Evaluation {
  readonly step: number
  readonly metrics: Readonly<Record<string, number>>
}

export interface Result {
  readonly losses: ReadonlyArray<number>
  /** The held-out metrics measured during training, in step order (empty without Options.evaluate). */
  readonly evaluations: ReadonlyArray<Evaluation>
  /** Step the run started from: 0, or the checkpoint it resumed. */
  readonly resumedFrom: number
  readonly elapsedMs: number
}

export class TrainingError extends Error {
  constructor(readonly step: number, readonly detail: string) {
    super(`training step ${step}: ${detail}`)
  }
}

interface Latest {
  readonly step: number
  readonly dir: string
  readonly losses: ReadonlyArray<number>
  readonly evaluations?: ReadonlyArray<Evaluation>
}

const latestFile = (dir: string) => path.join(dir, "latest.json")

const saveCheckpoint = async (dir: string, weights: W.Weights, state: AdamW.State, step: number, losses: ReadonlyArray<number>, evaluations: ReadonlyArray<Evaluation>) => {
  const name = `ckpt-${String(step).padStart(7, "0")}`
  const tmp = path.join(dir, `${name}.tmp-${process.pid}`)
  await fs.promises.rm(tmp, { recursive: true, force: true })
  const tensors = new Map<string, tf.Tensor>(weights)
  for (const [n, m] of state.m) tensors.set(`opt/m/${n}`, m)
  for (const [n, v] of state.v) tensors.set(`opt/v/${n}`, v)
  await W.save(tmp, tensors, { step, adamStep: state.step })
  await fs.promises.rm(path.join(dir, name), { recursive: true, force: true })
  await fs.promises.rename(tmp, path.join(dir, name))
  Fault.point("checkpoint")
  const latest: Latest = { step, dir: name, losses, evaluations }
  const pointer = `${latestFile(dir)}.tmp-${process.pid}`
  await fs.promises.writeFile(pointer, JSON.stringify(latest))
  await fs.promises.rename(pointer, latestFile(dir))
  // Older checkpoints are no longer needed.
  for (const entry of await fs.promises.readdir(dir)) {
    if (entry.startsWith("ckpt-") && entry !== name) await fs.promises.rm(path.join(dir, entry), { recursive: true, force: true })
  }
}

const loadCheckpoint = async (dir: string, weights: W.Weights, state: AdamW.State): Promise<Latest | undefined> => {
  let latest: Latest
  try {
    latest = JSON.parse(await fs.promises.readFile(latestFile(dir), "utf8"))
  } catch {
    return undefined
  }
  const { tensors, meta } = await W.read(path.join(dir, latest.dir))
  W.assign(weights, tensors, path.join(dir, latest.dir))
  for (const [n, m] of state.m) m.assign(tensors.get(`opt/m/${n}`)!)
  for (const [n, v] of state.v) v.assign(tensors.get(`opt/v/${n}`)!)
  state.step = (meta as { adamStep: number }).adamStep
  for (const t of tensors.values()) t.dispose()
  return latest
}

export const train = async (
  weights: W.Weights,
  policy: Freeze.Policy,
  lossAt: (step: number, seed: number) => tf.Scalar,
  o: Options
): Promise<Result> => {
  const adam = { ...AdamW.defaults, ...o.adamw }
  const state = AdamW.init(weights, policy)
  const schedule = Schedule.cosineWithWarmup({ peak: o.lr, steps: o.steps, warmup: Math.round(o.steps * o.warmupFraction) })
  const vars = policy.trainable.map((n) => W.get(weights, n))
  let losses: Array<number> = []
  let evaluations: Array<Evaluation> = []
  let start = 0
  if (o.checkpointDir !== undefined) {
    await fs.promises.mkdir(o.checkpointDir, { recursive: true })
    const resumed = await loadCheckpoint(o.checkpointDir, weights, state)
    if (resumed !== undefined) {
      start = resumed.step
      losses = [...resumed.losses]
      evaluations = [...(resumed.evaluations ?? [])]
      o.onCheckpoint?.({ resumed: start })
    }
  }
  const t0 = performance.now()
  let lastReport = 0
  try {
    for (let step = start; step < o.steps; step++) {
      const seed = W.seedFor(o.seed, `step-${step}`)
      const { value, grads: byVariable } = tf.variableGrads(() => lossAt(step, seed), vars)
      // variableGrads keys gradients by TF.js's variable names; ours are the policy's.
      // A weight the loss does not reach (the ViT's unused last block, say) has no gradient.
      const grads: tf.NamedTensorMap = Object.fromEntries(
        policy.trainable.flatMap((n, i) => {
          const g = byVariable[vars[i]!.name]
          return g == null ? [] : [[n, g]]
        })
      )
      const loss = (await value.data())[0]!
      value.dispose()
      if (!Number.isFinite(loss)) {
        tf.dispose(grads)
        throw new TrainingError(step, `the loss is ${loss}; stopping (lower the learning rate or check the data)`)
      }
      const lr = schedule(step)
      const norm = AdamW.apply(weights, state, grads, lr, adam)
      tf.dispose(grads)
      const gradNorm = (await norm.data())[0]!
      norm.dispose()
      losses.push(loss)
      const done = step + 1
      const now = performance.now()
      if (o.onProgress !== undefined && (done === o.steps || now - lastReport >= (o.progressEveryMs ?? 0))) {
        lastReport = now
        const elapsedMs = now - t0
        const perStep = elapsedMs / (done - start)
        o.onProgress({ step: done, steps: o.steps, loss, lr, gradNorm, tokensPerSecond: o.tokensPerStep / (perStep / 1000), elapsedMs, etaMs: perStep * (o.steps - done) })
      }
      if (o.evaluate !== undefined && (done % o.evaluate.every === 0 || done === o.steps)) evaluations.push({ step: done, metrics: await o.evaluate.run(done) })
      if (o.checkpointDir !== undefined && (o.checkpointEvery ?? 0) > 0 && done % o.checkpointEvery! === 0 && done < o.steps) {
        await saveCheckpoint(o.checkpointDir, weights, state, done, losses, evaluations)
        o.onCheckpoint?.({ saved: done })
      }
    }
  } finally {
    AdamW.dispose(state)
  }
  return { losses, evaluations, resumedFrom: start, elapsedMs: performance.now() - t0 }
}
