/**
 * The lineage explorer in a real browser (playwright-core driving Debian's chromium; `.ci/run`
 * installs it; without it the test is skipped unless PINKFLOW_REQUIRE_BROWSER=1): a store made by the example, its sweep and pink-tiny; click a stage and see its
 * params and lineage, see the evaluation gallery and the bootstrap pairs, compare two runs.
 * Screenshots go to test/output/ui/.
 */
import test from "ava"
import * as fs from "node:fs"
import * as path from "node:path"
import { chromium } from "playwright-core"
import { project, repo } from "./helpers/project.ts"
import { startUi } from "./helpers/ui.ts"

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium"
// Without a browser the test is skipped (so `npm test` works on a fresh machine), unless
// PINKFLOW_REQUIRE_BROWSER=1 (CI) makes a missing browser a failure.
const browserTest = fs.existsSync(CHROMIUM) || process.env.PINKFLOW_REQUIRE_BROWSER === "1" ? test : test.skip
const shots = path.join(repo, "test", "output", "ui")

browserTest("the explorer: DAG, stage panel, lineage, gallery, bootstrap pairs, runs and a comparison", async (t) => {
  if (!fs.existsSync(CHROMIUM)) return t.fail(`no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`)
  const p = project()
  for (const f of ["pipelines/pink.ts", "pipelines/pink-tiny.ts"]) fs.cpSync(path.join(repo, f), path.join(p.dir, f))
  fs.cpSync(path.join(repo, "src/eval"), path.join(p.dir, "src/eval"), { recursive: true })
  for (const args of [["run", "pipelines/examples/diamond.ts"], ["run", "pipelines/examples/sweep.ts"], ["run", "pipelines/pink-tiny.ts"]]) {
    const r = p.pinkflow(...args)
    t.is(r.code, 0, r.stderr)
  }
  fs.mkdirSync(shots, { recursive: true })
  const ui = await startUi(p.dir, p.store)
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] })
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 900 } })
    const errors: Array<string> = []
    page.on("pageerror", (e) => errors.push(e.message))

    // The DAG of pink-tiny, every stage cached.
    await page.goto(`${ui.url}#pipeline=pipelines/pink-tiny.ts`)
    await page.waitForSelector("g.node[data-stage=stage2]")
    const states = await page.$$eval("g.node", (ns) => ns.map((n) => n.getAttribute("data-state") ?? ""))
    t.is(states.length, 26)
    t.true(states.every((s) => s === "cached"), states.join(","))
    await page.screenshot({ path: path.join(shots, "dag.png") })

    // A stage: params, code, log, loss curve.
    await page.click("g.node[data-stage=stage2]")
    await page.waitForSelector("[data-testid=stage-name]")
    t.is(await page.textContent("[data-testid=stage-name]"), "stage2")
    const params = JSON.parse((await page.textContent("[data-testid=params]"))!)
    t.is(params.steps, 4)
    t.is(params.preset, "nano")
    await page.waitForSelector("aside svg.plot-svg")
    await page.screenshot({ path: path.join(shots, "stage.png") })

    // Its model output's lineage: produced by stage2, consumed downstream.
    await page.click("aside a.digest >> nth=-1")
    await page.waitForSelector("[data-testid=upstream]")
    t.regex((await page.textContent("[data-testid=upstream]"))!, /← stage2\.(model|curve)/)
    t.regex((await page.textContent("[data-testid=downstream]"))!, /→ (evaluate-pink|bootstrap-generate|report|stage2-star)/)
    await page.screenshot({ path: path.join(shots, "lineage.png") })

    // The evaluation gallery and the bootstrap pairs (the panel is closed first: in the wider DAG
    // of 26 stages it covers the evaluation nodes, as a user would find).
    await page.click("aside#panel > button")
    await page.click("g.node[data-stage=evaluate-pink]")
    await page.waitForSelector("[data-testid=gallery] canvas")
    t.true((await page.$$("[data-testid=gallery] figure")).length > 0)
    await page.screenshot({ path: path.join(shots, "gallery.png") })
    await page.click("g.node[data-stage=bootstrap-generate]")
    await page.waitForSelector("[data-testid=pairs] tr >> nth=1")
    t.regex((await page.textContent("aside"))!, /Bootstrap pairs: \d+ of 8 kept/)

    // Runs: filter to the sweep, pick two, compare; the swept params differ.
    await page.click("nav button[data-tab=runs]")
    await page.waitForSelector("#run-table tr[data-run]")
    await page.fill("[data-testid=run-filter]", "sweep")
    await page.waitForFunction("document.querySelectorAll('#run-table tr[data-run]').length === 6")
    await page.check("#run-table tr[data-run] >> nth=0 >> input")
    await page.check("#run-table tr[data-run] >> nth=1 >> input")
    await page.screenshot({ path: path.join(shots, "runs.png") })
    await page.click("[data-testid=compare-selected]")
    await page.waitForSelector("#compare-table tr.differs")
    const differs = await page.$$eval("#compare-table tr.differs td:first-child", (tds) => tds.map((td) => td.textContent))
    t.true(differs.some((d) => /param train-(linear\.lr|knn\.k)/.test(d ?? "")), differs.join(", "))
    await page.check("#only-diff")
    const rows = await page.$$eval("#compare-table tr", (trs) => trs.length)
    t.is(rows, differs.length + 1)
    await page.screenshot({ path: path.join(shots, "compare.png") })

    // Metrics across runs of the sweep.
    await page.selectOption("[data-testid=pipeline]", "pipelines/examples/sweep.ts")
    await page.click("nav button[data-tab=metrics]")
    await page.waitForSelector("[data-testid=metric-plots] .plot svg")
    await page.screenshot({ path: path.join(shots, "metrics.png") })
    t.deepEqual(errors, [])
  } finally {
    await browser.close()
    ui.stop()
  }
})

