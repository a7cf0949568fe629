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
