/**
 * The plain baseline: a per-key sliding-window limiter of `limit` calls per
 * `windowMs` (100 per minute, the usual gateway limit). Returns the 1-based
 * index of the first call that would have been refused, or Infinity.
 */
export function firstLimitedCall(times: readonly number[], limit = 100, windowMs = 60_000): number {
  let head = 0;
  for (let i = 0; i < times.length; i++) {
    while (times[head] <= times[i] - windowMs) head++;
    if (i - head + 1 > limit) return i + 1;
  }
  return Infinity;
}
