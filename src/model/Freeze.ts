/**
 * Named freeze policies: which weights a training stage updates. A policy is a list of trainable
 * weight names plus, for the token embedding and the output head, the rows that may change.
 *
 * - `projectionOnly` (stage 1): the projection.
 * - `adaptersAndProjection` (stage 2): the projection, every adapter, and the rows of the 12
 *   delimiter tokens in the embedding and the head.
 * - `vit` / `lm`: every weight of that tower except adapters (the towers' own pretraining).
 */
import type * as Pink from "./Pink.ts"
import type * as Tok from "./Tokenizer.ts"
import * as W from "./Weights.ts"

export type Name = "projectionOnly" | "adaptersAndProjection" | "vit" | "lm"

export interface Policy {
  readonly name: Name
  readonly trainable: ReadonlyArray<string>
  /** Weight → the only rows that train (the others keep their values bit for bit). */
  readonly rows: ReadonlyMap<string, ReadonlyArray<number>>
}

const isAdapter = (name: string) => name.includes("/adapter/")

export const policy = (name: Name, model: Pink.Model, tokenizer?: Tok.Tokenizer): Policy => {
  // Fixed weights (created with trainable: false, such as sin-cos positions) train under no policy.
  const all = [...model.weights].filter(([, v]) => v.trainable).map(([n]) => n)
  switch (name) {
    case "projectionOnly":
      return { name, trainable: all.filter((n) => n.startsWith("proj/")), rows: new Map() }
    case "adaptersAndProjection": {
      if (tokenizer === undefined) throw new Error("adaptersAndProjection needs the tokenizer (for the delimiter rows)")
      const rows = [...tokenizer.delimiterIds]
      return {
        name,
        trainable: [...all.filter((n) => n.startsWith("proj/") || isAdapter(n)), "lm/wte", "lm/head"],
        rows: new Map([["lm/wte", rows], ["lm/head", rows]])
      }
    }
    case "vit":
      return { name, trainable: all.filter((n) => n.startsWith("vit/") && !isAdapter(n)), rows: new Map() }
    case "lm":
      return { name, trainable: all.filter((n) => n.startsWith("lm/") && !isAdapter(n)), rows: new Map() }
  }
}

/** Parameters the policy trains (counting only the trainable rows) and the model's total. */
export const counts = (model: Pink.Model, p: Policy): { readonly trainable: number; readonly total: number; readonly fraction: number } => {
  let trainable = 0
  for (const name of p.trainable) {
    const v = W.get(model.weights, name)
    const rows = p.rows.get(name)
    trainable += rows === undefined ? v.size : rows.length * (v.size / v.shape[0]!)
  }
  const total = W.count(model.weights)
  return { trainable, total, fraction: trainable / total }
}
