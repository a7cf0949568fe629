/** The kernel checks of kernels.test.ts on the wasm backend's own matmul (native addon disabled). */
export {}
process.env.PINKFLOW_NATIVE_MATMUL = "0"
await import("./kernels.test.ts")
