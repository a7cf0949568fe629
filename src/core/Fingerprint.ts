/**
 * Code fingerprints: what a stage's code is, as a record the cache key can diff.
 *
 * A stage's fingerprint covers the module that declared it and every project module it imports,
 * transitively (static and dynamic imports, from the loader's import graph), each hashed after
 * esbuild strips comments, types and formatting, plus the exact versions of the packages those
 * modules import. Comment-, type- and whitespace-only edits leave it unchanged.
 */
import * as path from "node:path"
import * as fs from "node:fs"
import * as Digest from "./Digest.ts"
import type * as Loader from "./Loader.ts"
import type { StatCache } from "./StatCache.ts"

export interface Fingerprint {
  /** Project module → digest of its normalised code. */
  readonly modules: Readonly<Record<string, string>>
  /** Package → installed version. */
  readonly packages: Readonly<Record<string, string>>
}

/** The project modules reachable from `entry`, itself included, sorted. */
export const closure = (graph: Loader.Graph, entry: string): Array<string> => {
  const seen = new Set<string>()
  const stack = [entry]
  while (stack.length > 0) {
    const m = stack.pop()!
    if (seen.has(m) || graph[m] === undefined) continue
    seen.add(m)
    stack.push(...graph[m].imports)
  }
  return [...seen].sort()
}

const NORMALISED = "code-v1"

/** The module's code with comments, types and formatting removed, hashed. */
const normalisedDigest = async (file: string): Promise<string> => {
  const esbuild = await import("esbuild")
  const source = await fs.promises.readFile(file, "utf8")
  const ext = path.extname(file).replace(/^\.[cm]?/, "")
  const loader = (["ts", "tsx", "js", "jsx"].includes(ext) ? ext : "js") as "ts" | "tsx" | "js" | "jsx"
  const { code } = await esbuild.transform(source, {
    loader,
    minifyWhitespace: true,
    legalComments: "none",
    format: "esm",
    target: "esnext"
  })
  return Digest.ofBytes(code)
}

export const compute = async (
  cache: StatCache["Service"],
  root: string,
  graph: Loader.Graph,
  entry: string
): Promise<Fingerprint> => {
  const modules: Record<string, string> = {}
  const packages: Record<string, string> = {}
  for (const m of closure(graph, entry)) {
    modules[m] = await cache.get(path.join(root, m), NORMALISED, normalisedDigest)
    Object.assign(packages, graph[m]!.packages)
  }
  return { modules, packages }
}
