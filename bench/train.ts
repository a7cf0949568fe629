/**
 * Training and generation throughput of the Pink model (`npm run bench:train`).
 *
 * One child process per TF.js backend and batch size (a backend is chosen once per process), each
 * timing stage-2 training steps (adapters + projection + delimiter rows trainable) of the chosen
 * preset on a fixed batch, and (at the first batch size) greedy generation of 8 prompts × 32 tokens
 * with and without the key/value cache; then the same model, batches, trainable set and decoding
 * in PyTorch CPU (bench/torch_pink.py, Debian's python3-torch) when it is installed, at 1 and 2
 * torch threads, the faster taken as the peer. Ratios are TF.js wasm over PyTorch, in this run.
 *
 *   node --import tsx bench/train.ts [--preset small] [--batch 16,64] [--length 128] [--steps 5] [--backends wasm,cpu] [--profile]
 *
 * `--profile` also prints, per backend and batch, where one step's kernel time goes (tf.profile).
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
const batches = arg("batch", "16,64").split(",").map(Number)
const B = batches[0]!
const T = Number(arg("length", "128"))
const steps = Number(arg("steps", "5"))
if (!(preset in Config.presets)) {
  process.stderr.write(`--preset ${preset}: use one of ${Object.keys(Config.presets).join(", ")}\n`)
  process.exit(2)
}
for (const [name, values] of [["batch", batches], ["length", [T]], ["steps", [steps]]] as const) {
  if (values.some((v) => !Number.isInteger(v) || v < 1)) {
    process.stderr.write(`--${name} ${arg(name, "")}: expected positive whole numbers${name === "batch" ? ", comma-separated" : ""}\n`)
    process.exit(2)
  }
}
const config = Config.presets[preset]
if (T > config.lm.maxLen) {
  process.stderr.write(`--length ${T} is longer than the ${preset} LM's context (${config.lm.maxLen})\n`)
  process.exit(2)
}

/** Generation's prompts: 8 of them, 32 new tokens each. */
const GENERATION_PROMPTS = Array.from({ length: 8 }, (_, i) => `word${i} thing${i} word${i + 1}`)

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
  if (process.argv.includes("--profile")) {
    // tf.profile of one more step: kernel time by kernel name, largest first (to stderr).
    const info = await tf.profile(async () => {
      await Loop.train(model.weights, policy, lossAt, { steps: 1, lr: 1e-4, warmupFraction: 0, seed: 3, tokensPerStep: B * T })
    })
    const byName = new Map<string, { ms: number; calls: number }>()
    for (const k of info.kernels) {
      const e = byName.get(k.name) ?? { ms: 0, calls: 0 }
      byName.set(k.name, { ms: e.ms + Number(k.kernelTimeMs), calls: e.calls + 1 })
    }
    const total = [...byName.values()].reduce((a, e) => a + e.ms, 0)
    process.stderr.write(`profile, batch ${B}: ${total.toFixed(0)} ms of kernels in ${info.kernels.length} calls\n`)
    for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) process.stderr.write(`  ${name.padEnd(24)} ${e.ms.toFixed(1).padStart(7)} ms ${String(e.calls).padStart(6)} calls\n`)
  }
  const flops = trainingFlops(config, tokenizer.size, B, T)

  // Generation: 8 prompts, 32 new tokens, with and without the cache (EOS never stops it: random weights).
  const prompts = GENERATION_PROMPTS
  const genImages = tf.tensor4d(Float32Array.from({ length: prompts.length * S * S * 3 }, () => rng()), [prompts.length, S, S, 3])
  const gen = async (cache: boolean) => {
    await Generate.generate(model, tokenizer, genImages, prompts, { maxNewTokens: 4, cache })
    const t0 = performance.now()
    const out = await Generate.generate(model, tokenizer, genImages, prompts, { maxNewTokens: 32, cache })
    const ms = performance.now() - t0
    const tokens = out.length * 32
    return { ms: Math.round(ms), tokensPerSecond: Math.round(tokens / (ms / 1000)) }
  }
  const generation = backend === "cpu" || !process.argv.includes("--generation") ? undefined : { cached: await gen(true), uncached: await gen(false) }
  return {
    backend: selected.name,
    matmul: selected.matmul,
    fused: selected.fused,
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
const results: Array<Record<string, unknown>> = []
for (const b of backends) {
  for (const [i, batch] of batches.entries()) {
    // The same script (through tsx, or bundled) in a fresh process per backend and batch.
    const extra = [...(i === 0 ? ["--generation"] : []), ...(process.argv.includes("--profile") ? ["--profile"] : [])]
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, "--one", b, "--preset", preset, "--batch", String(batch), "--length", String(T), "--steps", String(steps), ...extra], { encoding: "utf8", maxBuffer: 1 << 24 })
    if (process.argv.includes("--profile")) process.stdout.write(r.stderr.split("\n").filter((l) => l.startsWith("profile") || l.startsWith("  ")).join("\n") + "\n")
    const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "))
    if (line === undefined) {
      const lines = r.stderr.split("\n")
      const why = (lines.find((l) => l.includes("backend ")) ?? lines.find((l) => /Error/.test(l)) ?? lines.filter((l) => l.trim() !== "").at(-1) ?? "").slice(0, 300)
      results.push({ backend: b, batch, unavailable: why })
      process.stdout.write(`${b} batch ${batch}: unavailable (${why})\n`)
      break
    }
    const result = JSON.parse(line.slice(7))
    results.push(result)
    process.stdout.write(`${b} batch ${batch}: ${JSON.stringify(result)}\n`)
  }
}

