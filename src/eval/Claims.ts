/**
 * The paper's claims as differences between two models on the same REC items, each with a 95 %
 * interval from a paired bootstrap over items: resample the shared items with replacement, take
 * the difference of the two accuracies, and read the 2.5th and 97.5th percentiles. Items are
 * matched by their id, so both models are scored on exactly the same draws.
 */
import * as Random from "../data/Random.ts"

export interface Claim {
  readonly name: string
  /** The model credited with the difference (`a − b`). */
  readonly a: string
  readonly b: string
  /** Items both models answered. */
  readonly n: number
  /** Accuracy of `a` minus accuracy of `b`, as a fraction. */
  readonly difference: number
  readonly low: number
  readonly high: number
}

/** REC outcomes of one model by item id (the evaluation's predictions, external splits left out). */
export const outcomes = (predictions: ReadonlyArray<{ readonly id: string; readonly kind: string; readonly split: string; readonly correct: boolean }>): Map<string, boolean> =>
  new Map(predictions.filter((p) => p.kind === "rec" && !p.split.startsWith("external")).map((p) => [`${p.split}/${p.id}`, p.correct]))

/** The claim that `a` beats `b`, with its interval from `resamples` paired bootstrap draws of `seed`. */
export const claim = (
  name: string,
  a: { readonly name: string; readonly outcomes: ReadonlyMap<string, boolean> },
  b: { readonly name: string; readonly outcomes: ReadonlyMap<string, boolean> },
  o: { readonly resamples: number; readonly seed: number } = { resamples: 2000, seed: 1 }
): Claim => {
  const ids = [...a.outcomes.keys()].filter((id) => b.outcomes.has(id)).sort()
  const d = Float64Array.from(ids, (id) => Number(a.outcomes.get(id)) - Number(b.outcomes.get(id)))
  const n = d.length
  if (n === 0) return { name, a: a.name, b: b.name, n, difference: Number.NaN, low: Number.NaN, high: Number.NaN }
  const mean = d.reduce((s, x) => s + x, 0) / n
  const next = Random.rng(o.seed)
  const draws = Float64Array.from({ length: o.resamples }, () => {
    let s = 0
    for (let i = 0; i < n; i++) s += d[Math.floor(next() * n)]!
    return s / n
  }).sort()
  const at = (q: number) => draws[Math.min(draws.length - 1, Math.max(0, Math.round(q * (draws.length - 1))))]!
  return { name, a: a.name, b: b.name, n, difference: mean, low: at(0.025), high: at(0.975) }
}

/** A claim in words: `+12.3 points [8.1, 16.4] (n = 900)`. */
export const describe = (c: Claim): string => {
  if (c.n === 0) return "no shared items"
  const pts = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}`
  return `${pts(c.difference)} points [${pts(c.low)}, ${pts(c.high)}] (n = ${c.n})`
}
