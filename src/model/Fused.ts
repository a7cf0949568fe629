/**
 * Fused ops: GELU, layer norm, and attention's scaled, masked softmax. Where the backend has their
 * kernels (wasm with the native addon, registered by `WasmKernels`), each is one kernel forward and
 * one backward; elsewhere it is the composite of TF.js ops below, the same function. Both paths are
 * compared on values and gradients in test/model/fused.test.ts.
 */
import * as tf from "@tensorflow/tfjs-core"

export const GELU = "PinkflowGelu"
export const GELU_GRAD = "PinkflowGeluGrad"
export const LAYER_NORM = "PinkflowLayerNorm"
export const LAYER_NORM_GRAD = "PinkflowLayerNormGrad"
export const SOFTMAX = "PinkflowSoftmax"
export const SOFTMAX_GRAD = "PinkflowSoftmaxGrad"

export const LAYER_NORM_EPS = 1e-5

/** Whether the current backend has the fused kernel `name`. */
export const available = (name: string): boolean => tf.getKernel(name, tf.getBackend()) !== undefined

const run = (name: string, inputs: tf.NamedTensorMap, attrs: object = {}) =>
  tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap)

// ---- GELU (tanh approximation, as in GPT-2) ----

export const geluComposite = (x: tf.Tensor): tf.Tensor => {
  // x·x·x rather than pow(x, 3), which is ~10× slower on wasm
  const cube = tf.mul(tf.mul(x, x), x) // [..., C]
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(cube, 0.044715)), Math.sqrt(2 / Math.PI)))))
}

export const gelu = (x: tf.Tensor): tf.Tensor => (available(GELU) ? (run(GELU, { x }) as tf.Tensor) : geluComposite(x))

// ---- layer norm over the last axis: (x − mean) / √(var + eps) · g + b ----

export const layerNormComposite = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => {
  const { mean, variance } = tf.moments(x, -1, true) // [..., 1]
  const normed = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, LAYER_NORM_EPS))) // [..., C]
  return tf.add(tf.mul(normed, g), b) // [..., C]
}

export const layerNorm = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor =>
  available(LAYER_NORM) ? (run(LAYER_NORM, { x, g, b }, { eps: LAYER_NORM_EPS }) as tf.Tensor) : layerNormComposite(x, g, b)

// ---- attention weights: softmax(scale · scores + mask) over the keys ----

export const attentionWeightsComposite = (scores: tf.Tensor, mask: tf.Tensor | undefined, scale: number): tf.Tensor => {
  const scaled = tf.mul(scores, scale) // [B, H, Tq, Tk]
  return tf.softmax(mask === undefined ? scaled : tf.add(scaled, mask), -1) // [B, H, Tq, Tk]
}

/** The fused softmax's attributes; maskBatch and maskRows are the mask's dims 0 and 2 (0: no mask). */
export interface SoftmaxAttrs {
  readonly scale: number
  readonly maskBatch: number
  readonly maskRows: number
}

/** The masks the fused kernel reads: [1 or B, 1, 1 or Tq, Tk] against scores [B, H, Tq, Tk]. */
const fusibleMask = (scores: tf.Tensor, mask: tf.Tensor | undefined): boolean => {
  if (scores.rank !== 4) return false
  if (mask === undefined) return true
  const [B, , Tq, Tk] = scores.shape as [number, number, number, number]
  const [mb, mh, mt, mk] = mask.shape
  return mask.rank === 4 && (mb === 1 || mb === B) && mh === 1 && (mt === 1 || mt === Tq) && mk === Tk && mask.dtype === "float32"
}

/** scores [B, H, Tq, Tk], an additive mask broadcast to it (or none) → weights [B, H, Tq, Tk]. */
export const attentionWeights = (scores: tf.Tensor, mask: tf.Tensor | undefined, scale: number): tf.Tensor =>
  available(SOFTMAX) && fusibleMask(scores, mask)
    ? (run(SOFTMAX, mask === undefined ? { x: scores } : { x: scores, mask }, { scale, maskBatch: mask?.shape[0] ?? 0, maskRows: mask?.shape[2] ?? 0 } satisfies SoftmaxAttrs) as tf.Tensor)
    : attentionWeightsComposite(scores, mask, scale)

// ---- gradients (global, like TF.js's own; they run only where the forward kernel did) ----

tf.registerGradient({
  kernelName: GELU,
  inputsToSave: ["x"],
  gradFunc: (dy, saved) => {
    const [x] = saved as [tf.Tensor]
    return { x: () => run(GELU_GRAD, { x, dy: dy as tf.Tensor }) as tf.Tensor }
  }
})

tf.registerGradient({
  kernelName: LAYER_NORM,
  inputsToSave: ["x", "g"],
  gradFunc: (dy, saved, attrs) => {
    const [x, g] = saved as [tf.Tensor, tf.Tensor]
    // One kernel yields all three; what the tape does not need is disposed with the backward pass.
    const [dx, dg, db] = run(LAYER_NORM_GRAD, { x, g, dy: dy as tf.Tensor }, { eps: (attrs as { eps: number }).eps }) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor]
    return { x: () => dx, g: () => dg, b: () => db }
  }
})

tf.registerGradient({
  kernelName: SOFTMAX,
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [y] = saved as [tf.Tensor]
    const { scale, maskBatch, maskRows } = attrs as unknown as SoftmaxAttrs
    const dx = run(SOFTMAX_GRAD, { y, dy: dy as tf.Tensor }, { scale }) as tf.Tensor
    // The mask is added unscaled: its gradient is dx / scale summed over the axes it broadcasts.
    const axes = [...(maskBatch === 1 ? [0] : []), 1, ...(maskRows === 1 ? [2] : [])]
    return { x: () => dx, mask: () => tf.sum(tf.div(dx, scale), axes, true) }
  }
})