test("the DAG is live: a stage being computed shows as running, then as cached", async (t) => {
  const p = project()
  const gate = path.join(p.dir, "gate")
  p.write("pipelines/gated.ts", `import { Effect } from "effect"
import * as fs from "node:fs"
import * as Artifact from "../src/core/Artifact.ts"
import * as Input from "../src/core/Input.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Stage from "../src/core/Stage.ts"
const first = Stage.make({ name: "first", outputs: { out: Artifact.json<number>() }, run: () => Effect.succeed({ out: 1 }) })
const gated = Stage.make({
  name: "gated", inputs: { x: Input.json(first.out.out) }, outputs: { out: Artifact.json<number>() },
  run: () => Effect.promise(async () => {
    while (!fs.existsSync(${JSON.stringify(gate)})) await new Promise((r) => setTimeout(r, 50))
    return { out: 2 }
  })
})
export default Pipeline.make({ name: "gated", stages: [first, gated] })
`)
  const ui = await startUi(p.dir, p.store)
  try {
    const dag = async () => (await (await fetch(`${ui.url}api/dag?pipeline=pipelines/gated.ts`)).json()) as { nodes: Array<{ name: string; state: string }>; lastRun: { status: string } | null }
    const before = await dag()
    t.deepEqual(before.nodes.map((n) => n.state), ["stale", "stale"])
    let during: Awaited<ReturnType<typeof dag>> | undefined
    const run = await p.start(["run", "pipelines/gated.ts"], (line) => {
      if (line.type === "started" && line.stage === "gated") {
        void dag().then((d) => {
          during = d
          fs.writeFileSync(gate, "")
        })
      }
    })
    t.is(run.code, 0, run.stderr)
    t.deepEqual(during?.nodes.map((n) => `${n.name}:${n.state}`), ["first:cached", "gated:running"])
    t.is(during?.lastRun?.status, "running")
    const after = await dag()
    t.deepEqual(after.nodes.map((n) => n.state), ["cached", "cached"])
    t.is(after.lastRun?.status, "succeeded")
  } finally {
    ui.stop()
  }
})
