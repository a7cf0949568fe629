/**
 * Kernel fixes for TF.js's wasm backend, registered before it starts:
 *
 * - `BatchMatMul` with `transposeA`/`transposeB` runs ~15× slower than without (measured; see
 *   ../shared/tfjs-notes.md), and every matmul gradient uses those flags. The replacement transposes
 *   the flagged operand with the wasm `Transpose` kernel, then multiplies without flags: the same
 *   products, summed in the same order.
 * - `UnsortedSegmentSum` (the gradient of `gather`, i.e. of every embedding lookup) has no wasm
 *   kernel. The replacement sums rows on the wasm heap in JavaScript.
 *
 * - `Identity` and a `Cast` to the same dtype share their input's data instead of copying it (the
 *   tape clones every tensor a gradient saves).
 *
 * When the native addon `build/native/pinkflow_native.node` exists (built at install, see
 * scripts/build-native.mjs; src/native/), its kernels read the operands on the wasm heap in place,
 * write into the output tensors, and run on every core:
 *
 * - `BatchMatMul` over OpenBLAS, when the addon was built with it;
 * - the fused ops of `Fused` (GELU, layer norm, attention's masked softmax, forward and backward);
 * - `SplitV` (the attention's q/k/v split and the gradient of every concat) as row copies.
 *
 * Each is checked against the cpu backend: the matmul and lookup gradient in
 * test/model/kernels.test.ts, the fused kernels and SplitV in test/model/fused.test.ts.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Fused from "./Fused.ts"

type Sgemm = (a: Float32Array, b: Float32Array, out: Float32Array, batch: number, m: number, n: number, k: number, ta: boolean, tb: boolean, sa: number, sb: number) => void

/** The addon's functions (src/native/fused.c documents each); `sgemm` only when built over OpenBLAS. */
interface Native {
  readonly sgemm?: Sgemm
  readonly gelu: (x: Float32Array, y: Float32Array, n: number) => void
  readonly geluGrad: (x: Float32Array, dy: Float32Array, dx: Float32Array, n: number) => void
  readonly layerNorm: (x: Float32Array, g: Float32Array, b: Float32Array, y: Float32Array, rows: number, c: number, eps: number) => void
  readonly layerNormGrad: (x: Float32Array, g: Float32Array, dy: Float32Array, dx: Float32Array, dg: Float32Array, db: Float32Array, rows: number, c: number, eps: number) => void
  readonly softmax: (x: Float32Array, mask: Float32Array | null, y: Float32Array, rows: number, cols: number, scale: number, rowsPerBatch: number, tq: number, maskBatch: number, maskRows: number) => void
  readonly softmaxGrad: (y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number, scale: number) => void
  readonly split: (x: Float32Array, outs: Array<Float32Array>, outer: number, inner: number, sizes: Array<number>) => void
}

const ADDON = path.join("build", "native", "pinkflow_native.node")

const size = tf.util.sizeFromShape

/**
 * The native addon, found by walking up from this module (source tree or pipeline bundle).
 * `PINKFLOW_NATIVE=0` leaves it out entirely; `PINKFLOW_NATIVE_MATMUL=0` only its matmul.
 */
const loadNative = (): Native | undefined => {
  if (process.env.PINKFLOW_NATIVE === "0") return undefined
  // OpenMP's idle threads would otherwise spin between kernels, taking cores from OpenBLAS's.
  process.env.OMP_WAIT_POLICY ??= "PASSIVE"
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = path.join(dir, ADDON)
    if (fs.existsSync(candidate)) {
      try {
        const addon = createRequire(import.meta.url)(candidate) as Native
        return process.env.PINKFLOW_NATIVE_MATMUL === "0" ? { ...addon, sgemm: undefined } : addon
      } catch {
        return undefined
      }
    }
    const up = path.dirname(dir)
    if (up === dir) return undefined
    dir = up
  }
}

/** Which matmul the wasm backend uses: `openblas` (native) or `wasm`. */
export let matmulKernel: "openblas" | "wasm" = "wasm"

/** Where the fused ops and SplitV run on the wasm backend: `native` (the addon) or `wasm` (composites). */
export let fusedKernels: "native" | "wasm" = "wasm"

interface WasmBackend {
  readonly incRef: (dataId: tf.DataId) => void
  readonly makeOutput: (shape: Array<number>, dtype: tf.DataType) => tf.TensorInfo
  readonly typedArrayFromHeap: (t: tf.TensorInfo) => Float32Array | Int32Array | Uint8Array
  readonly disposeData: (dataId: tf.DataId) => boolean
}

let registered = false

const transposeLastTwo = (x: tf.TensorInfo, backend: unknown, transpose: tf.KernelConfig): tf.TensorInfo => {
  const rank = x.shape.length
  const perm = [...Array(rank).keys()]
  perm[rank - 2] = rank - 1
  perm[rank - 1] = rank - 2
  return transpose.kernelFunc({ inputs: { x }, backend: backend as tf.KernelBackend, attrs: { perm } }) as tf.TensorInfo
}

