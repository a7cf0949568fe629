/** Helpers for comparing one computation on two TF.js backends (kernel tests). */
import * as tf from "@tensorflow/tfjs-core"
import * as W from "../../src/model/Weights.ts"

/** Seeded values uniform in [−spread, spread). */
export const random = (n: number, seed: number, spread = 1) => {
  const next = W.rng(seed)
  return Float32Array.from({ length: n }, () => (next() * 2 - 1) * spread)
}

/** Runs `f` on a backend and returns the plain values of what it produced. */
export const on = async (backend: "wasm" | "cpu", f: () => Array<tf.Tensor>): Promise<Array<Float32Array>> => {
  await tf.setBackend(backend)
  return tf.tidy(() => f().map((t) => Float32Array.from(t.dataSync() as Float32Array)))
}

/** ‖a − b‖ / ‖b‖. */
export const relError = (a: Float32Array, b: Float32Array) => {
  let num = 0
  let den = 0
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2
    den += b[i]! ** 2
  }
  return Math.sqrt(num / Math.max(den, 1e-30))
}
