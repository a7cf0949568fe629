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
 * - When `build/native/pinkflow_sgemm.node` exists (built at install over OpenBLAS, see
 *   scripts/build-native.mjs), `BatchMatMul` runs there instead: the addon reads the operands on the
 *   wasm heap in place and writes the product into the output tensor, on every core.
 *
 * Each is checked against the cpu backend by a numeric gradient test (test/model/kernels.test.ts).
 */
import * as tf from "@tensorflow/tfjs-core"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

type Sgemm = (a: Float32Array, b: Float32Array, out: Float32Array, batch: number, m: number, n: number, k: number, ta: boolean, tb: boolean, sa: number, sb: number) => void

const ADDON = path.join("build", "native", "pinkflow_sgemm.node")

/** The native sgemm, found by walking up from this module (source tree or pipeline bundle). */
const loadNative = (): Sgemm | undefined => {
  if (process.env.PINKFLOW_NATIVE_MATMUL === "0") return undefined
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = path.join(dir, ADDON)
    if (fs.existsSync(candidate)) {
      try {
        return (createRequire(import.meta.url)(candidate) as { sgemm: Sgemm }).sgemm
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

interface WasmBackend {
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
  const sizeA = batchA.reduce((x, y) => x * y, 1)
  const sizeB = batchB.reduce((x, y) => x * y, 1)
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

let native: Sgemm | undefined

export const register = (): void => {
  if (registered) return
  registered = true
  native = loadNative()
  if (native !== undefined) matmulKernel = "openblas"

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
        if (native !== undefined) {
          const out = nativeMatMul(native, a, b, transposeA, transposeB, backend as unknown as WasmBackend)
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

  if (tf.getKernel("UnsortedSegmentSum", "wasm") === undefined) {
    tf.registerKernel({
      kernelName: "UnsortedSegmentSum",
      backendName: "wasm",
      kernelFunc: ({ inputs, backend, attrs }) => {
        const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo }
        const { numSegments } = attrs as unknown as { numSegments: number }
        const wasm = backend as unknown as WasmBackend
        const rows = segmentIds.shape.reduce((a, b) => a * b, 1)
        const innerShape = x.shape.slice(segmentIds.shape.length)
        const inner = innerShape.reduce((a, b) => a * b, 1)
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
