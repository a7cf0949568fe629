/**
 * Boxes. Annotations use Visual Genome's pixel boxes (x, y, w, h); the model reads and writes
 * corners normalised by the original image size, `[x0,y0,x1,y1]` with three decimals.
 */
export interface PixelBox {
  readonly x: number
  readonly y: number
  readonly w: number
  readonly h: number
}

export type Norm = readonly [x0: number, y0: number, x1: number, y1: number]

export const normalise = (b: PixelBox, width: number, height: number): Norm => [
  b.x / width, b.y / height, (b.x + b.w) / width, (b.y + b.h) / height
]

/** Rounded to the three decimals the model writes. */
export const round3 = (n: Norm): Norm => n.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000) as unknown as Norm

export const area = (n: Norm): number => Math.max(0, n[2] - n[0]) * Math.max(0, n[3] - n[1])

export const centre = (n: Norm): readonly [number, number] => [(n[0] + n[2]) / 2, (n[1] + n[3]) / 2]

export const iou = (a: Norm, b: Norm): number => {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]))
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]))
  const inter = ix * iy
  const union = area(a) + area(b) - inter
  return union <= 0 ? 0 : inter / union
}

export const QUADRANTS = ["top left", "top right", "bottom left", "bottom right"] as const
export type Quadrant = (typeof QUADRANTS)[number]

/** Whether `p`'s centre lies strictly in `quadrant` of the reference centre (image y grows down). */
export const inQuadrant = (reference: Norm, quadrant: Quadrant, p: Norm): boolean => {
  const [rx, ry] = centre(reference)
  const [x, y] = centre(p)
  const left = x < rx
  const right = x > rx
  const top = y < ry
  const bottom = y > ry
  switch (quadrant) {
    case "top left": return top && left
    case "top right": return top && right
    case "bottom left": return bottom && left
    case "bottom right": return bottom && right
  }
}

/** Several boxes in one answer: sorted by area, smallest first (ties by position). */
export const byArea = <A extends { readonly box: Norm }>(items: ReadonlyArray<A>): Array<A> =>
  [...items].sort((a, b) => area(a.box) - area(b.box) || a.box[1] - b.box[1] || a.box[0] - b.box[0])

/** `[0.123,0.456,0.789,0.999]`: three decimals, clamped to [0, 1]. */
export const format = (n: Norm): string => `[${n.map((v) => Math.min(1, Math.max(0, v)).toFixed(3)).join(",")}]`

/** A point `[0.123,0.456]`. */
export const formatPoint = (x: number, y: number): string => `[${[x, y].map((v) => Math.min(1, Math.max(0, v)).toFixed(3)).join(",")}]`

const BOX = /\[([01]\.\d{3}),([01]\.\d{3}),([01]\.\d{3}),([01]\.\d{3})\]/g

/** Every well-formed box in a text, in order. */
export const parseAll = (text: string): Array<Norm> =>
  [...text.matchAll(BOX)].map((m) => [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])] as const)
