/**
 * The tensor runtime: picks the best TF.js backend that loads here, in order
 * tensorflow-gpu (@tensorflow/tfjs-node-gpu) → tensorflow (@tensorflow/tfjs-node) → webgpu (Dawn
 * for Node, only when it finds an adapter) → wasm (SIMD) → cpu, unless `PINKFLOW_BACKEND` (or an
 * explicit name) says which. The native packages are optional dependencies: their install
 * downloads libtensorflow and fails offline, leaving them absent, which is fine.
 *
 * Before the wasm backend starts, its kernels are patched (see `WasmKernels`): transposed matmuls
 * run through a fast path, the missing gradient kernel for embedding lookups is registered, and the
 * native addon's matmul and fused kernels are registered where it is built.
 */
import * as tf from "@tensorflow/tfjs-core"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as Environment from "./Environment.ts"
import * as WasmKernels from "./WasmKernels.ts"

export type Name = "tensorflow-gpu" | "tensorflow" | "webgpu" | "wasm" | "cpu"

export const ORDER: ReadonlyArray<Name> = ["tensorflow-gpu", "tensorflow", "webgpu", "wasm", "cpu"]

export interface Selected {
  readonly name: Name
  /** TF.js's own backend name (`tensorflow` for both node packages). */
  readonly tfName: string
  readonly versions: Readonly<Record<string, string>>
  /** Why each better backend was passed over. */
  readonly skipped: Readonly<Record<string, string>>
  /** The matmul kernel behind the wasm backend (`openblas` when the native addon is built over it). */
  readonly matmul: string
  /** Where the wasm backend's fused ops run: `native` (the addon, every core) or `wasm` (TF.js ops). */
  readonly fused: string
}

export class BackendError extends Error {
  constructor(readonly backend: string, readonly detail: string) {
    super(`backend ${backend}: ${detail}`)
  }
}

const require = createRequire(import.meta.url)

const VULKAN_LOADERS = [
  "/usr/lib/x86_64-linux-gnu/libvulkan.so.1",
  "/lib/x86_64-linux-gnu/libvulkan.so.1",
  "/usr/lib/aarch64-linux-gnu/libvulkan.so.1",
  "/usr/lib64/libvulkan.so.1",
  "/usr/lib/libvulkan.so.1"
]

const versionOf = (pkg: string): string | undefined => {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version
  } catch {
    return undefined
  }
}

/** Tries one backend; returns a reason when it cannot be used. */
const attempt = async (name: Name): Promise<string | undefined> => {
  try {
    switch (name) {
      case "tensorflow-gpu":
      case "tensorflow": {
        await import(name === "tensorflow-gpu" ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node")
        return (await tf.setBackend("tensorflow")) ? undefined : "did not initialise"
      }
      case "webgpu": {
        // Dawn needs the Vulkan loader; without it, say so instead of letting Dawn print a warning.
        if (!VULKAN_LOADERS.some((f) => fs.existsSync(f))) return "no Vulkan loader (libvulkan.so.1) on this machine"
        interface Gpu { readonly requestAdapter: () => Promise<unknown> }
        const webgpu = (await import("webgpu")) as unknown as { create: (flags: Array<string>) => Gpu; globals: object }
        const gpu = webgpu.create([])
        const adapter = await gpu.requestAdapter()
        if (adapter === null) return "no WebGPU adapter (needs a GPU with Vulkan)"
        Object.assign(globalThis, webgpu.globals)
        Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true })
        await import("@tensorflow/tfjs-backend-webgpu")
        return (await tf.setBackend("webgpu")) ? undefined : "did not initialise"
      }
      case "wasm": {
        await import("@tensorflow/tfjs-backend-wasm")
        WasmKernels.register()
        return (await tf.setBackend("wasm")) ? undefined : "did not initialise"
      }
      case "cpu": {
        await import("@tensorflow/tfjs-backend-cpu")
        return (await tf.setBackend("cpu")) ? undefined : "did not initialise"
      }
    }
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e)
    return text.split("\n")[0]!.slice(0, 200)
  }
}

let current: Selected | undefined

/**
 * Gradient functions are registered by the `@tensorflow/tfjs` package (tfjs-core alone has none;
 * its ESM files cannot be imported by Node directly). The registry is global, so every tfjs-core
 * in the process sees them.
 */
const registerGradients = async () => {
  // Production mode: no debug checks, and no console banner about installing tfjs-node.
  tf.env().set("PROD", true)
  await import("@tensorflow/tfjs")
}

/** Selects and initialises a backend (once per process; later calls return the same one). */
export const select = async (wanted: string = Environment.requested()): Promise<Selected> => {
  if (current !== undefined && (wanted === "auto" || wanted === current.name)) return current
  await registerGradients()
  const candidates = wanted === "auto" ? ORDER : ORDER.filter((n) => n === wanted)
  if (candidates.length === 0) throw new BackendError(wanted, `unknown backend; use one of auto, ${ORDER.join(", ")}`)
  const skipped: Record<string, string> = {}
  for (const name of candidates) {
    const reason = await attempt(name)
    if (reason === undefined) {
      const versions: Record<string, string> = { "tfjs-core": tf.version_core }
      for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node", "@tensorflow/tfjs-backend-webgpu", "@tensorflow/tfjs-backend-wasm", "webgpu"]) {
        const v = versionOf(pkg)
        if (v !== undefined) versions[pkg] = v
      }
      current = { name, tfName: tf.getBackend(), versions, skipped, matmul: name === "wasm" ? WasmKernels.matmulKernel : name, fused: name === "wasm" ? WasmKernels.fusedKernels : name }
      return current
    }
    skipped[name] = reason
  }
  throw new BackendError(wanted, `could not be initialised: ${Object.entries(skipped).map(([k, v]) => `${k}: ${v}`).join("; ")}`)
}
