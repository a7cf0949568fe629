/**
 * Atomic file writes: write a uniquely named temporary file beside the target, flush it, then
 * rename it over the target. Readers see the old file or the new one, never a partial one, and
 * concurrent writers (processes or hosts on a shared filesystem) never share a temporary name.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Fault from "./Fault.ts"

/** A temporary name unique across processes and hosts. */
export const tempName = (target: string): string =>
  `${target}.tmp-${os.hostname()}-${process.pid}-${randomBytes(6).toString("hex")}`

export const writeFileSync = (target: string, data: string | Uint8Array, mode?: number): void => {
  fs.mkdirSync(path.dirname(target), { recursive: true })
  const tmp = tempName(target)
  const fd = fs.openSync(tmp, "w", mode ?? 0o644)
  try {
    Fault.point("write")
    fs.writeFileSync(fd, data)
    fs.fsyncSync(fd)
  } catch (e) {
    fs.closeSync(fd)
    fs.rmSync(tmp, { force: true })
    throw e
  }
  fs.closeSync(fd)
  Fault.point("rename")
  fs.renameSync(tmp, target)
}

export const writeFile = async (target: string, data: string | Uint8Array, mode?: number): Promise<void> => {
  await fs.promises.mkdir(path.dirname(target), { recursive: true })
  const tmp = tempName(target)
  const handle = await fs.promises.open(tmp, "w", mode ?? 0o644)
  try {
    Fault.point("write")
    await handle.writeFile(data)
    await handle.sync()
    await handle.close()
  } catch (e) {
    await handle.close().catch(() => undefined)
    await fs.promises.rm(tmp, { force: true })
    throw e
  }
  Fault.point("rename")
  await fs.promises.rename(tmp, target)
}
