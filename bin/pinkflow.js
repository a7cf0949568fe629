#!/usr/bin/env node
// The installed `pinkflow` command: loads the bundled CLI built by `npm run build`.
import { existsSync } from "node:fs"

const bundle = new URL("../dist/pinkflow.mjs", import.meta.url)
if (!existsSync(bundle)) {
  process.stderr.write("pinkflow: the CLI is not built; run `npm run build` (or `npm ci`, which builds it)\n")
  process.exit(2)
}
await import(bundle.href)
