/**
 * A model artifact: a TF.js model directory whose `model.json` also carries the config and the
 * tokenizer's vocabulary, so a directory alone rebuilds the model.
 */
import type * as tf from "@tensorflow/tfjs-core"
import * as Config from "./Config.ts"
import * as Pink from "./Pink.ts"
import * as Prompt from "./Prompt.ts"
import * as Tok from "./Tokenizer.ts"
import * as W from "./Weights.ts"

export interface Meta {
  readonly config: Config.Config
  readonly vocab: ReadonlyArray<string>
  readonly [key: string]: unknown
}

export const save = (dir: string, model: Pink.Model, tok: Tok.Tokenizer, extra: Readonly<Record<string, unknown>> = {}): Promise<void> =>
  W.save(dir, model.weights, { ...extra, config: model.config, vocab: tok.vocab })

/**
 * Saves only the weights under `prefixes` (a tower: `vit/` or `lm/`), with the config and vocab,
 * for `loadParts`; `load` cannot rebuild a whole model from it.
 */
export const saveParts = (dir: string, model: Pink.Model, tok: Tok.Tokenizer, prefixes: ReadonlyArray<string>, extra: Readonly<Record<string, unknown>> = {}): Promise<void> =>
  W.save(dir, new Map([...model.weights].filter(([n]) => prefixes.some((p) => n.startsWith(p)))), { ...extra, config: model.config, vocab: tok.vocab, parts: prefixes })

/** Rebuilds the model and tokenizer saved in `dir`. */
export const load = async (dir: string): Promise<{ readonly model: Pink.Model; readonly tokenizer: Tok.Tokenizer; readonly meta: Meta }> => {
  const { tensors, meta } = await W.read(dir)
  const m = meta as Meta
  if (m === null || typeof m !== "object" || !Array.isArray(m.vocab)) throw new W.WeightsError(`${dir}/model.json`, "has no pinkflow metadata (config and vocab)")
  const tokenizer = Tok.fromVocab(m.vocab)
  const withAdapters = tensors.has("lm/h0/adapter/down/w")
  const model = Pink.init(m.config, tokenizer.size, Prompt.imageSlot(tokenizer), 0, withAdapters)
  W.assign(model.weights, tensors, dir)
  for (const t of tensors.values()) t.dispose()
  return { model, tokenizer, meta: m }
}

/** Copies the weights under `prefixes` (adapters never) from tensors read from `dir` into the model. */
const copyParts = (model: Pink.Model, tensors: ReadonlyMap<string, tf.Tensor>, dir: string, prefixes: ReadonlyArray<string>): void => {
  for (const [name, v] of model.weights) {
    if (!prefixes.some((p) => name.startsWith(p)) || name.includes("/adapter/")) continue
    const t = tensors.get(name)
    if (t === undefined) throw new W.WeightsError(dir, `weight ${name} is missing`)
    if (t.shape.join("x") !== v.shape.join("x")) throw new W.WeightsError(dir, `weight ${name} has shape [${t.shape}], the model needs [${v.shape}]`)
    v.assign(t)
  }
}

/**
 * Copies the weights whose names start with one of `prefixes` from the model saved in `dir`;
 * adapters are never copied (they are new in the model that receives the parts).
 */
export const loadParts = async (model: Pink.Model, dir: string, prefixes: ReadonlyArray<string>): Promise<void> => {
  const { tensors } = await W.read(dir)
  copyParts(model, tensors, dir, prefixes)
  for (const t of tensors.values()) t.dispose()
}

/**
 * A tower saved by `saveParts` as a model of its own config and vocabulary, read once: its parts
 * loaded, the rest freshly initialised (and unused by whoever asks for the tower).
 */
export const loadTower = async (dir: string): Promise<{ readonly model: Pink.Model; readonly tokenizer: Tok.Tokenizer }> => {
  const { tensors, meta } = await W.read(dir)
  const m = meta as Meta & { readonly parts?: ReadonlyArray<string> }
  if (m === null || typeof m !== "object" || !Array.isArray(m.vocab) || !Array.isArray(m.parts)) {
    for (const t of tensors.values()) t.dispose()
    throw new W.WeightsError(`${dir}/model.json`, "is not a saved tower (no config, vocab and parts)")
  }
  const tokenizer = Tok.fromVocab(m.vocab)
  const model = Pink.init(m.config, tokenizer.size, Prompt.imageSlot(tokenizer), 0, false)
  copyParts(model, tensors, dir, m.parts)
  for (const t of tensors.values()) t.dispose()
  return { model, tokenizer }
}
