/**
 * Test fixtures: a throw-away copy of the project (src/core, the example stages and pipelines)
 * in a temporary directory, with the repository's node_modules linked in, and a runner for the
 * built CLI bundle against it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
export const cli = path.join(repo, "bin", "pinkflow.js")

export interface Project {
  readonly dir: string
  readonly store: string
  /** Runs `pinkflow ...args` in the project; returns exit code and output. */
  readonly pinkflow: (...args: ReadonlyArray<string>) => { readonly code: number; readonly stdout: string; readonly stderr: string }
  /** `pinkflow ... --json` lines, parsed. */
  readonly json: (...args: ReadonlyArray<string>) => { readonly code: number; readonly lines: Array<any>; readonly stderr: string }
  /** Starts `pinkflow ...args --json` and calls `onLine` for each JSON line as it arrives. */
  readonly start: (args: ReadonlyArray<string>, onLine?: (line: any, child: ChildProcess) => void, env?: Record<string, string>) => Promise<{ readonly code: number | null; readonly signal: string | null; readonly lines: Array<any>; readonly stderr: string }>
  readonly write: (file: string, text: string) => void
  readonly read: (file: string) => string
  readonly edit: (file: string, from: string | RegExp, to: string) => void
}

const copy = (from: string, to: string) => fs.cpSync(path.join(repo, from), to, { recursive: true })

/** A fresh project with the example pipeline and an empty store. */
export const project = (): Project => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinkflow-test-"))
  for (const p of ["src/index.ts", "src/core", "src/model", "src/train", "src/data", "src/eval", "stages/examples", "stages/pink", "stages/foundation", "pipelines/examples", "pipelines/pink-data.ts", "pipelines/foundation.ts", "pipelines/foundation-tiny.ts"]) copy(p, path.join(dir, p))
  // Named like the repository, so stages import the public API as "pinkflow" (a self-reference).
  const exports = { ".": { types: "./src/index.ts", "pinkflow-source": "./src/index.ts", default: "./src/index.ts" } }
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "pinkflow", type: "module", private: true, exports }))
  fs.symlinkSync(path.join(repo, "node_modules"), path.join(dir, "node_modules"))
  const store = path.join(dir, "artifacts")
  const pinkflow = (...args: ReadonlyArray<string>) => {
    const r = spawnSync(process.execPath, [cli, ...args], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, PINKFLOW_STORE: store }
    })
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
  }
  return {
    dir,
    store,
    pinkflow,
    json: (...args) => {
      const r = pinkflow(...args, "--json")
      const lines = r.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l))
      return { code: r.code, lines, stderr: r.stderr }
    },
    start: (args, onLine, env) =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [cli, ...args, "--json"], { cwd: dir, env: { ...process.env, PINKFLOW_STORE: store, ...env } })
        const lines: Array<any> = []
        let buffer = ""
        let stderr = ""
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          buffer += chunk
          let nl: number
          while ((nl = buffer.indexOf("\n")) >= 0) {
            const text = buffer.slice(0, nl)
            buffer = buffer.slice(nl + 1)
            if (text.trim() === "") continue
            const line = JSON.parse(text)
            lines.push(line)
            onLine?.(line, child)
          }
        })
        child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
        child.on("close", (code, signal) => resolve({ code, signal, lines, stderr }))
      }),
    write: (file, text) => {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
      fs.writeFileSync(path.join(dir, file), text)
    },
    read: (file) => fs.readFileSync(path.join(dir, file), "utf8"),
    edit: (file, from, to) => {
      const full = path.join(dir, file)
      const before = fs.readFileSync(full, "utf8")
      const after = before.replace(from, to)
      if (after === before) throw new Error(`edit of ${file} changed nothing`)
      fs.writeFileSync(full, after)
    }
  }
}

/** Stage statuses of a `run --json`, by stage. */
export const statuses = (lines: ReadonlyArray<any>): Record<string, string> =>
  Object.fromEntries(lines.filter((l) => l.type === "stage").map((l) => [l.stage, l.status]))

export const ran = (lines: ReadonlyArray<any>): Array<string> =>
  lines.filter((l) => l.type === "stage" && l.status === "ran").map((l) => l.stage).sort()

export const summary = (lines: ReadonlyArray<any>) => lines.find((l) => l.type === "summary")
