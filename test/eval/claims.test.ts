/** The claims' paired bootstrap: differences over shared items only, intervals that hold the difference and narrow with more items. */
import test from "ava"
import * as Claims from "../../src/eval/Claims.ts"

const model = (name: string, correct: ReadonlyArray<boolean>, offset = 0) => ({
  name,
  outcomes: new Map(correct.map((c, i) => [`val/${i + offset}`, c] as const))
})

test("identical models differ by zero, with a zero-width interval; a model right everywhere beats one right nowhere by 100 points", (t) => {
  const a = model("a", Array.from({ length: 50 }, (_, i) => i % 3 === 0))
  const same = Claims.claim("same", a, { ...a, name: "b" })
  t.deepEqual([same.difference, same.low, same.high, same.n], [0, 0, 0, 50])
  const all = Claims.claim("all", model("a", new Array(40).fill(true)), model("b", new Array(40).fill(false)))
  t.deepEqual([all.difference, all.low, all.high], [1, 1, 1])
  t.is(Claims.describe(all), "+100.0 points [+100.0, +100.0] (n = 40)")
})

test("only items both models answered count, and the interval holds the difference and narrows with more items", (t) => {
  // a is right on 60 % of items, b on 40 %, with disagreements spread over the items.
  const make = (n: number) => [model("a", Array.from({ length: n }, (_, i) => i % 5 < 3)), model("b", Array.from({ length: n }, (_, i) => i % 5 >= 3))] as const
  const [a, b] = make(200)
  const c = Claims.claim("a vs b", a, b)
  t.is(c.n, 200)
  t.true(Math.abs(c.difference - 0.2) < 1e-12)
  t.true(c.low < c.difference && c.difference < c.high)
  t.true(c.low > 0, `interval ${c.low}..${c.high} excludes zero`)
  const [a2, b2] = make(2000)
  const wide = c.high - c.low
  const c2 = Claims.claim("a vs b", a2, b2)
  t.true(c2.high - c2.low < wide / 2, "ten times the items: an interval under half as wide")
  // Shifted ids: only the 100 shared ones count.
  const shifted = Claims.claim("shifted", a, { name: "b", outcomes: model("b", Array.from({ length: 200 }, () => false), 100).outcomes })
  t.is(shifted.n, 100)
  t.deepEqual(Claims.claim("a vs b", a, b), c, "the same seed gives the same interval")
})

test("outcomes take the REC items of a model's predictions and leave external splits out", (t) => {
  const o = Claims.outcomes([
    { id: "1", kind: "rec", split: "val", correct: true },
    { id: "1", kind: "rec", split: "testA", correct: false },
    { id: "2", kind: "v7w", split: "v7w", correct: true },
    { id: "3", kind: "rec", split: "external-val", correct: true }
  ])
  t.deepEqual([...o], [["val/1", true], ["testA/1", false]])
})
