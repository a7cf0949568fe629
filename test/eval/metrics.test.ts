/** Metrics on hand-computed cases. */
import test from "ava"
import * as Box from "../../src/data/Box.ts"
import * as Metrics from "../../src/eval/Metrics.ts"

test("IoU on hand-computed boxes", (t) => {
  t.is(Box.iou([0, 0, 0.5, 0.5], [0, 0, 0.5, 0.5]), 1)
  t.is(Box.iou([0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]), 0)
  // Overlap 0.25 × 0.5 = 0.125; union 0.25 + 0.25 − 0.125 = 0.375.
  t.true(Math.abs(Box.iou([0, 0, 0.5, 0.5], [0.25, 0, 0.75, 0.5]) - 1 / 3) < 1e-12)
})

test("REC: exactly one box with four numbers; IoU strictly above 0.5; wrong format counts as wrong", (t) => {
  const truth: Box.Norm = [0.1, 0.1, 0.5, 0.5]
  t.deepEqual(Metrics.rec("[0.100,0.100,0.500,0.500]", truth), { correct: true, formatError: false, iou: 1, box: [0.1, 0.1, 0.5, 0.5] })
  // IoU exactly 0.5 is not enough: [0.1,0.1,0.5,0.3] covers half the truth.
  const half = Metrics.rec("[0.100,0.100,0.500,0.300]", truth)
  t.true(Math.abs(half.iou - 0.5) < 1e-9)
  t.false(half.correct)
  t.true(Metrics.rec(" [0.100,0.100,0.500,0.510]", truth).correct)
  for (const bad of ["[0.100,0.100,0.500]", "[0.1,0.1,0.5,0.5]", "[0.100,0.100,0.500,0.500] [0.100,0.100,0.500,0.500]", "N/A", "box: [0.100,0.100,0.500,0.500] 0.500"]) {
    const r = Metrics.rec(bad, truth)
    t.true(r.formatError && !r.correct, bad)
  }
  t.deepEqual(Metrics.accuracy([{ correct: true }, { correct: false, formatError: true }, { correct: true }, { correct: false }]), { n: 4, correct: 2, accuracy: 0.5, formatErrors: 1 })
})

test("multiple choice and exact match", (t) => {
  t.is(Metrics.choice("The answer is C."), "C")
  t.is(Metrics.choice(" the answer is b "), "B")
  t.is(Metrics.choice("C"), null)
  t.is(Metrics.choice("The answer is E."), null)
  t.true(Metrics.exactMatch(" Red. ", "red"))
  t.false(Metrics.exactMatch("dark red", "red"))
  t.deepEqual(Metrics.accuracy([]), { n: 0, correct: 0, accuracy: 0, formatErrors: 0 })
})

test("REC by phrase form: an extreme picks by position, anything else by attributes; a form with no phrase is left out", (t) => {
  t.is(Metrics.phraseForm("the leftmost red circle"), "position")
  t.is(Metrics.phraseForm("the bottommost square"), "position")
  t.is(Metrics.phraseForm("the small red circle"), "attributes")
  t.deepEqual(Metrics.byForm([
    { phrase: "the topmost ring", correct: true },
    { phrase: "the rightmost star", correct: false },
    { phrase: "the blue cross", correct: true }
  ]), { "rec/position": 0.5, "rec/attributes": 1 })
  t.deepEqual(Metrics.byForm([{ phrase: "the bar", correct: false }]), { "rec/attributes": 0 })
})
