/** Logistic regression on two features, trained by full-batch gradient descent. */
import type { Point } from "./csv.ts"
import { clip, sigmoid } from "./math.ts"

export interface Weights {
  readonly w: readonly [number, number]
  readonly b: number
}

export const predict = (m: Weights, p: { readonly x: number; readonly y: number }): number =>
  clip(sigmoid(m.w[0] * p.x + m.w[1] * p.y + m.b))

export const train = (points: ReadonlyArray<Point>, lr: number, epochs: number): { weights: Weights; loss: number } => {
  let w0 = 0
  let w1 = 0
  let b = 0
  let loss = 0
  for (let epoch = 0; epoch < epochs; epoch++) {
    let g0 = 0
    let g1 = 0
    let gb = 0
    loss = 0
    for (const p of points) {
      const q = predict({ w: [w0, w1], b }, p)
      const err = q - p.label
      g0 += err * p.x
      g1 += err * p.y
      gb += err
      loss -= p.label * Math.log(q) + (1 - p.label) * Math.log(1 - q)
    }
    const n = points.length
    w0 -= (lr * g0) / n
    w1 -= (lr * g1) / n
    b -= (lr * gb) / n
    loss /= n
  }
  return { weights: { w: [w0, w1], b }, loss }
}
