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
 * Each is checked against the cpu backend by a numeric gradient test (test/model/kernels.test.ts).
 */
import * as tf from "@tensorflow/tfjs-core"

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

export const register = (): void => {
  if (registered) return
  registered = true

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