/** a [..., m, k] × b [..., k, n] (or transposed) on the native sgemm; undefined if it cannot broadcast. */
const nativeMatMul = (sgemm: Sgemm, a: tf.TensorInfo, b: tf.TensorInfo, ta: boolean, tb: boolean, wasm: WasmBackend): tf.TensorInfo | undefined => {
  if (a.dtype !== "float32" || b.dtype !== "float32") return undefined
  const ra = a.shape.length
  const rb = b.shape.length
  const m = ta ? a.shape[ra - 1]! : a.shape[ra - 2]!
  const k = ta ? a.shape[ra - 2]! : a.shape[ra - 1]!
  const n = tb ? b.shape[rb - 2]! : b.shape[rb - 1]!
  const batchA = a.shape.slice(0, -2)
  const batchB = b.shape.slice(0, -2)
  const sizeA = size(batchA)
  const sizeB = size(batchB)
  const sameBatch = batchA.length === batchB.length && batchA.every((d, i) => d === batchB[i])
  if (!sameBatch && sizeA !== 1 && sizeB !== 1) return undefined
  const outBatch = sizeA >= sizeB ? batchA : batchB
  const batch = Math.max(sizeA, sizeB)
  const out = wasm.makeOutput([...outBatch, m, n], "float32")
  // Views after makeOutput: allocating can grow (and detach) the wasm heap.
  const av = wasm.typedArrayFromHeap(a) as Float32Array
  const bv = wasm.typedArrayFromHeap(b) as Float32Array
  const ov = wasm.typedArrayFromHeap(out) as Float32Array
  sgemm(av, bv, ov, batch, m, n, k, ta, tb, sizeA === 1 ? 0 : m * k, sizeB === 1 ? 0 : k * n)
  return out
}

let native: Native | undefined

export const register = (): void => {
  if (registered) return
  registered = true
  native = loadNative()
  if (native?.sgemm !== undefined) matmulKernel = "openblas"
  if (native !== undefined) {
    fusedKernels = "native"
    registerFused(native)
  }

  const matmul = tf.getKernel("BatchMatMul", "wasm")
  const transpose = tf.getKernel("Transpose", "wasm")
  if (matmul !== undefined && transpose !== undefined) {
    tf.unregisterKernel("BatchMatMul", "wasm")
    tf.registerKernel({
      kernelName: "BatchMatMul",
      backendName: "wasm",
      setupFunc: matmul.setupFunc,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo }
        const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean }
        if (native?.sgemm !== undefined) {
          const out = nativeMatMul(native.sgemm, a, b, transposeA, transposeB, backend as unknown as WasmBackend)
          if (out !== undefined) return out
        }
        if (!transposeA && !transposeB) return matmul.kernelFunc({ inputs, backend, attrs })
        const at = transposeA ? transposeLastTwo(a, backend, transpose) : a
        const bt = transposeB ? transposeLastTwo(b, backend, transpose) : b
        const out = matmul.kernelFunc({ inputs: { a: at, b: bt }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } })
        const wasm = backend as unknown as WasmBackend
        if (at !== a) wasm.disposeData(at.dataId)
        if (bt !== b) wasm.disposeData(bt.dataId)
        return out
      }
    })
  }

  // Tensor data is never written after its kernel returns, so a copy that keeps its dtype can share
  // it, as the cpu backend does (wasm copies; the tape clones every tensor a gradient saves).
  for (const name of ["Identity", "Cast"]) {
    const original = tf.getKernel(name, "wasm")
    if (original === undefined) continue
    tf.unregisterKernel(name, "wasm")
    tf.registerKernel({
      kernelName: name,
      backendName: "wasm",
      kernelFunc: (args) => {
        const x = (args.inputs as { x: tf.TensorInfo }).x
        const dtype = (args.attrs as { dtype?: tf.DataType } | undefined)?.dtype ?? x.dtype
        if (x.dtype === "string" || dtype !== x.dtype) return original.kernelFunc(args)
        ;(args.backend as unknown as WasmBackend).incRef(x.dataId)
        return { dataId: x.dataId, shape: x.shape, dtype: x.dtype }
      }
    })
  }

  if (tf.getKernel("UnsortedSegmentSum", "wasm") === undefined) {
    tf.registerKernel({
      kernelName: "UnsortedSegmentSum",
      backendName: "wasm",
      kernelFunc: ({ inputs, backend, attrs }) => {
        const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo }
        const { numSegments } = attrs as unknown as { numSegments: number }
        const wasm = backend as unknown as WasmBackend
        const rows = size(segmentIds.shape)
        const innerShape = x.shape.slice(segmentIds.shape.length)
        const inner = size(innerShape)
        const out = wasm.makeOutput([numSegments, ...innerShape], x.dtype)
        const xs = wasm.typedArrayFromHeap(x)
        const ids = wasm.typedArrayFromHeap(segmentIds)
        const os = wasm.typedArrayFromHeap(out)
        os.fill(0)
        for (let i = 0; i < rows; i++) {
          const id = ids[i]!
          if (id < 0 || id >= numSegments) continue
          const src = i * inner
          const dst = id * inner
          for (let j = 0; j < inner; j++) os[dst + j]! += xs[src + j]!
        }
        return out
      }
    })
  }
}

