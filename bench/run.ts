/**
 * pinkflow benchmarks (`npm run bench`): whole-process no-op reruns, plan time at scale, hashing
 * throughput against openssl, and a no-op rerun against Snakemake on the same generated DAG.
 * Peers run in the same process tree, on the same machine, in the same run. Results are printed
 * and written to bench/out/results.json; BENCHMARKS.md records them with this command.
 *
 *   npm run bench                 # everything
 *   npm run bench -- noop plan    # a subset: noop, generated, plan, hash, snakemake
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Digest from "../src/core/Digest.ts"
import { cli, project, repo } from "../test/helpers/project.ts"
import * as Generate from "./generate.ts"

const RUNS = Number(process.env.BENCH_RUNS ?? 10)
const selected = new Set(process.argv.slice(2))
const wanted = (name: string) => selected.size === 0 || selected.has(name)
const results: Record<string, unknown> = {
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, date: new Date().toISOString() }
}

const stats = (ms: Array<number>) => {
  const s = [...ms].sort((a, b) => a - b)
  return { medianMs: Math.round(s[s.length >> 1]! * 10) / 10, minMs: Math.round(s[0]! * 10) / 10, runs: s.length }
}

/** Wall time of a whole command, `runs` times. */
const time = (cmd: string, args: ReadonlyArray<string>, cwd: string, env: Record<string, string> = {}, runs = RUNS) => {
  const ms: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const r = spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: "utf8" })
    ms.push(performance.now() - t0)
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`)
  }
  return stats(ms)
}

const report = (name: string, value: unknown) => {
  results[name] = value
  process.stdout.write(`${name}: ${JSON.stringify(value)}\n`)
}

const pinkflow = (p: ReturnType<typeof project>, file: string, runs = RUNS) =>
  time(process.execPath, [cli, "run", file], p.dir, { PINKFLOW_STORE: p.store }, runs)

if (wanted("noop")) {
  const p = project()
  const cold = pinkflow(p, "pipelines/examples/diamond.ts", 1)
  const noop = pinkflow(p, "pipelines/examples/diamond.ts")
  const bare = time(process.execPath, ["-e", "0"], p.dir)
  report("noop-example", { stages: 6, coldRunMs: cold.medianMs, noop, bareNode: bare, targetMs: 300 })
}

if (wanted("generated")) {
  const p = project()
  p.write("pipelines/generated-1000.ts", Generate.pipeline(1000))
  const cold = pinkflow(p, "pipelines/generated-1000.ts", 1)
  const noop = pinkflow(p, "pipelines/generated-1000.ts")
  report("noop-generated-1000", { stages: 1000, coldRunMs: cold.medianMs, noop, targetMs: 1500 })
}

if (wanted("plan")) {
  const p = project()
  const rows: Array<unknown> = []
  for (const n of [1000, 10_000, 100_000]) {
    p.write(`pipelines/generated-${n}.ts`, Generate.pipeline(n))
    const measure = () => {
      const r = spawnSync(process.execPath, ["--import", "tsx", path.join(repo, "bench/plan.ts"), `pipelines/generated-${n}.ts`], { cwd: p.dir, encoding: "utf8", maxBuffer: 1 << 24 })
      if (r.status !== 0) throw new Error(r.stderr)
      return JSON.parse(r.stdout.trim().split("\n").at(-1)!)
    }
    const cold = measure() // builds the bundle and fills the stat cache
    const warm = measure()
    rows.push({ stages: n, cold, warm })
  }
  report("plan", { rows, targetMs: { stages: 100_000, ms: 5000 } })
}

if (wanted("hash")) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinkflow-hash-"))
  const file = path.join(dir, "1GiB.bin")
  const chunk = Buffer.alloc(64 * 1024 * 1024)
  for (let i = 0; i < chunk.length; i += 4096) chunk.writeUInt32LE(i * 2654435761 >>> 0, i)
  const fd = fs.openSync(file, "w")
  for (let i = 0; i < 16; i++) fs.writeSync(fd, chunk)
  fs.closeSync(fd)
  const bytes = 1024 ** 3
  const openssl = time("openssl", ["dgst", "-sha256", file], dir, {}, 5)
  const ours: Array<number> = []
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now()
    await Digest.ofFile(file)
    ours.push(performance.now() - t0)
  }
  const pf = stats(ours)
  const gbps = (ms: number) => Math.round((bytes / 1e9 / (ms / 1000)) * 100) / 100
  report("hash-1GiB", {
    pinkflow: { ...pf, GBps: gbps(pf.medianMs) },
    openssl: { ...openssl, GBps: gbps(openssl.medianMs) },
    ratio: Math.round((openssl.medianMs / pf.medianMs) * 100) / 100,
    target: 0.9
  })
  fs.rmSync(dir, { recursive: true, force: true })
}

if (wanted("snakemake")) {
  const has = spawnSync("snakemake", ["--version"], { encoding: "utf8" })
  if (has.status !== 0) {
    report("snakemake", { skipped: "snakemake is not installed (apt-get install snakemake)" })
  } else {
    const rows: Array<unknown> = []
    for (const n of [10, 100]) {
      const p = project()
      p.write(`pipelines/generated-${n}.ts`, Generate.pipeline(n))
      p.write("Snakefile", Generate.snakefile(n))
      pinkflow(p, `pipelines/generated-${n}.ts`, 1)
      time("snakemake", ["-c1", "-q"], p.dir, {}, 1)
      const ours = pinkflow(p, `pipelines/generated-${n}.ts`)
      const theirs = time("snakemake", ["-c1", "-q"], p.dir)
      rows.push({ stages: n, pinkflow: ours, snakemake: theirs, speedup: Math.round((theirs.medianMs / ours.medianMs) * 10) / 10 })
    }
    report("noop-vs-snakemake", { version: has.stdout.trim(), rows, targetSpeedup: 3 })
  }
}

fs.mkdirSync(path.join(repo, "bench/out"), { recursive: true })
fs.writeFileSync(path.join(repo, "bench/out/results.json"), `${JSON.stringify(results, null, 2)}\n`)
