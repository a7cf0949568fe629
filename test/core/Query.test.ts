/** compare's row order: names alphabetically, the numbers in them by value. */
import test from "ava"
import { byName } from "../../src/core/Query.ts"

test("a curve's points come in step order, after the names they extend", (t) => {
  const names = ["s.metrics.grounding@1050", "s.metrics.grounding@150", "s.metrics.grounding", "s.metrics.grounding@1500", "s.metrics.n", "a.param"]
  t.deepEqual([...names].sort(byName), ["a.param", "s.metrics.grounding", "s.metrics.grounding@150", "s.metrics.grounding@1050", "s.metrics.grounding@1500", "s.metrics.n"])
})
