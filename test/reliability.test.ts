/**
 * Reliability: SIGKILL at every kind of fault point, concurrent runs on one store, a killed lock
 * holder, corrupted objects, records and lineage, and gc beside a running or pinned run. The full
 * crash sweep (every occurrence of every point) is `npm run test:crash`.
 */
import test from "ava"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { crashProject, killAndRecover, killPoints, outputsOf, reference, RUN, type CrashProject } from "./helpers/crash.ts"
import { statuses } from "./helpers/project.ts"

const stageLines = (lines: ReadonlyArray<any>) => lines.filter((l) => l.type === "stage")

test("SIGKILL at the first occurrence of every fault point: verify is clean, nothing completed is redone, training resumes, results match", (t) => {
  const p = crashProject()
  const ref = reference(p)
  for (const kind of ["hash", "write", "rename", "record", "stored", "lineage", "stage.log", "checkpoint"]) {
    t.true(ref.points.has(kind), `the run reaches ${kind}`)
  }
  for (const { point, n } of killPoints(ref, 1)) {
    const o = killAndRecover(p, ref, point, n)
    t.true(o.killed, `${point}@${n} killed the run`)
    t.deepEqual(o.problems, [], `${point}@${n}`)
  }
  // A kill during training, after a checkpoint: the rerun resumes from it.
  const during = killAndRecover(p, ref, "stage.log", ref.points.get("stage.log")! - 2)
  t.deepEqual(during.problems, [])
  t.true((during.resumedFrom ?? 0) >= 10, `resumed from ${during.resumedFrom}`)
})

test("four concurrent runs of the same, overlapping and swept pipelines compute each stage key once", async (t) => {
  const p = crashProject()
  const runs = await Promise.all([
    p.start(["run", "pipelines/crash.ts"]),
    p.start(["run", "pipelines/crash.ts"]),
    p.start(["run", "pipelines/examples/diamond.ts"]),
    p.start(["run", "pipelines/examples/sweep.ts"])
  ])
  for (const r of runs) t.is(r.code, 0, r.stderr)
  const ranKeys = runs.flatMap((r) => stageLines(r.lines).filter((l) => l.status === "ran").map((l) => l.key as string))
  const counts = new Map<string, number>()
  for (const k of ranKeys) counts.set(k, (counts.get(k) ?? 0) + 1)
  t.deepEqual([...counts.values()].filter((c) => c > 1), [], "no key computed twice")
  // Every key any run used was computed by one of them (the store started empty).
  const usedKeys = new Set(runs.flatMap((r) => stageLines(r.lines).map((l) => l.key as string)))
  t.deepEqual([...usedKeys].filter((k) => !counts.has(k)), [])
  // The two runs of the same pipeline agree on every output.
  t.deepEqual(outputsOf(runs[0]!.lines), outputsOf(runs[1]!.lines))
  t.is(p.pinkflow("verify").code, 0)
  t.deepEqual(lockFiles(p), [])
})

const lockFiles = (p: CrashProject) => {
  const dir = path.join(p.store, "locks")
  return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) : []
}

