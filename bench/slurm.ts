/**
 * The Slurm executor's overhead against the local one (`npm run bench:slurm`, needs a running
 * Slurm: scripts/slurm-local.sh). Same machine, same run: a chain of N trivial stages (each waits
 * for the one before: the per-stage submit → schedule → start → finish latency adds up) and N
 * independent trivial stages, each from a cold store under both executors, and the all-cached rerun.
 * Results print and go to bench/out/slurm.json.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { cli, project } from "../test/helpers/project.ts"

const N = Number(process.env.BENCH_STAGES ?? 10)
const p = project()
const stage = (i: number, after: string) => `const s${i} = Stage.make({ name: "s${i}", inputs: ${after}, outputs: { out: Artifact.json<number>() }, run: () => Effect.succeed({ out: ${i} }) })`
const header = `import { Effect } from "effect"
import * as Artifact from "../src/core/Artifact.ts"
import * as Input from "../src/core/Input.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Stage from "../src/core/Stage.ts"
`
const ids = Array.from({ length: N }, (_, i) => i)
p.write("pipelines/chain.ts", `${header}${ids.map((i) => stage(i, i === 0 ? "{}" : `{ x: Input.json(s${i - 1}.out.out) }`)).join("\n")}
export default Pipeline.make({ name: "chain", stages: [${ids.map((i) => `s${i}`).join(", ")}] })`)
p.write("pipelines/wide.ts", `${header}${ids.map((i) => stage(i, "{}")).join("\n")}
export default Pipeline.make({ name: "wide", stages: [${ids.map((i) => `s${i}`).join(", ")}] })`)

const time = (args: ReadonlyArray<string>, store: string) => {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [cli, ...args, "--store", store], { cwd: p.dir, encoding: "utf8" })
  if (r.status !== 0) throw new Error(`${args.join(" ")}: ${r.stderr}`)
  return Math.round(performance.now() - t0)
}
const results: Record<string, unknown> = { date: new Date().toISOString(), stages: N }
for (const shape of ["chain", "wide"]) {
  const local = time(["run", `pipelines/${shape}.ts`, "--executor", "local"], path.join(p.dir, `store-local-${shape}`))
  const slurm = time(["run", `pipelines/${shape}.ts`, "--executor", "slurm"], path.join(p.dir, `store-slurm-${shape}`))
  const cached = time(["run", `pipelines/${shape}.ts`, "--executor", "slurm"], path.join(p.dir, `store-slurm-${shape}`))
  results[shape] = { localMs: local, slurmMs: slurm, perStageOverheadMs: Math.round((slurm - local) / N), slurmAllCachedMs: cached }
  console.log(`${shape} of ${N}: ${JSON.stringify(results[shape])}`)
}
fs.mkdirSync("bench/out", { recursive: true })
fs.writeFileSync("bench/out/slurm.json", JSON.stringify(results, null, 2))
