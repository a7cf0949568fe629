// Builds build/native/pinkflow_native.node, the kernels of TF.js's wasm backend (src/native/), when
// a C compiler and Node's headers are present: the fused element-wise kernels always (on every
// core, through OpenMP), the matmul only over OpenBLAS (Debian: libopenblas-dev). Without a
// compiler or headers it says why and exits 0: the wasm backend then keeps its own kernels.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const out = "build/native/pinkflow_native.node"
const nodeInclude = [path.join(path.dirname(process.execPath), "..", "include", "node"), "/usr/include/node"].find((d) => fs.existsSync(path.join(d, "node_api.h")))
const cblas = ["/usr/include/x86_64-linux-gnu/cblas.h", "/usr/include/aarch64-linux-gnu/cblas.h", "/usr/include/cblas.h", "/usr/include/openblas/cblas.h"].find((f) => fs.existsSync(f))
const skip = (why) => {
  process.stdout.write(`native kernels not built (${why}); TF.js wasm keeps its own\n`)
  process.exit(0)
}
if (nodeInclude === undefined) skip("Node's headers (node_api.h) not found")
fs.mkdirSync(path.dirname(out), { recursive: true })
const sources = ["src/native/addon.c", "src/native/fused.c", ...(cblas === undefined ? [] : ["src/native/sgemm.c"])]
const blas = cblas === undefined ? [] : ["-DPINKFLOW_OPENBLAS", `-I${path.dirname(cblas)}`]
const args = ["-O3", "-fno-trapping-math", "-shared", "-fPIC", "-fopenmp", "-DNODE_GYP_MODULE_NAME=pinkflow_native", `-I${nodeInclude}`, ...blas, ...sources, "-o", out, ...(cblas === undefined ? [] : ["-lopenblas"]), "-lm"]
const r = spawnSync("cc", args, { stdio: "inherit" })
if (r.status !== 0) skip(`cc exited ${r.status ?? r.error}`)
process.stdout.write(`built ${out} (${cblas === undefined ? "fused kernels; no cblas.h, so no matmul: apt-get install libopenblas-dev" : "fused kernels and the OpenBLAS matmul"})\n`)
