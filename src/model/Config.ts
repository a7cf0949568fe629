/**
 * Model configuration: a typed schema with named presets. `nano` is for tests (seconds on a CPU),
 * `small` at 64 px, `hires` (128 px, 16-px patches) for the foundation's towers and the default run.
 */
import { Schema } from "effect"

export const Vit = Schema.Struct({
  imageSize: Schema.Int,
  patchSize: Schema.Int,
  width: Schema.Int,
  depth: Schema.Int,
  heads: Schema.Int,
  mlpRatio: Schema.Int,
  /** Patch positions: learned (the default) or fixed 2-D sin-cos (Vit.sincosPositions). */
  positions: Schema.optional(Schema.Literals(["learned", "sincos"]))
})

export const Lm = Schema.Struct({
  width: Schema.Int,
  depth: Schema.Int,
  heads: Schema.Int,
  mlpRatio: Schema.Int,
  maxLen: Schema.Int
})

export const Adapter = Schema.Struct({
  r: Schema.Int,
  dropout: Schema.Number,
  activation: Schema.Literals(["identity", "silu"])
})

export const Config = Schema.Struct({ vit: Vit, lm: Lm, adapter: Adapter })
export type Config = typeof Config.Type

export const presets = {
  nano: {
    vit: { imageSize: 32, patchSize: 8, width: 32, depth: 3, heads: 2, mlpRatio: 2 },
    lm: { width: 48, depth: 2, heads: 2, mlpRatio: 2, maxLen: 96 },
    adapter: { r: 4, dropout: 0.1, activation: "identity" }
  },
  small: {
    vit: { imageSize: 64, patchSize: 8, width: 96, depth: 4, heads: 4, mlpRatio: 4 },
    lm: { width: 128, depth: 4, heads: 4, mlpRatio: 4, maxLen: 192 },
    adapter: { r: 8, dropout: 0.1, activation: "identity" }
  },
  /** `small` at twice the resolution (16-px patches, so the same 64 image tokens) with sin-cos positions. */
  hires: {
    vit: { imageSize: 128, patchSize: 16, width: 96, depth: 4, heads: 4, mlpRatio: 4, positions: "sincos" },
    lm: { width: 128, depth: 4, heads: 4, mlpRatio: 4, maxLen: 192 },
    adapter: { r: 8, dropout: 0.1, activation: "identity" }
  }
} as const satisfies Record<string, Config>

export type Preset = keyof typeof presets

/** Patch tokens per image (the ViT uses no CLS token). */
export const imageTokens = (c: Config): number => (c.vit.imageSize / c.vit.patchSize) ** 2

/** The ViT block whose output Pink takes: the penultimate one. Blocks after it are not run. */
export const featureBlocks = (c: Config): number => c.vit.depth - 1
