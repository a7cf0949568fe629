/** The kernel checks of kernels.test.ts on the wasm backend's own kernels (native addon disabled). */
export {}
process.env.PINKFLOW_NATIVE = "0"
await import("./kernels.test.ts")
