/**
 * The tokenizer of the tiny LM: word-level with a fixed part that every Pink prompt needs.
 *
 * Fixed tokens: specials (`<pad> <bos> <eos> <unk> <img>`), the 12 delimiters, the 1,001
 * coordinates `0.000`…`1.000` (so a box `[0.123,0.456,0.789,0.999]` is 9 tokens and always
 * round-trips exactly), digits and punctuation. Words come from a corpus, most frequent first.
 * A token carries its leading whitespace (` cat` ≠ `cat`), so decoding is concatenation.
 */
import * as Box from "../data/Box.ts"

export const SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>", "<img>"] as const

export const DELIMITERS = [
  "<des>", "</des>", "<loc>", "</loc>", "<cls>", "</cls>",
  "<rel>", "</rel>", "<qes>", "</qes>", "<opt>", "</opt>"
] as const

export const PAD = 0
export const BOS = 1
export const EOS = 2
export const UNK = 3
export const IMG = 4

const PIECE = /(\s*)(<\/?(?:des|loc|cls|rel|qes|opt)>|[01]\.\d{3}(?!\d)|\d|[A-Za-z]+|[^\sA-Za-z\d])/g

const COORDINATES = Array.from({ length: 1001 }, (_, i) => (i / 1000).toFixed(3))
const COORDINATE_SET = new Set(COORDINATES)

/** Whether `token` is one of the 1,001 coordinate tokens `0.000`…`1.000`. */
export const isCoordinate = (token: string): boolean => COORDINATE_SET.has(token)
const PUNCTUATION = [..."[],.:;?!'\"()-/+*=%&#@_"]
const DIGITS = [..."0123456789"]

/** Splits text into pieces, each with its leading whitespace. */
export const pieces = (text: string): Array<string> => {
  const out: Array<string> = []
  for (const m of text.matchAll(PIECE)) out.push(m[1]! + m[2]!)
  return out
}

export interface Tokenizer {
  readonly vocab: ReadonlyArray<string>
  readonly size: number
  readonly encode: (text: string) => Array<number>
  readonly decode: (ids: ReadonlyArray<number>) => string
  /** Ids of the 12 delimiter tokens (the rows stage 2 trains). */
  readonly delimiterIds: ReadonlyArray<number>
}

const fixedVocab = (): Array<string> => {
  const vocab: Array<string> = [...SPECIALS]
  for (const d of DELIMITERS) vocab.push(d, ` ${d}`)
  vocab.push(...COORDINATES)
  for (const p of [...PUNCTUATION, ...DIGITS]) vocab.push(p, ` ${p}`, `\n${p}`)
  return vocab
}

export const fromVocab = (vocab: ReadonlyArray<string>): Tokenizer => {
  const index = new Map(vocab.map((t, i) => [t, i]))
  const encode = (text: string) =>
    pieces(text).map((p) => index.get(p) ?? index.get(p.trimStart()) ?? UNK)
  const decode = (ids: ReadonlyArray<number>) => {
    let out = ""
    for (const id of ids) {
      if (id === PAD || id === BOS || id === IMG) continue
      if (id === EOS) break
      out += id === UNK ? " ?" : vocab[id] ?? " ?"
    }
    return out
  }
  return {
    vocab,
    size: vocab.length,
    encode,
    decode,
    delimiterIds: DELIMITERS.flatMap((d) => [index.get(d)!, index.get(` ${d}`)!])
  }
}

/** Builds the vocabulary: the fixed tokens, then corpus words (with and without a leading space) by frequency. */
export const fromCorpus = (texts: Iterable<string>, options: { readonly maxWords?: number; readonly minCount?: number } = {}): Tokenizer => {
  const vocab = fixedVocab()
  const known = new Set(vocab)
  const counts = new Map<string, number>()
  for (const text of texts) {
    for (const p of pieces(text)) if (!known.has(p)) counts.set(p, (counts.get(p) ?? 0) + 1)
  }
  const words = [...counts].filter(([, c]) => c >= (options.minCount ?? 1))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, options.maxWords ?? 4000)
    .map(([w]) => w)
  return fromVocab([...vocab, ...words])
}

/** Box text is the data format's (src/data/Box.ts): `[0.123,0.456,0.789,0.999]`. */
export const formatBox = (box: readonly [number, number, number, number]): string => Box.format(box)
