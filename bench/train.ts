/**
 * Training and generation throughput of the Pink model (`npm run bench:train`).
 *
 * One child process per TF.js backend that initialises here (a backend is chosen once per
 * process), each timing stage-2 training steps (adapters + projection + delimiter rows trainable)
 * of the chosen preset on a fixed batch; then the same model, batch and trainable set in PyTorch
 * CPU (bench/torch_pink.py, Debian's python3-torch) when it is installed; then greedy generation
 * with and without the key/value cache.
 *
 *   node --import tsx bench/train.ts [--preset small] [--batch 16] [--length 128] [--steps 5] [--backends wasm,cpu]
 */
import * as tf from "@tensorflow/tfjs-core"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Backend from "../src/model/Backend.ts"
import * as Config from "../src/model/Config.ts"
import * as Freeze from "../src/model/Freeze.ts"
import * as Generate from "../src/model/Generate.ts"
import * as Pink from "../src/model/Pink.ts"
import * as Prompt from "../src/model/Prompt.ts"
import * as Tok from "../src/model/Tokenizer.ts"
import * as W from "../src/model/Weights.ts"
import * as Loop from "../src/train/Loop.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1]! : fallback
}
const preset = arg("preset", "small") as Config.Preset
const B = Number(arg("batch", "16"))
const T = Number(arg("length", "128"))
const steps = Number(arg("steps", "5"))
if (!(preset in Config.presets)) {
  process.stderr.write(`--preset ${preset}: use one of ${Object.keys(Config.presets).join(", ")}\n`)
  process.exit(2)
}
const config = Config.presets[preset]
if (T > config.lm.maxLen) {
  process.stderr.write(`--length ${T} is longer than the ${preset} LM's context (${config.lm.maxLen})\n`)
  process.exit(2)
}

/** A fixed vocabulary of the size the data build produces (~1,500 tokens). */
const tokenizer = Tok.fromCorpus(Array.from({ length: 400 }, (_, i) => `word${i} thing${i % 37}`))

/** Multiply-adds ×2 of one training step: forward, and backward at twice the forward. */
export const trainingFlops = (c: Config.Config, vocab: number, batch: number, length: number): number => {
  const N = Config.imageTokens(c)
  const block = (C: number, t: number, ratio: number) => t * (2 * C * 3 * C + 2 * C * C + 2 * 2 * C * ratio * C) + 2 * 2 * t * t * C
  const vit = 2 * N * c.vit.patchSize ** 2 * 3 * c.vit.width + Config.featureBlocks(c) * block(c.vit.width, N, c.vit.mlpRatio) + 2 * N * c.vit.width * c.lm.width
  const lm = c.lm.depth * block(c.lm.width, length, c.lm.mlpRatio) + 2 * length * c.lm.width * vocab
  return 3 * batch * (vit + lm)
}

