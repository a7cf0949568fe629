// Builds build/native/pinkflow_sgemm.node (src/native/sgemm.c over OpenBLAS) when a C compiler,
// Node's headers and OpenBLAS's development files are present (Debian: libopenblas-dev). Without
// them it says why and exits 0: the wasm backend then keeps its own matmul.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const out = "build/native/pinkflow_sgemm.node"
const nodeInclude = [path.join(path.dirname(process.execPath), "..", "include", "node"), "/usr/include/node"].find((d) => fs.existsSync(path.join(d, "node_api.h")))
const cblas = ["/usr/include/x86_64-linux-gnu/cblas.h", "/usr/include/aarch64-linux-gnu/cblas.h", "/usr/include/cblas.h", "/usr/include/openblas/cblas.h"].find((f) => fs.existsSync(f))
const skip = (why) => {
  process.stdout.write(`native sgemm not built (${why}); TF.js wasm keeps its own matmul\n`)
  process.exit(0)
}
if (nodeInclude === undefined) skip("Node's headers (node_api.h) not found")
if (cblas === undefined) skip("cblas.h not found: apt-get install libopenblas-dev")
fs.mkdirSync(path.dirname(out), { recursive: true })
const args = ["-O3", "-shared", "-fPIC", "-DNODE_GYP_MODULE_NAME=pinkflow_sgemm", `-I${nodeInclude}`, `-I${path.dirname(cblas)}`, "src/native/sgemm.c", "-o", out, "-lopenblas"]
const r = spawnSync("cc", args, { stdio: "inherit" })
if (r.status !== 0) skip(`cc exited ${r.status ?? r.error}`)
process.stdout.write(`built ${out}\n`)
