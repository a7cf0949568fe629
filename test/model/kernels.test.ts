/**
 * The wasm kernel fixes (src/model/WasmKernels.ts) against the cpu backend: forward values and
 * gradients of transposed matmuls and of embedding lookups (UnsortedSegmentSum), a finite-difference
 * check of the lookup gradient, and the gradient of the whole nano model. This file runs with the
 * native OpenBLAS matmul when it is built; kernels-wasm.test.ts runs the same checks without it.
 */
import test from "ava"
import * as tf from "@tensorflow/tfjs-core"
import * as Backend from "../../src/model/Backend.ts"
import * as Freeze from "../../src/model/Freeze.ts"
import * as Pink from "../../src/model/Pink.ts"
import * as W from "../../src/model/Weights.ts"
import { on, random, relError } from "./backends.ts"
import { batch, model, tokenizer } from "./fixture.ts"

const selected = await Backend.select("wasm")
await import("@tensorflow/tfjs-backend-cpu")

test.serial("the backend reports which matmul and fused kernels it uses", (t) => {
  t.log(`wasm matmul kernel: ${selected.matmul}, fused kernels: ${selected.fused}`)
  if (process.env.PINKFLOW_NATIVE === "0") t.deepEqual([selected.matmul, selected.fused], ["wasm", "wasm"])
  else t.true(selected.matmul === "openblas" || selected.matmul === "wasm")
})

const shapes: Array<[string, Array<number>, Array<number>, boolean, boolean]> = [
  ["2-D a·bᵀ", [5, 7], [6, 7], false, true],
  ["2-D aᵀ·b", [7, 5], [7, 6], true, false],
  ["2-D aᵀ·bᵀ", [7, 5], [6, 7], true, true],
  ["4-D attention q·kᵀ", [2, 3, 9, 4], [2, 3, 9, 4], false, true],
  ["4-D aᵀ·b", [2, 3, 4, 9], [2, 3, 4, 5], true, false],
  ["3-D with a broadcast batch", [1, 5, 7], [3, 7, 6], false, false],
  ["3-D broadcast b, bᵀ", [4, 5, 7], [1, 6, 7], false, true]
]

for (const [label, sa, sb, ta, tb] of shapes) {
  test.serial(`matMul ${label}: wasm matches cpu, values and gradients`, async (t) => {
    const a = random(sa.reduce((x, y) => x * y), 1)
    const b = random(sb.reduce((x, y) => x * y), 2)
    // TF.js's own BatchMatMul gradient does not reduce broadcast batch dimensions: values only there.
    const broadcast = sa.length > 2 && sa[0] !== sb[0]
    const run = () => {
      const A = tf.tensor(a, sa)
      const B = tf.tensor(b, sb)
      if (broadcast) return [tf.matMul(A, B, ta, tb)]
      const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, ta, tb)))
      const [ga, gb] = tf.grads(f)([A, B])
      return [tf.matMul(A, B, ta, tb), ga!, gb!]
    }
    const wasm = await on("wasm", run)
    const cpu = await on("cpu", run)
    t.is(wasm.length, broadcast ? 1 : 3)
    wasm.forEach((w, i) => t.true(relError(w, cpu[i]!) < 1e-5, `output ${i}: ${relError(w, cpu[i]!)}`))
  })
}

test.serial("embedding lookup gradient (UnsortedSegmentSum) on wasm matches cpu and finite differences", async (t) => {
  const V = 11
  const C = 6
  const table = random(V * C, 3)
  const ids = Int32Array.from([3, 1, 3, 0, 10, 3, 7])
  const upstream = random(ids.length * C, 4)
  const run = () => {
    const E = tf.tensor2d(table, [V, C])
    const g = tf.grad((e: tf.Tensor) => tf.sum(tf.mul(tf.gather(e, tf.tensor1d(ids, "int32")), tf.tensor2d(upstream, [ids.length, C]))))(E)
    return [g]
  }
  const [wasm] = await on("wasm", run)
  const [cpu] = await on("cpu", run)
  t.true(relError(wasm!, cpu!) < 1e-6)
  // Finite differences of the same function on wasm: row 3 is looked up three times.
  await tf.setBackend("wasm")
  const f = (values: Float32Array) =>
    tf.tidy(() => tf.sum(tf.mul(tf.gather(tf.tensor2d(values, [V, C]), tf.tensor1d(ids, "int32")), tf.tensor2d(upstream, [ids.length, C]))).dataSync()[0]!)
  const eps = 1e-2
  for (const index of [3 * C + 2, 0, 10 * C + 5, 5 * C]) {
    const plus = Float32Array.from(table)
    const minus = Float32Array.from(table)
    plus[index]! += eps
    minus[index]! -= eps
    const numeric = (f(plus) - f(minus)) / (2 * eps)
    t.true(Math.abs(numeric - wasm![index]!) < 1e-3, `index ${index}: numeric ${numeric} vs ${wasm![index]}`)
  }
})

test.serial("the nano model's loss gradient on wasm matches cpu", async (t) => {
  const m = model(3)
  const b = batch()
  const policy = Freeze.policy("adaptersAndProjection", m, tokenizer)
  const names = ["proj/w", "lm/h1/adapter/down/w", "vit/h0/adapter/down/w", "lm/wte"]
  // Make the adapters non-trivial so their gradients flow everywhere.
  for (const n of policy.trainable.filter((x) => x.endsWith("/up/w"))) m.weights.get(n)!.assign(tf.mul(tf.onesLike(m.weights.get(n)!), 0.01))
  const ids = Array.from(b.ids.dataSync())
  const targets = Array.from(b.targets.dataSync())
  const weights = Array.from(b.weights.dataSync())
  const images = Float32Array.from(b.images.dataSync() as Float32Array)
  const shape = b.ids.shape
  const run = () => {
    const vars = names.map((n) => m.weights.get(n)!)
    const { grads } = tf.variableGrads(() => Pink.maskedLoss(
      Pink.forward(m, tf.tensor2d(ids, shape, "int32"), tf.tensor4d(images, b.images.shape as [number, number, number, number]), { training: false }),
      tf.tensor2d(targets, shape, "int32"),
      tf.tensor2d(weights, shape)
    ), vars)
    return vars.map((v) => grads[v.name]!)
  }
  const wasm = await on("wasm", run)
  const cpu = await on("cpu", run)
  names.forEach((n, i) => t.true(relError(wasm[i]!, cpu[i]!) < 1e-4, `${n}: ${relError(wasm[i]!, cpu[i]!)}`))
  W.dispose(m.weights)
})
