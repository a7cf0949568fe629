/** Reading and writing the example's point tables: `x,y,label` CSV. */
export interface Point {
  readonly x: number
  readonly y: number
  readonly label: number
}

export const parse = (text: string): { readonly points: Array<Point>; readonly malformed: number } => {
  const points: Array<Point> = []
  let malformed = 0
  for (const line of text.split("\n").slice(1)) {
    if (line.trim() === "") continue
    const cells = line.split(",")
    const [x, y, label] = cells.map((c) => (c.trim() === "" ? NaN : Number(c)))
    if (cells.length !== 3 || ![x, y, label].every(Number.isFinite)) {
      malformed++
      continue
    }
    points.push({ x: x!, y: y!, label: label! })
  }
  return { points, malformed }
}

export const format = (points: ReadonlyArray<Point>): string =>
  ["x,y,label", ...points.map((p) => `${p.x},${p.y},${p.label}`)].join("\n") + "\n"