const float32 = (kernel: string, ...xs: Array<tf.TensorInfo>) => {
  for (const x of xs) if (x.dtype !== "float32") throw new Error(`${kernel}: float32 tensors only, got ${x.dtype}`)
}

/** The addon's fused kernels as TF.js kernels of the wasm backend (the ops and gradients: `Fused`). */
const registerFused = (n: Native): void => {
  const kernel = (kernelName: string, f: (inputs: Record<string, tf.TensorInfo>, wasm: WasmBackend, attrs: Record<string, number>) => tf.TensorInfo | Array<tf.TensorInfo>) =>
    tf.registerKernel({
      kernelName,
      backendName: "wasm",
      kernelFunc: ({ inputs, backend, attrs }) => f(inputs as Record<string, tf.TensorInfo>, backend as unknown as WasmBackend, attrs as unknown as Record<string, number>)
    })
  const f32 = (wasm: WasmBackend, t: tf.TensorInfo) => wasm.typedArrayFromHeap(t) as Float32Array

  kernel(Fused.GELU, ({ x }, wasm) => {
    float32(Fused.GELU, x!)
    const y = wasm.makeOutput([...x!.shape], "float32")
    n.gelu(f32(wasm, x!), f32(wasm, y), size(x!.shape))
    return y
  })
  kernel(Fused.GELU_GRAD, ({ x, dy }, wasm) => {
    float32(Fused.GELU_GRAD, x!, dy!)
    const dx = wasm.makeOutput([...x!.shape], "float32")
    n.geluGrad(f32(wasm, x!), f32(wasm, dy!), f32(wasm, dx), size(x!.shape))
    return dx
  })
  kernel(Fused.LAYER_NORM, ({ x, g, b }, wasm, { eps }) => {
    float32(Fused.LAYER_NORM, x!, g!, b!)
    const c = x!.shape[x!.shape.length - 1]!
    const y = wasm.makeOutput([...x!.shape], "float32")
    n.layerNorm(f32(wasm, x!), f32(wasm, g!), f32(wasm, b!), f32(wasm, y), size(x!.shape) / c, c, eps!)
    return y
  })
  kernel(Fused.LAYER_NORM_GRAD, ({ x, g, dy }, wasm, { eps }) => {
    float32(Fused.LAYER_NORM_GRAD, x!, g!, dy!)
    const c = x!.shape[x!.shape.length - 1]!
    const dx = wasm.makeOutput([...x!.shape], "float32")
    const dg = wasm.makeOutput([c], "float32")
    const db = wasm.makeOutput([c], "float32")
    n.layerNormGrad(f32(wasm, x!), f32(wasm, g!), f32(wasm, dy!), f32(wasm, dx), f32(wasm, dg), f32(wasm, db), size(x!.shape) / c, c, eps!)
    return [dx, dg, db]
  })
  kernel(Fused.SOFTMAX, ({ x, mask }, wasm, { scale, maskBatch, maskRows }) => {
    float32(Fused.SOFTMAX, x!, ...(mask === undefined ? [] : [mask]))
    const [, H, Tq, Tk] = x!.shape as [number, number, number, number]
    const y = wasm.makeOutput([...x!.shape], "float32")
    n.softmax(f32(wasm, x!), mask === undefined ? null : f32(wasm, mask), f32(wasm, y), size(x!.shape) / Tk, Tk, scale!, H * Tq, Tq, maskBatch!, maskRows!)
    return y
  })
  kernel(Fused.SOFTMAX_GRAD, ({ y, dy }, wasm, { scale }) => {
    float32(Fused.SOFTMAX_GRAD, y!, dy!)
    const cols = y!.shape[y!.shape.length - 1]!
    const dx = wasm.makeOutput([...y!.shape], "float32")
    n.softmaxGrad(f32(wasm, y!), f32(wasm, dy!), f32(wasm, dx), size(y!.shape) / cols, cols, scale!)
    return dx
  })

  const splitV = tf.getKernel("SplitV", "wasm")
  if (splitV !== undefined) {
    tf.unregisterKernel("SplitV", "wasm")
    tf.registerKernel({
      kernelName: "SplitV",
      backendName: "wasm",
      kernelFunc: (args) => {
        const { x } = args.inputs as { x: tf.TensorInfo }
        if (x.dtype !== "float32") return splitV.kernelFunc(args)
        const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | Array<number>; axis: number }
        const a = tf.util.parseAxisParam(axis, [...x.shape])[0]!
        const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, a)
        const wasm = args.backend as unknown as WasmBackend
        const outs = sizes.map((s) => wasm.makeOutput(x.shape.map((d, i) => (i === a ? s : d)), "float32"))
        n.split(f32(wasm, x), outs.map((o) => f32(wasm, o)), size(x.shape.slice(0, a)), size(x.shape.slice(a + 1)), sizes)
        return outs
      }
    })
  }
}
