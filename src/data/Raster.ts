/**
 * RGB images in memory: drawing the generated scenes, PNG and JPEG through pngjs and jpeg-js,
 * and resizing to the model's square input without padding (bilinear, aspect not kept).
 */
import * as fs from "node:fs"
import jpeg from "jpeg-js"
import { PNG } from "pngjs"

export interface Image {
  readonly width: number
  readonly height: number
  /** RGB, row-major, 3 bytes a pixel. */
  readonly data: Uint8Array
}

export type Rgb = readonly [number, number, number]

export const blank = (width: number, height: number, fill: Rgb): Image => {
  const data = new Uint8Array(width * height * 3)
  for (let i = 0; i < width * height; i++) data.set(fill, i * 3)
  return { width, height, data }
}

/** Paints every pixel of the box for which `inside(u, v)` holds (u, v in [-1, 1] over the box). */
export const paint = (img: Image, x: number, y: number, w: number, h: number, colour: Rgb, inside: (u: number, v: number) => boolean): void => {
  for (let py = Math.max(0, Math.floor(y)); py < Math.min(img.height, Math.ceil(y + h)); py++) {
    for (let px = Math.max(0, Math.floor(x)); px < Math.min(img.width, Math.ceil(x + w)); px++) {
      const u = ((px + 0.5 - x) / w) * 2 - 1
      const v = ((py + 0.5 - y) / h) * 2 - 1
      if (inside(u, v)) img.data.set(colour, (py * img.width + px) * 3)
    }
  }
}

/** A box outline, `t` pixels thick. */
export const outline = (img: Image, x: number, y: number, w: number, h: number, colour: Rgb, t = 1): void => {
  paint(img, x, y, w, h, colour, (u, v) => Math.abs(u) > 1 - (2 * t) / w || Math.abs(v) > 1 - (2 * t) / h)
}

export const encodePng = (img: Image): Buffer => {
  const png = new PNG({ width: img.width, height: img.height })
  for (let i = 0; i < img.width * img.height; i++) {
    png.data[i * 4] = img.data[i * 3]!
    png.data[i * 4 + 1] = img.data[i * 3 + 1]!
    png.data[i * 4 + 2] = img.data[i * 3 + 2]!
    png.data[i * 4 + 3] = 255
  }
  return PNG.sync.write(png, { colorType: 2 })
}

const fromRgba = (width: number, height: number, rgba: Uint8Array | Buffer): Image => {
  const data = new Uint8Array(width * height * 3)
  for (let i = 0; i < width * height; i++) {
    data[i * 3] = rgba[i * 4]!
    data[i * 3 + 1] = rgba[i * 4 + 1]!
    data[i * 3 + 2] = rgba[i * 4 + 2]!
  }
  return { width, height, data }
}

export class ImageError extends Error {
  constructor(readonly file: string, readonly detail: string) {
    super(`${file}: ${detail}`)
  }
}

/** Decodes a PNG or JPEG file. */
export const read = (file: string): Image => {
  let bytes: Buffer
  try {
    bytes = fs.readFileSync(file)
  } catch {
    throw new ImageError(file, "image file is missing")
  }
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50) {
      const png = PNG.sync.read(bytes)
      return fromRgba(png.width, png.height, png.data)
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true })
      return fromRgba(j.width, j.height, j.data)
    }
  } catch (e) {
    throw new ImageError(file, `cannot be decoded (${e instanceof Error ? e.message : String(e)})`)
  }
  throw new ImageError(file, "is neither PNG nor JPEG")
}

/** Bilinear resize to size × size, values in [0, 1]: the model's input, [size, size, 3]. */
export const toInput = (img: Image, size: number): Float32Array => {
  const out = new Float32Array(size * size * 3)
  const sx = img.width / size
  const sy = img.height / size
  for (let y = 0; y < size; y++) {
    const fy = Math.min(img.height - 1, Math.max(0, (y + 0.5) * sy - 0.5))
    const y0 = Math.floor(fy)
    const y1 = Math.min(img.height - 1, y0 + 1)
    const wy = fy - y0
    for (let x = 0; x < size; x++) {
      const fx = Math.min(img.width - 1, Math.max(0, (x + 0.5) * sx - 0.5))
      const x0 = Math.floor(fx)
      const x1 = Math.min(img.width - 1, x0 + 1)
      const wx = fx - x0
      for (let c = 0; c < 3; c++) {
        const p = (yy: number, xx: number) => img.data[(yy * img.width + xx) * 3 + c]!
        const top = p(y0, x0) * (1 - wx) + p(y0, x1) * wx
        const bottom = p(y1, x0) * (1 - wx) + p(y1, x1) * wx
        out[(y * size + x) * 3 + c] = (top * (1 - wy) + bottom * wy) / 255
      }
    }
  }
  return out
}
