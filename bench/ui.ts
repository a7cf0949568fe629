/**
 * The explorer at scale (`npm run bench:ui`): a store holding a 10,000-stage pipeline that has run
 * once and 10,000 runs of the example, then the API's response times (first call and repeated) and
 * the first render in chromium (navigation to the DAG drawn; the runs tab's first page).
 *
 * The 10,000 runs are written into the lineage database as copies of one real run of the example
 * (new ids, alternating variants): running the example 10,000 times would take hours and measure
 * the executor, not the explorer. Results print and go to bench/out/ui.json.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { chromium } from "playwright-core"
import { cli, project } from "../test/helpers/project.ts"
import { startUi } from "../test/helpers/ui.ts"
import * as Generate from "./generate.ts"

const STAGES = Number(process.env.BENCH_STAGES ?? 10_000)
const RUNS = Number(process.env.BENCH_UI_RUNS ?? 10_000)
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium"
const results: Record<string, unknown> = { date: new Date().toISOString(), stages: STAGES, runs: RUNS }
const report = (name: string, value: unknown) => {
  results[name] = value
  process.stdout.write(`${name}: ${JSON.stringify(value)}\n`)
}

const p = project()
const sh = (...args: Array<string>) => {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: p.dir, env: { ...process.env, PINKFLOW_STORE: p.store }, encoding: "utf8", maxBuffer: 1 << 28 })
  if (r.status !== 0) throw new Error(`pinkflow ${args.join(" ")}: ${r.stderr}`)
  return performance.now() - t0
}

// The store: the generated pipeline run once, the example run once and copied to RUNS runs.
p.write(`pipelines/generated-${STAGES}.ts`, Generate.pipeline(STAGES))
report("setup-run-generated-ms", Math.round(sh("run", `pipelines/generated-${STAGES}.ts`)))
sh("run", "pipelines/examples/diamond.ts")
const dbFile = path.join(p.store, "lineage.json")
const db = JSON.parse(fs.readFileSync(dbFile, "utf8"))
const exampleRun = db.runs.at(-1)
for (let i = 0; db.runs.length < RUNS + 1; i++) {
  db.runs.push({ ...exampleRun, id: `${exampleRun.id.slice(0, 15)}-${String(i).padStart(6, "0")}`, variant: `k=${i % 7}`, startedAt: new Date(Date.parse(exampleRun.startedAt) + i * 1000).toISOString() })
}
fs.writeFileSync(dbFile, JSON.stringify(db))
report("lineage-db-mib", Math.round(fs.statSync(dbFile).size / 1024 / 1024 * 10) / 10)

const server = await startUi(p.dir, p.store, ["--max-old-space-size=8192"])

const get = async (route: string) => {
  const t0 = performance.now()
  const r = await fetch(server.url + route)
  const text = await r.text()
  if (!r.ok) throw new Error(`${route}: ${text}`)
  return { ms: Math.round((performance.now() - t0) * 10) / 10, kib: Math.round(text.length / 1024), body: JSON.parse(text) }
}
const api = async (name: string, route: string, repeats = 5) => {
  const first = await get(route)
  const again: Array<number> = []
  for (let i = 0; i < repeats; i++) again.push((await get(route)).ms)
  again.sort((a, b) => a - b)
  report(`api-${name}`, { firstMs: first.ms, medianMs: again[again.length >> 1], kib: first.kib })
  return first.body
}

const generated = encodeURIComponent(`pipelines/generated-${STAGES}.ts`)
const example = encodeURIComponent("pipelines/examples/diamond.ts")
await api("overview", "api/overview")
await api("runs-first-page", "api/runs?offset=0&limit=50")
await api("runs-filtered-sorted", "api/runs?offset=100&limit=50&filter=k%3D3&sort=status&dir=asc")
const dag = await api(`dag-${STAGES}-stages`, `api/dag?pipeline=${generated}`, 3)
report("dag-layout", { engine: dag.layout, nodes: dag.nodes.length, states: [...new Set(dag.nodes.map((n: { state: string }) => n.state))] })
await api("stage-panel", `api/stage?pipeline=${generated}&stage=s${STAGES - 1}`, 3)
await api("dag-example", `api/dag?pipeline=${example}`)
const ids = (await get("api/runs?offset=0&limit=2")).body.rows.map((r: { id: string }) => r.id)
await api("compare-2-runs", `api/compare?runs=${ids.join(",")}`)
await api(`metrics-${RUNS}-runs`, `api/metrics?pipeline=${example}`, 3)

// First render in a real browser.
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] })
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 900 } })
  const renders: Array<number> = []
  for (let i = 0; i < 3; i++) {
    await page.goto("about:blank")
    const t0 = performance.now()
    await page.goto(`${server.url}#pipeline=${generated}`)
    await page.waitForSelector("svg#graph[data-drawn]", { timeout: 600_000 })
    renders.push(Math.round(performance.now() - t0))
  }
  const drawn = Number(await page.getAttribute("svg#graph", "data-drawn"))
  report(`browser-dag-${STAGES}-first-render`, { ms: renders, nodesDrawn: drawn })
  // Zoomed out to see everything: how long one redraw takes.
  const t1 = performance.now()
  await page.mouse.move(700, 450)
  for (let i = 0; i < 10; i++) await page.mouse.wheel(0, 400)
  await page.waitForTimeout(50)
  report("browser-dag-zoom-out-10-steps-ms", Math.round(performance.now() - t1))
  const t2 = performance.now()
  await page.click("nav button[data-tab=runs]")
  await page.waitForSelector("#run-table tr[data-run]")
  report(`browser-runs-${RUNS}-first-page-ms`, Math.round(performance.now() - t2))
  const t3 = performance.now()
  await page.fill("[data-testid=run-filter]", "k=5")
  await page.waitForFunction("document.querySelector('#run-page').textContent.includes('of 1428')")
  report("browser-runs-filter-ms (incl. 200 ms debounce)", Math.round(performance.now() - t3))
} finally {
  await browser.close()
  server.stop()
}
fs.mkdirSync("bench/out", { recursive: true })
fs.writeFileSync("bench/out/ui.json", JSON.stringify(results, null, 2))
