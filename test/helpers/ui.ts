/** Starts `pinkflow ui` on a free port for a project and store; resolves with its URL once it listens. */
import { spawn } from "node:child_process"
import { cli } from "./project.ts"

export const startUi = (dir: string, store: string, nodeArgs: ReadonlyArray<string> = []) =>
  new Promise<{ readonly url: string; readonly stop: () => void }>((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, cli, "ui", "--port", "0", "--store", store], { cwd: dir })
    let out = ""
    let err = ""
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      out += c
      const m = /pinkflow ui: (http:\/\/\S+)/.exec(out)
      if (m !== null) resolve({ url: m[1]!, stop: () => child.kill("SIGINT") })
    })
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c))
    child.on("exit", (code) => reject(new Error(`pinkflow ui exited with ${code}: ${out}${err}`)))
  })
