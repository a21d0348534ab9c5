/** Median of a sample (NaN when empty). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Milliseconds per call of `fn`: after `warmup` untimed calls, timed calls
 * until both `minRuns` calls and `minMs` milliseconds have passed; the
 * median over the calls.
 */
export function msPerCall(fn: () => unknown, options: { warmup?: number; minRuns?: number; minMs?: number } = {}): number {
  const { warmup = 2, minRuns = 5, minMs = 300 } = options;
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || performance.now() - start < minMs) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** The `p`-th percentile (0–100) of a sample, nearest rank: a value of the sample (NaN when empty). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
