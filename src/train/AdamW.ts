/**
 * AdamW (decoupled weight decay) over named variables, with global-norm gradient clipping and
 * row masks: a masked row gets a zero gradient and no decay, so its value never changes.
 */
import * as tf from "@tensorflow/tfjs-core"
import type * as Freeze from "../model/Freeze.ts"
import type * as W from "../model/Weights.ts"

export interface Options {
  readonly beta1: number
  readonly beta2: number
  readonly epsilon: number
  readonly weightDecay: number
  /** Global gradient-norm limit; 0 disables clipping. */
  readonly clipNorm: number
}

export const defaults: Options = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, clipNorm: 1 }

export interface State {
  step: number
  readonly m: Map<string, tf.Variable>
  readonly v: Map<string, tf.Variable>
  /** [rows, 1] masks of row-restricted weights. */
  readonly masks: Map<string, tf.Tensor>
}

export const init = (weights: W.Weights, policy: Freeze.Policy): State => {
  const m = new Map<string, tf.Variable>()
  const v = new Map<string, tf.Variable>()
  const masks = new Map<string, tf.Tensor>()
  for (const name of policy.trainable) {
    const w = weights.get(name)!
    m.set(name, tf.variable(tf.zerosLike(w), false))
    v.set(name, tf.variable(tf.zerosLike(w), false))
    const rows = policy.rows.get(name)
    if (rows !== undefined) {
      const mask = new Float32Array(w.shape[0]!)
      for (const r of rows) mask[r] = 1
      masks.set(name, tf.tensor2d(mask, [w.shape[0]!, 1]))
    }
  }
  return { step: 0, m, v, masks }
}

/**
 * One update; returns the gradient norm before clipping, as a scalar tensor the caller reads (and
 * disposes). Nothing here reads data back synchronously, which WebGPU in Node cannot do.
 */
export const apply = (weights: W.Weights, state: State, grads: tf.NamedTensorMap, lr: number, o: Options): tf.Scalar => {
  state.step++
  const t = state.step
  return tf.tidy(() => {
    const masked: tf.NamedTensorMap = {}
    for (const [name, g] of Object.entries(grads)) {
      const mask = state.masks.get(name)
      masked[name] = mask === undefined ? g : tf.mul(g, mask)
    }
    // Summed pairwise, not with addN: WebGPU limits how many buffers one kernel may bind.
    const total = tf.sqrt(Object.values(masked).reduce<tf.Tensor>((acc, g) => tf.add(acc, tf.sum(tf.square(g))), tf.scalar(0))) // []
    const scale = o.clipNorm > 0 ? tf.minimum(1, tf.div(o.clipNorm, tf.maximum(total, 1e-12))) : tf.scalar(1) // []
    const c1 = 1 - o.beta1 ** t
    const c2 = 1 - o.beta2 ** t
    for (const [name, g0] of Object.entries(masked)) {
      const g = tf.mul(g0, scale)
      const w = weights.get(name)!
      const m = state.m.get(name)!
      const v = state.v.get(name)!
      m.assign(tf.add(tf.mul(m, o.beta1), tf.mul(g, 1 - o.beta1)))
      v.assign(tf.add(tf.mul(v, o.beta2), tf.mul(tf.square(g), 1 - o.beta2)))
      const step = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), o.epsilon))
      const mask = state.masks.get(name)
      const decay = o.weightDecay > 0 ? tf.mul(mask === undefined ? w : tf.mul(w, mask), o.weightDecay) : undefined
      w.assign(tf.sub(w, tf.mul(decay === undefined ? step : tf.add(step, decay), lr)))
    }
    return total as tf.Scalar
  })
}

export const dispose = (state: State): void => {
  for (const x of [...state.m.values(), ...state.v.values(), ...state.masks.values()]) x.dispose()
}
