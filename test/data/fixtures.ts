/** Copies a hand-written fixture to a temporary directory and adds the images it names. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import jpeg from "jpeg-js"
import * as Raster from "../../src/data/Raster.ts"

const here = path.dirname(fileURLToPath(import.meta.url))

export const fixture = (name: string, images: Record<string, readonly [number, number]>): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pinkflow-${name}-`))
  fs.cpSync(path.join(here, "..", "fixtures", name), dir, { recursive: true })
  for (const [rel, [w, h]] of Object.entries(images)) {
    const file = path.join(dir, rel)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    const rgba = Buffer.alloc(w * h * 4, 128)
    fs.writeFileSync(file, rel.endsWith(".png") ? Raster.encodePng(Raster.blank(w, h, [128, 128, 128])) : jpeg.encode({ data: rgba, width: w, height: h }, 80).data)
  }
  return dir
}

export const tmp = (name: string) => fs.mkdtempSync(path.join(os.tmpdir(), `pinkflow-${name}-`))
