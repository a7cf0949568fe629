/** The training loop's held-out evaluations: when they run, what they see, and that a resumed run returns the same list. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import test from "ava"
import * as Backend from "../../src/model/Backend.ts"
import * as W from "../../src/model/Weights.ts"
import * as Loop from "../../src/train/Loop.ts"

test.before(async () => {
  await Backend.select("wasm")
})

/** Gradient descent on (x − 3)² for `steps` steps; each evaluation reports x and which call it was. */
const run = async (steps: number, checkpointDir?: string) => {
  const w: W.Weights = new Map()
  W.add(w, 1, "x", [1], { kind: "zeros" })
  const calls: Array<number> = []
  const r = await Loop.train(w, { name: "vit", trainable: ["x"], rows: new Map() }, () => tf.tidy(() => tf.sum(tf.square(tf.sub(W.get(w, "x"), 3))) as tf.Scalar), {
    steps,
    lr: 0.1,
    warmupFraction: 0,
    seed: 1,
    adamw: { weightDecay: 0 },
    tokensPerStep: 1,
    checkpointDir,
    checkpointEvery: 5,
    evaluate: { every: 5, run: async (step) => (calls.push(step), { x: (await W.get(w, "x").data())[0]! }) }
  })
  W.dispose(w)
  return { r, calls }
}

test("evaluations run every `every` steps and after the last, on the weights of that step", async (t) => {
  const { r, calls } = await run(12)
  t.deepEqual(calls, [5, 10, 12])
  t.deepEqual(r.evaluations.map((e) => e.step), [5, 10, 12])
  const xs = r.evaluations.map((e) => e.metrics.x!)
  t.true(xs[0]! > 0 && xs[0]! < xs[1]! && xs[1]! < xs[2]!, `x moves towards 3 between evaluations: ${xs.join(", ")}`)
  const plain = await run(12)
  t.deepEqual(plain.r.evaluations, r.evaluations, "the same run measures the same")
})

test("a run resumed from a checkpoint keeps the evaluations made before it and measures only the rest", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinkflow-eval-"))
  const whole = await run(10, dir)
  t.deepEqual(whole.calls, [5, 10])
  // The first run left its step-5 checkpoint (none is saved at the last step): the second resumes there.
  const resumed = await run(10, dir)
  t.is(resumed.r.resumedFrom, 5)
  t.deepEqual(resumed.calls, [10])
  t.deepEqual(resumed.r.evaluations, whole.r.evaluations)
  fs.rmSync(dir, { recursive: true, force: true })
})
