/**
 * Numeracy text for LM pretraining: what a large LM learns about numbers from its corpus, here for
 * the coordinate values `0.000`…`1.000` the tiny LM otherwise sees only inside boxes. Three kinds,
 * drawn evenly: arithmetic progressions (`count 0.120 0.150 0.180 …`, up or down), sorted lists
 * (`sorted 0.050 0.210 0.377`) and comparisons (`0.597 > 0.415`). A function of the seed.
 */
import * as Random from "./Random.ts"

const value = (x: number) => Math.min(1, Math.max(0, x)).toFixed(3)

const progression = (next: () => number): string => {
  const step = (0.001 + next() * 0.1) * (next() < 0.5 ? -1 : 1)
  const values: Array<string> = []
  for (let a = step > 0 ? next() * 0.6 : 0.4 + next() * 0.6, i = 0; i < 12 && a >= 0 && a <= 1; i++, a += step) values.push(value(a))
  return `count ${values.join(" ")}`
}

const sorted = (next: () => number): string => {
  const values = Array.from({ length: 3 + Math.floor(next() * 6) }, next).sort((a, b) => a - b)
  return `sorted ${values.map(value).join(" ")}`
}

const comparison = (next: () => number): string => {
  const a = next()
  const b = next()
  return `${value(a)} ${a < b ? "<" : ">"} ${value(b)}`
}

const KINDS = [progression, sorted, comparison]

/** `n` numeracy texts. */
export const texts = (n: number, seed: number): Array<string> => {
  const next = Random.rng(seed)
  return Array.from({ length: n }, () => KINDS[Math.floor(next() * KINDS.length)]!(next))
}
