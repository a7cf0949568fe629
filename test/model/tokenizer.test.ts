import test from "ava"
import * as Box from "../../src/data/Box.ts"
import * as Tok from "../../src/model/Tokenizer.ts"

const tok = Tok.fromCorpus(["the red cat is left of the blue dog"])

test("boxes are written with three decimals, clamped, and round-trip through the tokenizer", (t) => {
  const box = Tok.formatBox([0.3364, 0.2971, 0.40449, 1.2])
  t.is(box, "[0.336,0.297,0.404,1.000]")
  const text = `<des>the red cat</des> ${box} ${Tok.formatBox([0, 0, 0.5, 0.5])}`
  const ids = tok.encode(text)
  t.is(tok.decode(ids), text)
  t.is(tok.encode(box).length, 9, "[ + 4 coordinates + 3 commas + ]")
  t.deepEqual(Box.parseAll(text), [[0.336, 0.297, 0.404, 1], [0, 0, 0.5, 0.5]])
  t.deepEqual(tok.vocab.filter(Tok.isCoordinate).length, 1001, "the coordinate tokens are 0.000…1.000")
  t.true(Tok.isCoordinate("0.336") && Tok.isCoordinate("1.000"))
  t.false(Tok.isCoordinate("1.001") || Tok.isCoordinate(" 0.336") || Tok.isCoordinate("0.33"))
})

test("the 12 delimiters are single tokens", (t) => {
  for (const d of Tok.DELIMITERS) t.is(tok.encode(d).length, 1, d)
  t.is(tok.delimiterIds.length, 24, "each with and without a leading space")
})

test("unknown words decode as a marker, and decoding stops at the end token", (t) => {
  const ids = [...tok.encode("the zebra"), Tok.EOS, ...tok.encode(" cat")]
  t.is(tok.decode(ids), "the ?")
})

const bins = Tok.fromCorpus(["the red cat is left of the blue dog"], { coordinates: "bins" })

test("binned coordinates: a box is four tokens, a point two, each decoding to its bin's centre with three decimals", (t) => {
  t.is(bins.coordinates, "bins")
  t.is(tok.coordinates, "decimal")
  t.false(bins.vocab.some(Tok.isCoordinate), "no decimal coordinate tokens")
  const box = "[0.336,0.297,0.404,1.000]"
  t.is(bins.encode(box).length, 4)
  t.is(bins.encode(" [0.5,0.5]".replace(/0\.5/g, "0.500")).length, 2)
  const text = `the red cat <loc>${box}</loc> is left of [0.500,0.250] the [0.000,0.000,0.016,0.999]`
  const decoded = bins.decode(bins.encode(text))
  t.is(decoded, "the red cat <loc>[0.336,0.305,0.398,0.992]</loc> is left of [0.508,0.258] the [0.008,0.008,0.023,0.992]")
  // Every value is within half a bin (plus the rounding to three decimals) of what went in, and re-encoding is stable.
  const [a] = Box.parseAll(decoded)
  Box.parseAll(text)[0]!.forEach((v, i) => t.true(Math.abs(v - a![i]!) <= 1 / (2 * Tok.BINS) + 0.0005 + 1e-9, `coordinate ${i}`))
  t.is(bins.decode(bins.encode(decoded)), decoded)
  t.deepEqual(bins.coordinateIds.length, 6 * Tok.BINS + 2 * Tok.BINS, "four box roles and two point roles, openers also with a space")
})

test("binned coordinates: a lone decimal is spelled in digits, and the words are those of the decimal vocabulary", (t) => {
  t.is(bins.decode(bins.encode("it is 0.250 wide")), " ? is 0.250 ?", "unknown words decode as a marker")
  t.is(bins.encode(" 0.250").length, 5)
  t.deepEqual(bins.vocab.filter((w) => /^\s?[a-z]+$/.test(w)), tok.vocab.filter((w) => /^\s?[a-z]+$/.test(w)))
})