test("a run killed while holding a stage's lock: the waiting run takes the lock over and resumes the training", async (t) => {
  const p = crashProject()
  // The first run stops for good after step 12 (checkpoint 10 saved); the second waits for its
  // lock on train, and then the first is killed. The first runs one stage at a time, so its other
  // stages are queued behind train: a queued stage holds no lock, and the second run computes
  // them itself and waits on train only. Whatever happens, both are killed after two minutes, so
  // a regression fails here instead of hanging the suite.
  let second: ReturnType<CrashProject["start"]> | undefined
  const children: Array<ChildProcess> = []
  const waitedOn: Array<string> = []
  const guard = setTimeout(() => { for (const c of children) c.kill("SIGKILL") }, 120_000)
  const first = await p.start(["run", "pipelines/crash.ts", "--verbose", "--concurrency", "1"], (line, child) => {
    if (!children.includes(child)) children.push(child)
    if (line.type === "log" && line.stage === "train" && line.line === "checkpoint 10" && second === undefined) {
      second = p.start(["run", "pipelines/crash.ts", "--verbose"], (l, c) => {
        if (!children.includes(c)) children.push(c)
        if (l.type === "waiting") waitedOn.push(l.stage)
        if (l.type === "waiting" && l.stage === "train") child.kill("SIGKILL")
      }, { TRAIN_HOLD: "0" })
    }
  }, { TRAIN_HOLD: "1" })
  if (second === undefined) {
    clearTimeout(guard)
    return t.fail(`the first run never saved checkpoint 10 (${first.signal ?? first.code}): ${first.stderr}`)
  }
  const r = await second
  clearTimeout(guard)
  t.deepEqual(waitedOn, ["train"], "the second run waited on the held train stage, and on nothing else")
  t.is(first.signal, "SIGKILL")
  t.is(r.code, 0, r.stderr)
  t.is(statuses(r.lines).train, "ran")
  const resumed = r.lines.find((l) => l.type === "log" && l.stage === "train" && l.line.startsWith("resumed from step "))
  t.truthy(resumed, "the second run resumed the first one's checkpoint")
  t.true(Number(resumed.line.split(" ").at(-1)) >= 10)
  // What the killed process held is cleared by the next run (here a no-op one).
  t.is(p.json("run", "pipelines/crash.ts").code, 0)
  t.deepEqual(lockFiles(p), [])
  // The killed run shows as killed, not as running forever.
  const runs = p.json("runs").lines[0] as Array<any>
  t.deepEqual(runs.map((x) => x.status).sort(), ["killed", "succeeded", "succeeded"])
})

interface Corruption {
  readonly name: string
  /** Damages the store of a completed run; returns what `verify` must say. */
  readonly damage: (p: CrashProject, outputs: Record<string, string>) => RegExp
  /** Stages the run after the repair recomputes. */
  readonly recomputed: ReadonlyArray<string>
}

const blob = (p: CrashProject, digest: string) => path.join(p.store, "objects", digest.slice(0, 2), digest)
const writable = (file: string) => fs.chmodSync(file, 0o644)
const treeEntry = (p: CrashProject, tree: string, index: number) => {
  const m = JSON.parse(fs.readFileSync(blob(p, tree), "utf8"))
  return m.entries[index][1] as string
}
const recordOf = (p: CrashProject, stage: string) => {
  const key = JSON.parse(fs.readFileSync(path.join(p.store, "lineage.json"), "utf8")).runs.at(-1).stages[stage].key as string
  return path.join(p.store, "cache", key.slice(0, 2), `${key}.json`)
}

const corruptions: ReadonlyArray<Corruption> = [
  {
    name: "a flipped byte in a file object",
    damage: (p, o) => {
      const f = blob(p, o["prepare.clean"]!)
      writable(f)
      const bytes = fs.readFileSync(f)
      bytes[10] = bytes[10]! ^ 0x01
      fs.writeFileSync(f, bytes)
      return new RegExp(`^corrupt object ${o["prepare.clean"]}: its content does not match its digest$`, "m")
    },
    recomputed: ["prepare"]
  },
  {
    name: "a truncated object inside a directory artifact",
    damage: (p, o) => {
      const d = treeEntry(p, o["shards.parts"]!, 1)
      writable(blob(p, d))
      fs.truncateSync(blob(p, d), 100)
      return new RegExp(`^corrupt object ${d}`, "m")
    },
    recomputed: ["shards"]
  },
  {
    name: "a deleted object",
    damage: (p, o) => {
      fs.rmSync(blob(p, o["evaluate.metrics"]!))
      return /^missing: evaluate\.metrics \(key [0-9a-f]{12}\) needs [0-9a-f]{12}$/m
    },
    recomputed: ["evaluate"]
  },
  {
    name: "a truncated cache record",
    damage: (p) => {
      const f = recordOf(p, "split")
      fs.truncateSync(f, 20)
      return /^unreadable cache record cache\/[0-9a-f]{2}\/[0-9a-f]{64}\.json$/m
    },
    recomputed: ["split"]
  },
  {
    name: "a truncated lineage database",
    damage: (p) => {
      const f = path.join(p.store, "lineage.json")
      fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2))
      return /^lineage database: invalid JSON/m
    },
    recomputed: []
  },
  {
    name: "an invalid lineage database",
    damage: (p) => {
      fs.writeFileSync(path.join(p.store, "lineage.json"), JSON.stringify({ version: 7, runs: "none" }))
      return /^lineage database: not a pinkflow lineage database/m
    },
    recomputed: []
  }
]

