/**
 * Evaluation metrics on generated text, as in the paper: REC counts a prediction correct when it
 * holds exactly one box (four 3-decimal numbers) with IoU > 0.5 against the truth, and a wrong
 * format counts as wrong; multiple choice reads `The answer is X.`; short answers are exact matches
 * after trimming, lower-casing and dropping a final full stop.
 */
import * as Box from "../data/Box.ts"

export interface RecResult {
  readonly correct: boolean
  readonly formatError: boolean
  readonly iou: number
  readonly box: Box.Norm | null
}

/** Exactly four numbers in a box, else a format error. */
export const parseSingleBox = (text: string): Box.Norm | null => {
  const boxes = Box.parseAll(text)
  const numbers = text.match(/\d+\.\d+/g) ?? []
  return boxes.length === 1 && numbers.length === 4 ? boxes[0]! : null
}

export const rec = (generated: string, truth: Box.Norm): RecResult => {
  const box = parseSingleBox(generated)
  if (box === null) return { correct: false, formatError: true, iou: 0, box: null }
  const iou = Box.iou(box, truth)
  return { correct: iou > 0.5, formatError: false, iou, box }
}

const normaliseText = (s: string) => s.trim().toLowerCase().replace(/\.$/, "").replace(/\s+/g, " ")

export const exactMatch = (generated: string, truth: string): boolean => normaliseText(generated) === normaliseText(truth)

/** The letter of `The answer is X.`, or null for another format. */
export const choice = (text: string): string | null => /^\s*the answer is ([A-D])\.?\s*$/i.exec(text)?.[1]?.toUpperCase() ?? null

export interface Accuracy {
  readonly n: number
  readonly correct: number
  readonly accuracy: number
  readonly formatErrors: number
}

export const accuracy = (results: ReadonlyArray<{ readonly correct: boolean; readonly formatError?: boolean }>): Accuracy => {
  const n = results.length
  const correct = results.filter((r) => r.correct).length
  return { n, correct, accuracy: n === 0 ? 0 : correct / n, formatErrors: results.filter((r) => r.formatError === true).length }
}

/**
 * The form of a referring expression, for accuracy by form: `position` when it picks its object by
 * an extreme (`the leftmost red circle`), which takes comparing boxes, else `attributes`.
 */
export const phraseForm = (phrase: string): "position" | "attributes" =>
  /\b(?:leftmost|rightmost|topmost|bottommost)\b/.test(phrase) ? "position" : "attributes"

/** REC accuracy of each phrase form (`rec/position`, `rec/attributes`): keyed so metrics can hold it. */
export const byForm = (results: ReadonlyArray<{ readonly phrase: string; readonly correct: boolean }>): Record<string, number> =>
  Object.fromEntries((["position", "attributes"] as const).flatMap((f) => {
    const of = results.filter((r) => phraseForm(r.phrase) === f)
    return of.length === 0 ? [] : [[`rec/${f}`, of.filter((r) => r.correct).length / of.length]]
  }))

/** The self-consistency rule: the model's own grounding parses to exactly one box with IoU ≥ `minIou`. */
export const keepPair = (description: string, grounded: string, truth: Box.Norm, minIou: number): boolean => {
  const box = parseSingleBox(grounded)
  return box !== null && Box.iou(box, truth) >= minIou && description.trim() !== "" && !description.includes("[")
}
