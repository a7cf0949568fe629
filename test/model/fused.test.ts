/**
 * The fused ops (src/model/Fused.ts) on the wasm backend's native kernels (src/native/fused.c)
 * against their TF.js composites on the cpu backend: values and the gradient of every input, the
 * same gradients by finite differences, SplitV along each axis, and bits that do not depend on the
 * number of threads. Without the native addon the fused kernels are absent and these are skipped
 * (the composites then run everywhere, and kernels-wasm.test.ts covers them).
 */
import test from "ava"
import * as tf from "@tensorflow/tfjs-core"
import { spawnSync } from "node:child_process"
import * as Backend from "../../src/model/Backend.ts"
import * as Fused from "../../src/model/Fused.ts"
import * as W from "../../src/model/Weights.ts"
import { on, random, relError } from "./backends.ts"

const selected = await Backend.select("wasm")
await import("@tensorflow/tfjs-backend-cpu")
const native = selected.fused === "native"
const check = native ? test.serial : test.serial.skip

const count = (shape: ReadonlyArray<number>) => tf.util.sizeFromShape([...shape])

/** The op's value and the gradients of Σ op(inputs)·w for a fixed random w, by tf.grads. */
const valueAndGrads = (op: (...xs: Array<tf.Tensor>) => tf.Tensor, inputs: Array<[Float32Array, Array<number>]>, outSize: number) => () => {
  const xs = inputs.map(([v, s]) => tf.tensor(v, s))
  const weight = tf.tensor(random(outSize, 99, 2))
  const f = (...a: Array<tf.Tensor>) => tf.sum(tf.mul(tf.reshape(op(...a), [-1]), weight))
  return [op(...xs), ...tf.grads(f)(xs)]
}

check("the cpu backend has no fused kernels; wasm has all of them", async (t) => {
  await tf.setBackend("cpu")
  t.false(Fused.available(Fused.GELU))
  await tf.setBackend("wasm")
  for (const k of [Fused.GELU, Fused.GELU_GRAD, Fused.LAYER_NORM, Fused.LAYER_NORM_GRAD, Fused.SOFTMAX, Fused.SOFTMAX_GRAD]) t.true(Fused.available(k), k)
})

