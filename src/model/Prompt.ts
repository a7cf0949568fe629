/**
 * The conversation layout the model reads: the image tokens fill the `Image:` system slot, then
 * the user's instruction, then the assistant's answer and the end token. The loss covers only the
 * answer and the end token.
 *
 *   <bos>Image:<img>…<img>
 *   User: {instruction}
 *   Assistant: {answer}<eos>
 */
import * as Config from "./Config.ts"
import * as Tok from "./Tokenizer.ts"

const USER = "\nUser:"
const ASSISTANT = "\nAssistant:"

/** A user turn's text up to where the assistant's answer starts. */
export const turn = (instruction: string): string => `${USER} ${instruction}${ASSISTANT}`

/**
 * The conversation's own words, which the vocabulary must hold (Vocabulary.fromScenes): without
 * them `User` and `Assistant` would both read as `<unk>`, and a question's start could not be told
 * from an answer's.
 */
export const SCAFFOLD: ReadonlyArray<string> = ["Image:", USER, ASSISTANT]

/**
 * Ids before the image slot: `<bos>Image:`. (The literal repeats SCAFFOLD's first entry: naming a
 * shared constant here would change the code key of every stage that computes the image slot,
 * the shipped vision tower's included; do it with the next re-export of the towers.)
 */
export const prefix = (tok: Tok.Tokenizer): Array<number> => [Tok.BOS, ...tok.encode("Image:")]

/** Index of the first image token in every sequence. */
export const imageSlot = (tok: Tok.Tokenizer): number => prefix(tok).length

export const promptIds = (tok: Tok.Tokenizer, c: Config.Config, instruction: string): Array<number> => [
  ...prefix(tok),
  ...Array<number>(Config.imageTokens(c)).fill(Tok.IMG),
  ...tok.encode(turn(instruction))
]

export interface Example {
  readonly ids: ReadonlyArray<number>
  /** Index of the first answer token. */
  readonly answerFrom: number
}

export const example = (tok: Tok.Tokenizer, c: Config.Config, instruction: string, answer: string): Example => {
  const prompt = promptIds(tok, c, instruction)
  return { ids: [...prompt, ...tok.encode(` ${answer}`), Tok.EOS], answerFrom: prompt.length }
}

export interface Batch {
  /** Inputs [B, T], padded with `<pad>`. */
  readonly ids: Int32Array
  /** Next-token targets [B, T]. */
  readonly targets: Int32Array
  /** 1 where the target is an answer token or the end token, else 0: [B, T]. */
  readonly weights: Float32Array
  readonly batch: number
  readonly length: number
  /** Examples cut at the length limit. */
  readonly truncated: number
}

/** Packs examples into a batch of length `T` (at most the LM's context). */
export const batch = (examples: ReadonlyArray<Example>, T: number): Batch => {
  const B = examples.length
  const ids = new Int32Array(B * T)
  const targets = new Int32Array(B * T)
  const weights = new Float32Array(B * T)
  let truncated = 0
  examples.forEach((e, b) => {
    if (e.ids.length > T + 1) truncated++
    const n = Math.min(e.ids.length, T + 1)
    for (let t = 0; t < n - 1; t++) {
      ids[b * T + t] = e.ids[t]!
      targets[b * T + t] = e.ids[t + 1]!
      if (t + 1 >= e.answerFrom) weights[b * T + t] = 1
    }
  })
  return { ids, targets, weights, batch: B, length: T, truncated }
}
