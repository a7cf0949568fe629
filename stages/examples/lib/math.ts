/** Small numeric helpers for the logistic model. */
export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z))

/** Keeps log-loss finite. */
export const EPSILON = 1e-7

export const clip = (p: number): number => Math.min(1 - EPSILON, Math.max(EPSILON, p))
