/** Numeracy text: progressions step evenly, sorted lists are sorted, comparisons are true. */
import test from "ava"
import * as Numeracy from "../../src/data/Numeracy.ts"
import * as Tok from "../../src/model/Tokenizer.ts"

test("numeracy texts are true statements about coordinate values, and a function of the seed", (t) => {
  const texts = Numeracy.texts(600, 5)
  t.deepEqual(Numeracy.texts(600, 5), texts)
  t.notDeepEqual(Numeracy.texts(600, 6), texts)
  const kinds = { count: 0, sorted: 0, compare: 0 }
  for (const text of texts) {
    const words = text.split(" ")
    const numbers = words.filter(Tok.isCoordinate).map(Number)
    t.true(words.filter((w) => /\d/.test(w)).every(Tok.isCoordinate), `only coordinate tokens in ${text}`)
    if (words[0] === "count") {
      kinds.count++
      t.true(numbers.length >= 4, `at least four values in ${text}`)
      const steps = numbers.slice(1).map((x, i) => x - numbers[i]!)
      t.true(steps.every((s) => Math.abs(s - steps[0]!) <= 0.0021), `even steps in ${text}`)
    } else if (words[0] === "sorted") {
      kinds.sorted++
      t.true(numbers.length >= 3 && numbers.every((x, i) => i === 0 || numbers[i - 1]! <= x), text)
    } else {
      kinds.compare++
      t.is(words.length, 3, text)
      t.true(words[1] === "<" ? numbers[0]! <= numbers[1]! : numbers[0]! >= numbers[1]!, text)
    }
  }
  for (const [kind, n] of Object.entries(kinds)) t.true(n > 150, `${kind}: ${n} of 600`)
})
