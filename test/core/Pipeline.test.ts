import test from "ava"
import * as Pipeline from "../../src/core/Pipeline.ts"

const pipeline = Pipeline.make({
  name: "p",
  stages: [],
  params: { train: { epochs: 3 } },
  sweep: { "train.lr": [0.1, 0.01], "data.seed": [1, 2, 3] }
})

test("a sweep expands to the full grid, on top of the pipeline's params", (t) => {
  const vs = Pipeline.variants(pipeline)
  t.is(vs.length, 6)
  t.deepEqual(vs[0]!.overrides, { train: { epochs: 3, lr: 0.1 }, data: { seed: 1 } })
  t.is(vs[5]!.label, "train.lr=0.01,data.seed=3")
  t.is(new Set(vs.map((v) => v.label)).size, 6)
})

test("--set pins a swept param and overrides pipeline params", (t) => {
  const vs = Pipeline.variants(pipeline, { "train.lr": 0.5, "train.epochs": 9 })
  t.is(vs.length, 3)
  t.true(vs.every((v) => v.overrides.train!.lr === 0.5 && v.overrides.train!.epochs === 9))
})

test("a pipeline without a sweep has one unlabelled variant", (t) => {
  const vs = Pipeline.variants(Pipeline.make({ name: "q", stages: [] }))
  t.deepEqual(vs, [{ label: "", swept: {}, set: {}, overrides: {} }])
})
