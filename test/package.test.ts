/**
 * pinkflow as a package: `npm pack`, installed into a fresh project that cannot see this
 * repository's node_modules, runs a pipeline that imports from "pinkflow" — typechecked, run,
 * rerun all cached, and a project module edited so exactly its stage reruns — and `pinkflow init`
 * scaffolds a project whose pipeline and test pass.
 */
import test from "ava"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { repo } from "./helpers/project.ts"

const sh = (cmd: string, args: ReadonlyArray<string>, cwd: string) => {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, PINKFLOW_STORE: "" } })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

const summaryOf = (stdout: string) => stdout.trim().split("\n").map((l) => JSON.parse(l)).find((l) => l.type === "summary")

test("npm pack, install into a fresh project, run its own pipeline, and pinkflow init", (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pinkflow-package-"))
  const packed = sh("npm", ["pack", "--pack-destination", tmp, "--silent"], repo)
  t.is(packed.code, 0, packed.stderr)
  const tarball = path.join(tmp, packed.stdout.trim().split("\n").at(-1)!)
  t.true(fs.existsSync(tarball), tarball)

  const user = path.join(tmp, "user")
  fs.mkdirSync(user)
  fs.writeFileSync(path.join(user, "package.json"), JSON.stringify({ name: "user-project", private: true, type: "module" }))
  const installed = sh("npm", ["install", tarball, "@types/node@^20", "--no-audit", "--no-fund"], user)
  t.is(installed.code, 0, installed.stderr)
  const modules = fs.readdirSync(path.join(user, "node_modules")).filter((m) => !m.startsWith("."))
  t.false(modules.some((m) => m === "@tensorflow" || m === "webgpu" || m === "@dagrejs"), `the framework alone: ${modules.join(" ")}`)
  t.log(`installed: ${modules.join(" ")}; du: ${sh("du", ["-sh", path.join(user, "node_modules")], user).stdout.split("\t")[0]}`)

  fs.mkdirSync(path.join(user, "pipelines"))
  fs.mkdirSync(path.join(user, "stages", "lib"), { recursive: true })
  fs.writeFileSync(path.join(user, "stages", "lib", "shout.ts"), `export const shout = (s: string): string => s.toUpperCase()\n`)
  fs.writeFileSync(path.join(user, "stages", "mine.ts"), `import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import { Artifact, Input, Stage } from "pinkflow"
import { shout } from "./lib/shout.ts"

export const make = Stage.make({
  name: "make",
  params: Schema.Struct({ n: Stage.param(Schema.Int, 3) }),
  outputs: { list: Artifact.file() },
  run: ({ params, outputs }) => Effect.promise(() => fs.promises.writeFile(outputs.list, Array.from({ length: params.n }, (_, i) => \`item \${i}\\n\`).join("")))
})

export const loud = Stage.make({
  name: "loud",
  inputs: { list: Input.file(make.out.list) },
  outputs: { text: Artifact.json<string>() },
  run: ({ inputs }) => Effect.promise(async () => ({ text: shout(await fs.promises.readFile(inputs.list, "utf8")) }))
})
`)
  fs.writeFileSync(path.join(user, "pipelines", "mine.ts"), `import { Pipeline } from "pinkflow"
import { loud, make } from "../stages/mine.ts"

export default Pipeline.make({ name: "mine", stages: [make, loud] })
`)
  fs.writeFileSync(path.join(user, "tsconfig.json"), JSON.stringify({
    compilerOptions: { target: "ES2022", lib: ["ES2023"], module: "preserve", moduleResolution: "bundler", allowImportingTsExtensions: true, noEmit: true, strict: true, skipLibCheck: true, types: ["node"], verbatimModuleSyntax: true },
    include: ["pipelines", "stages"]
  }))
  const tsc = sh(process.execPath, [path.join(repo, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", "."], user)
  t.is(tsc.code, 0, tsc.stdout + tsc.stderr)

  const bin = path.join(user, "node_modules", ".bin", "pinkflow")
  const pinkflow = (...args: ReadonlyArray<string>) => sh(bin, args, user)
  const first = pinkflow("run", "pipelines/mine.ts", "--json")
  t.is(first.code, 0, first.stderr)
  t.deepEqual([...summaryOf(first.stdout).ran].sort(), ["loud", "make"])
  t.true(fs.existsSync(path.join(user, "artifacts", "lineage.json")), "the store is under the user's project")
  t.deepEqual(summaryOf(pinkflow("run", "pipelines/mine.ts", "--json").stdout).ran, [])
  // pinkflow is a package in the key, by version; the project's own modules by code.
  const why = JSON.parse(pinkflow("why", "pipelines/mine.ts", "loud", "--json").stdout)
  t.is(why.current.code.packages.pinkflow, "0.1.0")
  t.deepEqual(Object.keys(why.current.code.modules).sort(), ["stages/lib/shout.ts", "stages/mine.ts"])

  fs.writeFileSync(path.join(user, "stages", "lib", "shout.ts"), `export const shout = (s: string): string => s.toUpperCase() + "!"\n`)
  const edited = pinkflow("run", "pipelines/mine.ts", "--json")
  t.is(edited.code, 0, edited.stderr)
  t.deepEqual(summaryOf(edited.stdout).ran, ["loud"])

  // init in another empty directory: the scaffold runs and its own test passes.
  const fresh = path.join(tmp, "fresh")
  fs.mkdirSync(fresh)
  const init = sh(bin, ["init"], fresh)
  t.is(init.code, 0, init.stderr)
  t.regex(init.stdout, /^created stages\/hello\.ts, pipelines\/hello\.ts, data\/words\.txt, test\/hello\.test\.mjs, package\.json, tsconfig\.json\nnext: npm install && npx pinkflow run pipelines\/hello\.ts\n$/)
  fs.symlinkSync(path.join(user, "node_modules"), path.join(fresh, "node_modules"))
  const hello = sh(bin, ["run", "pipelines/hello.ts"], fresh)
  t.is(hello.code, 0, hello.stderr)
  t.regex(hello.stdout, /succeeded: 2 ran, 0 cached/)
  const ownTest = sh(process.execPath, ["--test", "test/"], fresh)
  t.is(ownTest.code, 0, ownTest.stdout + ownTest.stderr)
  const again = sh(bin, ["init"], fresh)
  t.is(again.code, 2)
  t.regex(again.stderr.trim(), /^pinkflow: stages\/hello\.ts, .* already exist in \.; nothing was written$/)
})
