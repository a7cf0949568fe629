/**
 * In-process plan time: load (bundle + import), then validate the DAG, resolve params and compute
 * code fingerprints for every stage. Prints one JSON line. Usage: node --import tsx bench/plan.ts FILE
 */
import { Effect, Layer } from "effect"
import * as path from "node:path"
import * as Loader from "../src/core/Loader.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Plan from "../src/core/Plan.ts"
import { StatCache } from "../src/core/StatCache.ts"

const file = process.argv[2]!
const program = Effect.gen(function*() {
  const t0 = performance.now()
  const loaded = yield* Loader.load(file)
  const t1 = performance.now()
  const [variant] = Pipeline.variants(loaded.pipeline)
  const plan = yield* Plan.make(loaded, variant!)
  const t2 = performance.now()
  return { stages: plan.order.length, loadMs: t1 - t0, planMs: t2 - t1, totalMs: t2 - t0 }
})
const root = Loader.projectRoot(path.resolve(file))
const result = await Effect.runPromise(program.pipe(Effect.provide(Layer.mergeAll(StatCache.layer(path.join(root, "artifacts", "statcache.json"))))))
process.stdout.write(`${JSON.stringify(result)}\n`)
