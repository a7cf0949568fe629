/**
 * The tokenizer of the tiny LM: word-level with a fixed part that every Pink prompt needs.
 *
 * Fixed tokens: specials (`<pad> <bos> <eos> <unk> <img>`), the 12 delimiters, the coordinates,
 * digits and punctuation. Words come from a corpus, most frequent first. A token carries its
 * leading whitespace (` cat` ≠ `cat`), so decoding is concatenation.
 *
 * Coordinates are written one of two ways, fixed when the vocabulary is built:
 * - `decimal`: the 1,001 tokens `0.000`…`1.000`, so a box `[0.123,0.456,0.789,0.999]` is 9 tokens
 *   (brackets and commas apart) and always round-trips exactly;
 * - `bins`: a box is 4 tokens, one per corner coordinate and role (`<x0:k>` `<y0:k>` `<x1:k>`
 *   `<y1:k>` for bin k of `BINS`), a point 2 (`<px:k>` `<py:k>`). Each decodes with its punctuation
 *   to the bin's centre with three decimals (`<x0:7>` → `[0.117,`), so answers still print as
 *   `[x0,y0,x1,y1]`; a value goes to its bin on the way in (at most half a bin, 1/128, off, plus the
 *   rounding to three decimals).
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

const PIECE = /(\s*)(<\/?(?:des|loc|cls|rel|qes|opt)>|\[[01]\.\d{3},[01]\.\d{3}(?:,[01]\.\d{3},[01]\.\d{3})?\]|[01]\.\d{3}(?!\d)|\d|[A-Za-z]+|[^\sA-Za-z\d])/g
const DECIMAL_PIECE = /(\s*)([01]\.\d{3}|[^\s\d]|\d)/g

const COORDINATES = Array.from({ length: 1001 }, (_, i) => (i / 1000).toFixed(3))

export type Coordinates = "decimal" | "bins"

/** Bins per axis of the `bins` coordinates. */
export const BINS = 64
const ROLES = ["x0", "y0", "x1", "y1", "px", "py"] as const
type Role = (typeof ROLES)[number]
/** Roles that open a box or a point, and so may carry the leading whitespace. */
const OPENING: ReadonlySet<Role> = new Set(["x0", "px"])

/** The bin of a coordinate in [0, 1] (clamped). */
export const bin = (v: number): number => Math.min(BINS - 1, Math.max(0, Math.floor(v * BINS)))
/** The value a bin prints as: its centre. */
export const binValue = (k: number): number => (k + 0.5) / BINS
/** The vocabulary entry of bin k in a role. */
export const binToken = (role: Role, k: number): string => `<${role}:${k}>`
const BIN_TOKEN = /^(\s*)<(x0|y0|x1|y1|px|py):(\d+)>$/

/** The role (index into the six roles) and bin of a bin token, or undefined for any other token. */
export const binOf = (token: string): { readonly role: number; readonly k: number } | undefined => {
  const m = BIN_TOKEN.exec(token)
  return m === null ? undefined : { role: ROLES.indexOf(m[2] as Role), k: Number(m[3]) }
}

const binSurface = (token: string): string | undefined => {
  const m = BIN_TOKEN.exec(token)
  if (m === null) return undefined
  const v = binValue(Number(m[3])).toFixed(3)
  switch (m[2] as Role) {
    case "x0":
    case "px": return `${m[1]}[${v},`
    case "y1":
    case "py": return `${v}]`
    default: return `${v},`
  }
}

const BOX_OR_POINT = /^\[([01]\.\d{3}),([01]\.\d{3})(?:,([01]\.\d{3}),([01]\.\d{3}))?\]$/
const COORDINATE_SET = new Set(COORDINATES)

/** Whether `token` is one of the 1,001 coordinate tokens `0.000`…`1.000`. */
export const isCoordinate = (token: string): boolean => COORDINATE_SET.has(token)
const PUNCTUATION = [..."[],.:;?!'\"()-/+*=%&#@_"]
const DIGITS = [..."0123456789"]

/** Pieces with a box or a point kept whole, each with its leading whitespace. */
const coarse = (text: string): Array<string> => {
  const out: Array<string> = []
  for (const m of text.matchAll(PIECE)) out.push(m[1]! + m[2]!)
  return out
}

/** A box's or a point's decimal pieces: `[`, `0.123`, `,`, … */
const decimalPieces = (piece: string): Array<string> => [...piece.matchAll(DECIMAL_PIECE)].map((m) => m[1]! + m[2]!)