const runOne = async (backend: string) => {
  const selected = await Backend.select(backend)
  const model = Pink.init(config, tokenizer.size, Prompt.imageSlot(tokenizer), 1)
  const S = config.vit.imageSize
  const rng = W.rng(7)
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i % T >= model.imageSlot && i % T < model.imageSlot + Config.imageTokens(config) ? Tok.IMG : 5 + Math.floor(rng() * (tokenizer.size - 5))))
  const targets = Int32Array.from({ length: B * T }, () => 5 + Math.floor(rng() * (tokenizer.size - 5)))
  const weights = Float32Array.from({ length: B * T }, (_, i) => (i % T >= T - 16 ? 1 : 0))
  const pixels = Float32Array.from({ length: B * S * S * 3 }, () => rng())
  const idT = tf.tensor2d(ids, [B, T], "int32")
  const images = tf.tensor4d(pixels, [B, S, S, 3])
  const policy = Freeze.policy("adaptersAndProjection", model, tokenizer)
  // The recipe's loss: the head only at the answer positions (Pink.answerLoss), as in torch_pink.py.
  const lossAt = (_s: number, seed: number) => Pink.answerLoss(model, Pink.hidden(model, idT, { images }, { training: true, seed }), targets, weights)
  const warm = backend === "cpu" ? 1 : 2
  await Loop.train(model.weights, policy, lossAt, { steps: warm, lr: 1e-4, warmupFraction: 0, seed: 1, tokensPerStep: B * T })
  const timed = backend === "cpu" ? Math.min(2, steps) : steps
  const r = await Loop.train(model.weights, policy, lossAt, { steps: timed, lr: 1e-4, warmupFraction: 0, seed: 2, tokensPerStep: B * T })
  const msPerStep = r.elapsedMs / timed
  const flops = trainingFlops(config, tokenizer.size, B, T)

  // Generation: 8 prompts, 32 new tokens, with and without the cache (EOS never stops it: random weights).
  const prompts = Array.from({ length: 8 }, (_, i) => `word${i} thing${i} word${i + 1}`)
  const genImages = tf.slice(images, [0, 0, 0, 0], [8, -1, -1, -1])
  const gen = async (cache: boolean) => {
    await Generate.generate(model, tokenizer, genImages, prompts, { maxNewTokens: 4, cache })
    const t0 = performance.now()
    const out = await Generate.generate(model, tokenizer, genImages, prompts, { maxNewTokens: 32, cache })
    const ms = performance.now() - t0
    const tokens = out.length * 32
    return { ms: Math.round(ms), tokensPerSecond: Math.round(tokens / (ms / 1000)) }
  }
  const generation = backend === "cpu" ? undefined : { cached: await gen(true), uncached: await gen(false) }
  return {
    backend: selected.name,
    matmul: selected.matmul,
    versions: selected.versions,
    skipped: selected.skipped,
    preset,
    batch: B,
    length: T,
    steps: timed,
    msPerStep: Math.round(msPerStep),
    tokensPerSecond: Math.round((B * T) / (msPerStep / 1000)),
    gflopPerStep: Math.round(flops / 1e8) / 10,
    gflops: Math.round((flops / 1e9 / (msPerStep / 1000)) * 10) / 10,
    trainable: Freeze.counts(model, policy),
    generation
  }
}

if (process.argv.includes("--one")) {
  const result = await runOne(arg("one", "wasm"))
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
  process.exit(0)
}

const backends = arg("backends", Backend.ORDER.join(",")).split(",")
const results: Array<unknown> = []
for (const b of backends) {
  // The same script (through tsx, or bundled) in a fresh process per backend.
  const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, "--one", b, "--preset", preset, "--batch", String(B), "--length", String(T), "--steps", String(steps)], { encoding: "utf8", maxBuffer: 1 << 24 })
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "))
  if (line === undefined) {
    const lines = r.stderr.split("\n")
    const why = (lines.find((l) => l.includes("backend ")) ?? lines.find((l) => /Error/.test(l)) ?? lines.filter((l) => l.trim() !== "").at(-1) ?? "").slice(0, 300)
    results.push({ backend: b, unavailable: why })
    process.stdout.write(`${b}: unavailable (${why})\n`)
    continue
  }
  const result = JSON.parse(line.slice(7))
  results.push(result)
  process.stdout.write(`${b}: ${JSON.stringify(result)}\n`)
}

// Debian's python3-torch on the development machine; TORCH_PYTHON / TORCH_DEVICE elsewhere (a GPU box).
const python = process.env.TORCH_PYTHON ?? "/usr/bin/python3"
const torch = spawnSync(python, [path.join(here, "torch_pink.py"), "--preset", preset, "--batch", String(B), "--length", String(T), "--steps", String(steps), "--vocab", String(tokenizer.size), "--device", process.env.TORCH_DEVICE ?? "cpu"], {
  encoding: "utf8",
  env: { ...process.env, OPENBLAS_NUM_THREADS: "2", OMP_NUM_THREADS: "1" }
})
const torchLine = torch.stdout.split("\n").find((l) => l.startsWith("RESULT "))
const torchResult = torchLine === undefined ? { unavailable: (torch.stderr || String(torch.error)).trim().split("\n").at(-1) } : JSON.parse(torchLine.slice(7))
process.stdout.write(`pytorch: ${JSON.stringify(torchResult)}\n`)
const out = path.join(here, "out")
fs.mkdirSync(out, { recursive: true })
fs.writeFileSync(path.join(out, `train-${preset}.json`), `${JSON.stringify({ results, pytorch: torchResult }, null, 2)}\n`)
const wasm = results.find((r) => (r as { backend?: string }).backend === "wasm") as { msPerStep?: number } | undefined
if (wasm?.msPerStep !== undefined && torchResult.msPerStep !== undefined) {
  process.stdout.write(`wasm / pytorch time per step: ${(wasm.msPerStep / torchResult.msPerStep).toFixed(2)}×\n`)
}
