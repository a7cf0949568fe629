/**
 * The tensor environment a training stage declares in its cache key, computed without loading
 * TF.js (a no-op run must stay fast): the requested backend, the installed TF.js packages, and
 * whether a GPU device is present. `Backend.select` records what was actually chosen.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)

const versionOf = (pkg: string): string | null => {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version
  } catch {
    return null
  }
}

/** What the user asked for: `PINKFLOW_BACKEND` (or `pinkflow run --backend`), else `auto`. */
export const requested = (): string => process.env.PINKFLOW_BACKEND?.trim() || "auto"

/** One string for a stage's `env` field: `env: { tensors: Environment.fingerprint }`. */
export const fingerprint = (): string =>
  JSON.stringify({
    backend: requested(),
    tfjs: versionOf("@tensorflow/tfjs-core"),
    node: versionOf("@tensorflow/tfjs-node"),
    nodeGpu: versionOf("@tensorflow/tfjs-node-gpu"),
    webgpu: versionOf("@tensorflow/tfjs-backend-webgpu"),
    wasm: versionOf("@tensorflow/tfjs-backend-wasm"),
    gpuDevice: fs.existsSync("/dev/nvidia0") || fs.existsSync("/dev/dri")
  })
