import test from "ava"
import * as CacheKey from "../../src/core/CacheKey.ts"

const base: CacheKey.KeyRecord = {
  stage: "train",
  version: null,
  code: { modules: { "stages/train.ts": "aa", "src/lib.ts": "bb" }, packages: { effect: "4.1.0" } },
  params: { lr: 0.1, optimizer: { name: "adamw", beta: 0.9 } },
  inputs: { data: { kind: "directory", digest: "1".repeat(64), from: "build.data" } },
  env: { backend: "wasm" }
}

test("the key is independent of key order and changes with every field", (t) => {
  const reordered: CacheKey.KeyRecord = {
    env: { backend: "wasm" },
    inputs: base.inputs,
    params: { optimizer: { beta: 0.9, name: "adamw" }, lr: 0.1 },
    code: { packages: { effect: "4.1.0" }, modules: { "src/lib.ts": "bb", "stages/train.ts": "aa" } },
    version: null,
    stage: "train"
  }
  t.is(CacheKey.hash(reordered), CacheKey.hash(base))
  const variants: Array<CacheKey.KeyRecord> = [
    { ...base, version: "2" },
    { ...base, params: { lr: 0.2, optimizer: { name: "adamw", beta: 0.9 } } },
    { ...base, env: { backend: "webgl" } },
    { ...base, code: { ...base.code, packages: { effect: "4.1.1" } } },
    { ...base, inputs: { data: { ...base.inputs.data!, digest: "2".repeat(64) } } }
  ]
  const keys = new Set([CacheKey.hash(base), ...variants.map(CacheKey.hash)])
  t.is(keys.size, 6)
})

test("diff names exactly what changed, with nested params flattened", (t) => {
  const after: CacheKey.KeyRecord = {
    ...base,
    code: { modules: { "stages/train.ts": "aa", "src/lib.ts": "cc", "src/new.ts": "dd" }, packages: { effect: "4.1.0" } },
    params: { lr: 0.1, optimizer: { name: "adamw", beta: 0.95 } },
    env: { backend: "tensorflow" }
  }
  const lines = CacheKey.diff(base, after).map(CacheKey.describe)
  t.deepEqual(lines, [
    "code src/lib.ts changed",
    "code src/new.ts: added",
    "params optimizer.beta: 0.9 -> 0.95",
    "env backend: wasm -> tensorflow"
  ])
  t.deepEqual(CacheKey.diff(base, base), [])
})