const cases: Array<[string, (...xs: Array<tf.Tensor>) => tf.Tensor, Array<[Float32Array, Array<number>]>, number]> = [
  // Large enough (≥ 32,768 elements) that the kernels run threaded; inputs reach tanh's flat tails.
  ["gelu", (x) => Fused.gelu(x), [[random(4 * 64 * 160, 1, 6), [4, 64, 160]]], 4 * 64 * 160],
  ["gelu, small", (x) => Fused.gelu(x), [[random(7 * 5, 2, 2), [7, 5]]], 35],
  ["layer norm", (x, g, b) => Fused.layerNorm(x, g, b), [[random(300 * 128, 3, 3), [3, 100, 128]], [random(128, 4, 2), [128]], [random(128, 5, 2), [128]]], 300 * 128],
  ["layer norm, 3 rows", (x, g, b) => Fused.layerNorm(x, g, b), [[random(3 * 12, 6, 2), [3, 12]], [random(12, 7, 2), [12]], [random(12, 8, 2), [12]]], 36]
]
for (const [label, op, inputs, outSize] of cases) {
  check(`${label}: native kernels on wasm match the composite on cpu, value and gradients`, async (t) => {
    const composite = label.startsWith("gelu") ? (x: tf.Tensor) => Fused.geluComposite(x) : (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => Fused.layerNormComposite(x, g, b)
    const wasm = await on("wasm", valueAndGrads(op, inputs, outSize))
    const cpu = await on("cpu", valueAndGrads(composite as (...xs: Array<tf.Tensor>) => tf.Tensor, inputs, outSize))
    t.is(wasm.length, inputs.length + 1)
    wasm.forEach((w, i) => t.true(relError(w, cpu[i]!) < 2e-5, `${i === 0 ? "value" : `gradient ${i - 1}`}: ${relError(w, cpu[i]!)}`))
  })
}

const B = 2
const H = 3
const T = 40
const masks: Array<[string, Array<number> | undefined]> = [
  ["no mask", undefined],
  ["a causal mask [1, 1, T, T]", [1, 1, T, T]],
  ["a per-sequence mask [B, 1, T, T]", [B, 1, T, T]],
  ["a key mask [B, 1, 1, T]", [B, 1, 1, T]]
]
const maskValues = (shape: Array<number>) => {
  const [mb, , mt, mk] = shape as [number, number, number, number]
  const next = W.rng(11)
  return Float32Array.from({ length: count(shape) }, (_, i) => {
    const q = Math.floor(i / mk) % mt
    const k = i % mk
    return (mt > 1 && k > q) || (mb > 1 && next() < 0.2) ? -1e9 : 0
  })
}
for (const [label, maskShape] of masks) {
  check(`attention weights with ${label}: native on wasm match the composite on cpu`, async (t) => {
    const scale = 1 / Math.sqrt(16)
    const scores = random(B * H * T * T, 12, 8)
    const mask = maskShape && maskValues(maskShape)
    const run = (op: typeof Fused.attentionWeights) => () => {
      const x = tf.tensor(scores, [B, H, T, T])
      const m = mask === undefined ? undefined : tf.tensor(mask, maskShape)
      const weight = tf.tensor(random(B * H * T * T, 13, 2), [B, H, T, T])
      if (m === undefined) return [op(x, m, scale), tf.grad((s: tf.Tensor) => tf.sum(tf.mul(op(s, undefined, scale), weight)))(x)]
      const f = (s: tf.Tensor, k: tf.Tensor) => tf.sum(tf.mul(op(s, k, scale), weight))
      return [op(x, m, scale), ...tf.grads(f)([x, m])]
    }
    const wasm = await on("wasm", run(Fused.attentionWeights))
    const cpu = await on("cpu", run(Fused.attentionWeightsComposite))
    t.true(relError(wasm[0]!, cpu[0]!) < 1e-5, `value: ${relError(wasm[0]!, cpu[0]!)}`)
    t.is(wasm.length, mask === undefined ? 2 : 3)
    for (let i = 1; i < wasm.length; i++) t.true(relError(wasm[i]!, cpu[i]!) < 1e-5, `gradient ${i}: ${relError(wasm[i]!, cpu[i]!)}`)
    // Masked weights are exactly 0 (not subnormal), as with libm's exp.
    if (mask !== undefined) t.true(wasm[0]!.every((w, i) => mask[i % (T * T)] !== -1e9 || maskShape![0] !== 1 || w === 0))
  })
}

check("the fused gradients match finite differences on wasm", async (t) => {
  await tf.setBackend("wasm")
  const x = random(6 * 10, 21, 3)
  const g = random(10, 22, 2)
  const b = random(10, 23, 2)
  const w = random(6 * 10, 24, 2)
  const loss = (xs: Float32Array, gs: Float32Array) =>
    tf.tidy(() => {
      const X = tf.tensor(xs, [6, 10])
      const y = tf.add(Fused.gelu(X), Fused.layerNorm(X, tf.tensor(gs), tf.tensor(b)))
      const s = Fused.attentionWeights(tf.reshape(y, [1, 2, 3, 10]), undefined, 0.7)
      return tf.sum(tf.mul(tf.reshape(s, [-1]), tf.tensor(w))).dataSync()[0]!
    })
  const [gx, gg] = tf.tidy(() => {
    const f = (X: tf.Tensor, G: tf.Tensor) => {
      const y = tf.add(Fused.gelu(X), Fused.layerNorm(X, G, tf.tensor(b)))
      return tf.sum(tf.mul(tf.reshape(Fused.attentionWeights(tf.reshape(y, [1, 2, 3, 10]), undefined, 0.7), [-1]), tf.tensor(w)))
    }
    return tf.grads(f)([tf.tensor(x, [6, 10]), tf.tensor(g)]).map((d) => Float32Array.from(d.dataSync() as Float32Array))
  })
  const eps = 1e-2
  const numeric = (values: Float32Array, index: number, f: (v: Float32Array) => number) => {
    const plus = Float32Array.from(values)
    const minus = Float32Array.from(values)
    plus[index]! += eps
    minus[index]! -= eps
    return (f(plus) - f(minus)) / (2 * eps)
  }
  for (const i of [0, 13, 37, 59]) {
    const n = numeric(x, i, (v) => loss(v, g))
    t.true(Math.abs(n - gx![i]!) < 2e-3 + 1e-2 * Math.abs(n), `x[${i}]: numeric ${n} vs ${gx![i]}`)
  }
  for (const i of [0, 4, 9]) {
    const n = numeric(g, i, (v) => loss(x, v))
    t.true(Math.abs(n - gg![i]!) < 2e-3 + 1e-2 * Math.abs(n), `g[${i}]: numeric ${n} vs ${gg![i]}`)
  }
})

check("SplitV on wasm (row copies) matches cpu along every axis", async (t) => {
  const shape = [3, 5, 12]
  const v = random(count(shape), 31, 2)
  for (const [axis, sizes] of [[0, [1, 2]], [1, [2, 3]], [2, [4, 4, 4]], [2, [3, 9]], [-1, [1, 11]]] as Array<[number, Array<number>]>) {
    const run = () => tf.split(tf.tensor(v, shape), sizes.length === 2 && sizes[0] === sizes[1] ? 2 : sizes, axis)
    const wasm = await on("wasm", run)
    const cpu = await on("cpu", run)
    t.is(wasm.length, cpu.length)
    wasm.forEach((w, i) => t.deepEqual(Array.from(w), Array.from(cpu[i]!), `axis ${axis}, part ${i}`))
  }
})

check("the fused kernels give the same bits on one thread and on all of them", (t) => {
  // A child process per thread count (OpenMP reads it at start): the bits of every output must match.
  const script = `
    const tf = await import("@tensorflow/tfjs-core")
    const Backend = await import("./src/model/Backend.ts")
    const Fused = await import("./src/model/Fused.ts")
    await Backend.select("wasm")
    const n = 64 * 40 * 96
    const x = tf.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 4), [64, 40, 96])
    const g = tf.tensor(Float32Array.from({ length: 96 }, (_, i) => 1 + Math.cos(i)))
    const b = tf.tensor(Float32Array.from({ length: 96 }, (_, i) => Math.sin(i)))
    const f = (x, g, b) => tf.sum(tf.mul(Fused.attentionWeights(tf.reshape(tf.add(Fused.gelu(x), Fused.layerNorm(x, g, b)), [64, 1, 40, 96]), undefined, 0.3), x))
    const grads = tf.grads(f)([x, g, b])
    const digest = (await import("node:crypto")).createHash("sha256")
    for (const t of grads) digest.update(Buffer.from((await t.data()).buffer))
    process.stdout.write(digest.digest("hex"))
  `
  const digests = ["1", "2"].map((threads) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: threads } })
    t.is(r.status, 0, r.stderr)
    return r.stdout
  })
  t.regex(digests[0]!, /^[0-9a-f]{64}$/)
  t.is(digests[0], digests[1])
})
