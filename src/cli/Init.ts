/**
 * `pinkflow init`: a project to start from — a two-stage pipeline, its stages, a data file, a
 * test, and (where missing) package.json and tsconfig.json. Nothing that exists is overwritten.
 */
import * as fs from "node:fs"
import * as path from "node:path"

const STAGES = `/**
 * Two stages to start from: \`count\` counts the words of a project file, \`report\` ranks them.
 * Edit a body and run again: only the stages whose code changed rerun.
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import { Artifact, Input, Stage } from "pinkflow"

export const count = Stage.make({
  name: "count",
  params: Schema.Struct({ minLength: Stage.param(Schema.Int, 1) }),
  inputs: { text: Input.file("data/words.txt") },
  outputs: { counts: Artifact.json<Record<string, number>>("word → occurrences") },
  run: ({ params, inputs }) =>
    Effect.promise(async () => {
      const counts: Record<string, number> = {}
      for (const w of (await fs.promises.readFile(inputs.text, "utf8")).toLowerCase().split(/\\W+/)) {
        if (w.length >= params.minLength) counts[w] = (counts[w] ?? 0) + 1
      }
      return { counts }
    })
})

export const report = Stage.make({
  name: "report",
  inputs: { counts: Input.json(count.out.counts) },
  outputs: { ranking: Artifact.file("the words, most frequent first") },
  run: ({ inputs, outputs }) =>
    Effect.promise(() => {
      const ranked = Object.entries(inputs.counts).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
      return fs.promises.writeFile(outputs.ranking, ranked.map(([w, n]) => \`\${w} \${n}\\n\`).join(""))
    })
})
`

const PIPELINE = `/** The pipeline: its stages, and param overrides if any (\`pinkflow run pipelines/hello.ts --set count.minLength=3\`). */
import { Pipeline } from "pinkflow"
import { count, report } from "../stages/hello.ts"

export default Pipeline.make({ name: "hello", stages: [count, report] })
`

const WORDS = `the quick brown fox jumps over the lazy dog
the dog sleeps and the fox runs
`

const TEST = `// Runs the pipeline twice on a fresh store: every stage runs, then every stage is cached.
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { test } from "node:test"
import { fileURLToPath } from "node:url"

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const cli = path.join(root, "node_modules", "pinkflow", "bin", "pinkflow.js")
const store = fs.mkdtempSync(path.join(os.tmpdir(), "hello-store-"))
const run = () => {
  const r = spawnSync(process.execPath, [cli, "run", "pipelines/hello.ts", "--json", "--store", store], { cwd: root, encoding: "utf8" })
  assert.equal(r.status, 0, r.stderr)
  return r.stdout.trim().split("\\n").map((l) => JSON.parse(l)).find((l) => l.type === "summary")
}

test("the pipeline runs, and a second run is all cached", () => {
  assert.deepEqual([...run().ran].sort(), ["count", "report"])
  assert.deepEqual(run().ran, [])
})
`

const TSCONFIG = `{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2023"],
    "module": "preserve",
    "moduleResolution": "bundler",
    "allowImportingTsExtensions": true,
    "noEmit": true,
    "strict": true,
    "skipLibCheck": true,
    "verbatimModuleSyntax": true
  },
  "include": ["pipelines", "stages"]
}
`

const packageJson = (name: string) => `${JSON.stringify({
  name: name.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+/, "") || "pipelines",
  private: true,
  type: "module",
  scripts: { start: "pinkflow run pipelines/hello.ts", test: "node --test test/" },
  dependencies: { pinkflow: "^0.1.0" }
}, null, 2)}\n`

export interface Scaffolded {
  readonly created: ReadonlyArray<string>
  /** The command to run next. */
  readonly next: string
}

/** The files `init` writes into `dir`, or the ones that are in the way (nothing is written then). */
export const scaffold = (dir: string): { readonly ok: true; readonly result: Scaffolded } | { readonly ok: false; readonly existing: ReadonlyArray<string> } => {
  const files: Record<string, string> = {
    "stages/hello.ts": STAGES,
    "pipelines/hello.ts": PIPELINE,
    "data/words.txt": WORDS,
    "test/hello.test.mjs": TEST
  }
  const existing = Object.keys(files).filter((f) => fs.existsSync(path.join(dir, f)))
  if (existing.length > 0) return { ok: false, existing }
  if (!fs.existsSync(path.join(dir, "package.json"))) files["package.json"] = packageJson(path.basename(path.resolve(dir)))
  if (!fs.existsSync(path.join(dir, "tsconfig.json"))) files["tsconfig.json"] = TSCONFIG
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true })
    fs.writeFileSync(path.join(dir, f), text)
  }
  const installed = fs.existsSync(path.join(dir, "node_modules", "pinkflow", "package.json"))
  const run = "npx pinkflow run pipelines/hello.ts"
  return { ok: true, result: { created: Object.keys(files), next: installed ? run : `npm install && ${run}` } }
}