/** Splits text into pieces, each with its leading whitespace (boxes into brackets, commas and coordinates). */
export const pieces = (text: string): Array<string> => coarse(text).flatMap((p) => (p.trimStart().startsWith("[") && p.length > 2 ? decimalPieces(p) : [p]))

/** The bin tokens of a box or point piece (` [0.1,0.2]`), or undefined when it is not one. */
const binPieces = (piece: string): Array<string> | undefined => {
  const ws = /^\s*/.exec(piece)![0]
  const m = BOX_OR_POINT.exec(piece.slice(ws.length))
  if (m === null) return undefined
  const values = [m[1], m[2], m[3], m[4]].filter((v) => v !== undefined).map(Number)
  const roles: ReadonlyArray<Role> = values.length === 4 ? ["x0", "y0", "x1", "y1"] : ["px", "py"]
  return roles.map((role, i) => (OPENING.has(role) ? ws : "") + binToken(role, bin(values[i]!)))
}

export interface Tokenizer {
  readonly vocab: ReadonlyArray<string>
  readonly size: number
  readonly coordinates: Coordinates
  readonly encode: (text: string) => Array<number>
  readonly decode: (ids: ReadonlyArray<number>) => string
  /** Ids of the 12 delimiter tokens (the rows stage 2 trains). */
  readonly delimiterIds: ReadonlyArray<number>
  /** Ids of the coordinate tokens (decimal or bins). */
  readonly coordinateIds: ReadonlyArray<number>
}

const fixedVocab = (coordinates: Coordinates): Array<string> => {
  const vocab: Array<string> = [...SPECIALS]
  for (const d of DELIMITERS) vocab.push(d, ` ${d}`)
  if (coordinates === "decimal") vocab.push(...COORDINATES)
  else {
    for (const role of ROLES) {
      for (let k = 0; k < BINS; k++) vocab.push(binToken(role, k), ...(OPENING.has(role) ? [` ${binToken(role, k)}`] : []))
    }
  }
  for (const p of [...PUNCTUATION, ...DIGITS]) vocab.push(p, ` ${p}`, `\n${p}`)
  return vocab
}

/** The id of a bin token in a vocabulary built with `bins` coordinates. */
export const binId = (tok: Tokenizer, role: Role, k: number): number => {
  const id = tok.vocab.indexOf(binToken(role, k))
  if (id < 0) throw new Error(`the vocabulary has no ${binToken(role, k)} (it was built with ${tok.coordinates} coordinates)`)
  return id
}

export const fromVocab = (vocab: ReadonlyArray<string>): Tokenizer => {
  const index = new Map(vocab.map((t, i) => [t, i]))
  const coordinates: Coordinates = index.has(binToken("x0", 0)) ? "bins" : "decimal"
  const lookup = (p: string) => index.get(p) ?? index.get(p.trimStart())
  const encode = (text: string) =>
    coarse(text).flatMap((p) => {
      const whole = p.trimStart().startsWith("[") && p.length > 2
      const parts = whole ? (coordinates === "bins" ? binPieces(p)! : decimalPieces(p)) : [p]
      // A lone decimal the vocabulary lacks (bins coordinates) is spelled in digits.
      return parts.flatMap((q) => (lookup(q) === undefined && /^\s*[01]\.\d{3}$/.test(q) ? [...q.matchAll(/(\s*)(\S)/g)].map((c) => c[1]! + c[2]!) : [q])).map((q) => lookup(q) ?? UNK)
    })
  const surfaces = vocab.map((t) => binSurface(t) ?? t)
  const decode = (ids: ReadonlyArray<number>) => {
    let out = ""
    for (const id of ids) {
      if (id === PAD || id === BOS || id === IMG) continue
      if (id === EOS) break
      out += id === UNK ? " ?" : surfaces[id] ?? " ?"
    }
    return out
  }
  return {
    vocab,
    size: vocab.length,
    coordinates,
    encode,
    decode,
    delimiterIds: DELIMITERS.flatMap((d) => [index.get(d)!, index.get(` ${d}`)!]),
    coordinateIds: vocab.flatMap((t, i) => (isCoordinate(t) || BIN_TOKEN.test(t) ? [i] : []))
  }
}

/** Builds the vocabulary: the fixed tokens, then corpus words (with and without a leading space) by frequency. */
export const fromCorpus = (texts: Iterable<string>, options: { readonly maxWords?: number; readonly minCount?: number; readonly coordinates?: Coordinates } = {}): Tokenizer => {
  const vocab = fixedVocab(options.coordinates ?? "decimal")
  // Coordinates are never words, whichever way they are written.
  const known = new Set([...vocab, ...COORDINATES])
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
