/** Where a run's stages go: the command line over the config file over the pipeline file. */
import test from "ava"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Pipeline from "../../src/core/Pipeline.ts"
import * as ProjectConfig from "../../src/core/ProjectConfig.ts"

const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), "pinkflow-config-"))
const onCluster = Pipeline.make({ name: "p", stages: [], executor: { kind: "slurm", partition: "gpu" } })
const plain = Pipeline.make({ name: "p", stages: [] })

test("without a config file the pipeline decides; the command line overrides both", async (t) => {
  const none = await Effect.runPromise(ProjectConfig.load(dir()))
  t.is(none.file, undefined)
  t.deepEqual(ProjectConfig.executor({}, none, plain), { kind: "local" })
  t.deepEqual(ProjectConfig.executor({}, none, onCluster), { kind: "slurm", partition: "gpu", account: undefined, extraArgs: undefined })
  t.deepEqual(ProjectConfig.executor({ kind: "local" }, none, onCluster), { kind: "local" })
  t.deepEqual(ProjectConfig.executor({ account: "vision" }, none, plain), { kind: "slurm", partition: undefined, account: "vision", extraArgs: undefined })
})

test("pinkflow.config.json moves a pipeline to the cluster without editing it", async (t) => {
  const root = dir()
  fs.writeFileSync(path.join(root, "pinkflow.config.json"), JSON.stringify({ executor: { kind: "slurm", partition: "short", extraArgs: ["--qos=low"] } }))
  const config = await Effect.runPromise(ProjectConfig.load(root))
  t.deepEqual(ProjectConfig.executor({}, config, plain), { kind: "slurm", partition: "short", account: undefined, extraArgs: ["--qos=low"] })
  t.deepEqual(ProjectConfig.executor({ partition: "long" }, config, plain), { kind: "slurm", partition: "long", account: undefined, extraArgs: ["--qos=low"] })
})

test("a bad config file is named with the field at fault", async (t) => {
  const root = dir()
  const file = path.join(root, "pinkflow.config.json")
  fs.writeFileSync(file, JSON.stringify({ executor: { kind: "kubernetes" } }))
  const bad = await Effect.runPromise(Effect.flip(ProjectConfig.load(root)))
  t.is(bad._tag, "ConfigError")
  t.true(bad.message.startsWith(`${file}: `))
  t.regex(bad.message, /kind/)
  fs.writeFileSync(file, "{ executor: ")
  t.regex((await Effect.runPromise(Effect.flip(ProjectConfig.load(root)))).message, /invalid JSON/)
  fs.writeFileSync(file, JSON.stringify({ executor: { kind: "slurm", partiton: "gpu" } }))
  t.regex((await Effect.runPromise(Effect.flip(ProjectConfig.load(root)))).message, /partiton/)
})
