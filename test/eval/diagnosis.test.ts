/** The LM diagnosis's word-identity read-out: it finds a class that is there, and not one that is not. */
import test from "ava"
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-cpu"
import { centroidAccuracy } from "../../src/eval/LmDiagnosis.ts"

const rng = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648)

test.before(async () => {
  await tf.setBackend("cpu")
})

test("a class written into the features is read back; one that is not stays at chance", (t) => {
  const next = rng(7)
  const n = 400
  const labels = Array.from({ length: n }, (_, i) => i % 8)
  const noise = () => Array.from({ length: 32 }, () => next() * 2 - 1)
  const written = labels.map((y) => noise().map((v, d) => v + (d === y ? 3 : 0)))
  t.true(centroidAccuracy(written, labels, 8, 280) > 0.9)
  const absent = labels.map(() => noise())
  t.true(centroidAccuracy(absent, labels, 8, 280) < 0.3)
})