// Debian's python3-torch on the development machine; TORCH_PYTHON / TORCH_DEVICE elsewhere (a GPU box).
const python = process.env.TORCH_PYTHON ?? "/usr/bin/python3"
const device = process.env.TORCH_DEVICE ?? "cpu"
const promptLength = Prompt.promptIds(tokenizer, config, GENERATION_PROMPTS[0]!).length
const torchRun = (batch: number, threads: number, generate: boolean): Record<string, unknown> => {
  const torch = spawnSync(python, [path.join(here, "torch_pink.py"), "--preset", preset, "--batch", String(batch), "--length", String(T), "--steps", String(steps), "--vocab", String(tokenizer.size), "--device", device, "--threads", String(threads), ...(generate ? ["--generate", String(GENERATION_PROMPTS.length), "--prompt-length", String(promptLength)] : [])], {
    encoding: "utf8",
    env: { ...process.env, OPENBLAS_NUM_THREADS: "2", OMP_NUM_THREADS: String(threads) }
  })
  const torchLine = torch.stdout.split("\n").find((l) => l.startsWith("RESULT "))
  return torchLine === undefined ? { batch, threads, unavailable: (torch.stderr || String(torch.error)).trim().split("\n").at(-1) } : JSON.parse(torchLine.slice(7))
}
const pytorch: Array<Record<string, unknown>> = []
for (const [i, batch] of batches.entries()) {
  // On a CPU, PyTorch at 1 and at 2 threads (its intra-op threads compete with OpenBLAS's); the faster is the peer.
  const tries = device === "cpu" ? [1, 2].map((threads) => torchRun(batch, threads, i === 0)) : [torchRun(batch, 1, i === 0)]
  for (const r of tries) process.stdout.write(`pytorch batch ${batch}: ${JSON.stringify(r)}\n`)
  const ok = tries.filter((r) => typeof r.msPerStep === "number").sort((a, b) => (a.msPerStep as number) - (b.msPerStep as number))
  // Generation's peer is the faster decoding of the two, which need not be the faster training.
  type Gen = { cached: { tokensPerSecond: number }; uncached: { tokensPerSecond: number } } | null | undefined
  const best = (kind: "cached" | "uncached") => ok.map((r) => (r.generation as Gen)?.[kind]).filter((g) => g != null).sort((a, b) => b!.tokensPerSecond - a!.tokensPerSecond)[0]
  const peer = ok[0] ?? tries[0]!
  pytorch.push(best("cached") === undefined ? peer : { ...peer, generation: { cached: best("cached"), uncached: best("uncached") } })
}
const out = path.join(here, "out")
fs.mkdirSync(out, { recursive: true })
fs.writeFileSync(path.join(out, `train-${preset}.json`), `${JSON.stringify({ results, pytorch }, null, 2)}\n`)
for (const [i, batch] of batches.entries()) {
  const wasm = results.find((r) => r.backend === "wasm" && r.batch === batch) as { msPerStep?: number; generation?: { cached: { tokensPerSecond: number }; uncached: { tokensPerSecond: number } } } | undefined
  const peer = pytorch[i] as { msPerStep?: number; threads?: number; generation?: { cached: { tokensPerSecond: number }; uncached: { tokensPerSecond: number } } }
  if (wasm?.msPerStep === undefined || peer.msPerStep === undefined) continue
  process.stdout.write(`batch ${batch}: wasm ${wasm.msPerStep} ms / step, pytorch ${peer.msPerStep} ms (${peer.threads} thread${peer.threads === 1 ? "" : "s"}): ${(wasm.msPerStep / peer.msPerStep).toFixed(2)}×\n`)
  if (wasm.generation !== undefined && peer.generation != null) {
    for (const kind of ["cached", "uncached"] as const) {
      const a = wasm.generation[kind].tokensPerSecond
      const p = peer.generation[kind].tokensPerSecond
      process.stdout.write(`generation, ${kind}: wasm ${a} tokens/s, pytorch ${p}: pytorch ${(p / a).toFixed(2)}× faster\n`)
    }
  }
}
