/**
 * The shipped towers are current: towers/ (the foundation's export, named as a substitute in
 * pinkflow.config.json) holds exactly the keys today's code, params and tensor environment give
 * the foundation's stages of pipelines/pink.ts, so a fresh clone's `npm start` takes them instead
 * of training them. An edit to a tower's code or params makes this fail until the export is
 * rebuilt (`npm run foundation`, then the export README.md gives, into a fresh `towers/`).
 */
import test from "ava"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cli, repo } from "./helpers/project.ts"

const FOUNDATION = ["foundation-vocab", "vision-tower", "lm-tower", "lm-coordinates", "vision-gate", "lm-gate", "alignment-gate"]

test("a fresh store takes every foundation stage of the Pink pipeline from the shipped towers", (t) => {
  const towers = path.join(repo, "towers")
  t.deepEqual(JSON.parse(fs.readFileSync(path.join(repo, "pinkflow.config.json"), "utf8")).substitutes, ["towers"])
  const store = fs.mkdtempSync(path.join(os.tmpdir(), "pinkflow-towers-"))
  for (const pipeline of ["pipelines/pink.ts", "pipelines/foundation.ts"]) {
    const r = spawnSync(process.execPath, [cli, "status", pipeline, "--json", "--store", store], { cwd: repo, encoding: "utf8", env: { ...process.env, PINKFLOW_STORE: "" } })
    t.is(r.status, 0, r.stderr)
    t.is(r.stderr, "", "no substitute warning")
    const stages = JSON.parse(r.stdout.trim().split("\n")[0]!).stages as Array<{ stage: string; state: string; substitute?: string }>
    for (const s of FOUNDATION) {
      const st = stages.find((x) => x.stage === s)
      t.deepEqual([st?.state, st?.substitute], ["up-to-date", towers], `${pipeline}: ${s}`)
    }
  }
  const verify = spawnSync(process.execPath, [cli, "verify", "--substitute", towers, "--store", store], { cwd: repo, encoding: "utf8" })
  t.is(verify.status, 0, verify.stdout + verify.stderr)
})