for (const c of corruptions) {
  test(`corruption: ${c.name} is reported in one line, repaired, and only what needs it is recomputed`, (t) => {
    const p = crashProject()
    const first = p.json(...RUN)
    t.is(first.code, 0, first.stderr)
    const outputs = outputsOf(first.lines)
    const says = c.damage(p, outputs)
    const found = p.pinkflow("verify")
    t.is(found.code, 1)
    t.regex(found.stdout, says)
    t.regex(found.stdout, /problems? \(pinkflow verify --repair removes them\)$/m)
    const repaired = p.pinkflow("verify", "--repair")
    t.is(repaired.code, 0, repaired.stdout + repaired.stderr)
    t.is(p.pinkflow("verify").code, 0, "clean after the repair")
    const again = p.json(...RUN)
    t.is(again.code, 0, again.stderr)
    t.deepEqual(stageLines(again.lines).filter((l) => l.status === "ran").map((l) => l.stage).sort(), [...c.recomputed].sort())
    t.deepEqual(outputsOf(again.lines), outputs, "identical results, nothing lost")
  })
}

test("a corrupt lineage database stops run and status with one line naming it and the repair", (t) => {
  const p = crashProject()
  t.is(p.json(...RUN).code, 0)
  fs.writeFileSync(path.join(p.store, "lineage.json"), "{\"version\": 1, \"runs\": [")
  for (const args of [RUN, ["status", "pipelines/crash.ts"], ["runs"]]) {
    const r = p.pinkflow(...args)
    t.is(r.code, 1, `${args.join(" ")}: ${r.stderr}`)
    t.regex(r.stderr, /^pinkflow: lineage database .*lineage\.json: invalid JSON .*`pinkflow verify --repair` rebuilds it from the cache records\n$/)
  }
})

test("a damaged object is never fed to a stage: the consumer fails naming it", (t) => {
  const p = crashProject()
  const first = p.json(...RUN)
  const clean = outputsOf(first.lines)["prepare.clean"]!
  const f = blob(p, clean)
  writable(f)
  fs.appendFileSync(f, "tampered")
  const r = p.pinkflow(...RUN, "--force", "split")
  t.is(r.code, 1)
  t.is(r.stderr, `pinkflow: stage split failed: input clean: stored object ${clean.slice(0, 12)} is corrupt (its content no longer matches its digest); \`pinkflow verify --repair\` removes it and the results that need it\n`)
})

test("gc waits for no one and frees nothing a running or pinned run uses", async (t) => {
  const p = crashProject()
  const first = p.json(...RUN)
  t.is(first.code, 0)
  const firstRun = first.lines.find((l) => l.type === "summary").run as string
  t.is(p.pinkflow("pin", firstRun).code, 0)
  // A different variant replaces every output of the pinned run in the recent history.
  for (let i = 0; i < 3; i++) t.is(p.json(...RUN, "--set", `train.steps=${41 + i}`, "--set", `prepare.dropDuplicates=${i % 2 === 0}`).code, 0)
  const gc = p.json("gc", "--keep-runs", "1")
  t.is(gc.code, 0, gc.stderr)
  t.true(gc.lines[0].objects > 0, "something unreferenced was freed")
  // The pinned run is still complete: rerunning it is all cached.
  const pinned = p.json(...RUN)
  t.deepEqual(stageLines(pinned.lines).filter((l) => l.status !== "cached").map((l) => l.stage), [])
  // While a run is in progress gc refuses, naming it.
  let refused: { code: number; stderr: string } | undefined
  const running = await p.start(["run", "pipelines/crash.ts", "--set", "train.steps=30"], (line) => {
    if (line.type === "started" && line.stage === "train" && refused === undefined) refused = p.pinkflow("gc", "--keep-runs", "0")
  }, { TRAIN_STEP_MS: "30" })
  t.is(running.code, 0)
  t.is(refused?.code, 1)
  t.regex(refused?.stderr ?? "", /^pinkflow: gc: a run is in progress \(pid \d+ on .+\); try again when it has finished\n$/)
  t.is(p.pinkflow("verify").code, 0)
})
