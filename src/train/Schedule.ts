/** Learning rate: linear warmup, then cosine decay to `minRatio` of the peak. */
export const cosineWithWarmup = (o: { readonly peak: number; readonly steps: number; readonly warmup: number; readonly minRatio?: number }) =>
  (step: number): number => {
    const min = o.peak * (o.minRatio ?? 0.1)
    if (o.warmup > 0 && step < o.warmup) return o.peak * (step + 1) / o.warmup
    const progress = Math.min(1, (step - o.warmup) / Math.max(1, o.steps - o.warmup))
    return min + (o.peak - min) * 0.5 * (1 + Math.cos(Math.PI * progress))
  }
