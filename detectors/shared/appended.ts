/**
 * Growing small state arrays without spare capacity. V8 grows an array by
 * half again plus 16 slots on a push or splice, so a three-element list
 * built by pushes holds 17 slots (some 110 bytes more than it needs) in
 * every idle key's state. While an array is shorter than `SHORT`, these
 * return a new array of its exact length instead; longer ones (busy keys,
 * whose arrays fill their bounds anyway) grow in place as before. Callers
 * store the array returned.
 */
const SHORT = 16;

/** `a` with `x` appended. */
export function appended<T>(a: T[], x: T): T[] {
  if (a.length >= SHORT) {
    a.push(x);
    return a;
  }
  return inserted(a, a.length, x);
}

/** `a` with `x` inserted at `at` (0 ≤ at ≤ length). */
export function inserted<T>(a: T[], at: number, x: T): T[] {
  if (a.length >= SHORT) {
    a.splice(at, 0, x);
    return a;
  }
  const out = new Array<T>(a.length + 1);
  for (let i = 0; i < at; i++) out[i] = a[i];
  out[at] = x;
  for (let i = at; i < a.length; i++) out[i + 1] = a[i];
  return out;
}

/**
 * A copy of `a` at its exact length (slice allocates exactly what it
 * copies; a push leaves up to half again plus 16 slots spare). For an array
 * that has reached its bound and is kept that long: a ring once full, a
 * list built by pushes and held in state.
 */
export function exactCopy<T>(a: T[]): T[] {
  return a.slice();
}

/** `a` padded with `fill` to length `n` (unchanged when already as long). */
export function paddedTo<T>(a: T[], n: number, fill: T): T[] {
  if (a.length >= n) return a;
  if (a.length >= SHORT) {
    while (a.length < n) a.push(fill);
    return a;
  }
  const out = new Array<T>(n);
  for (let i = 0; i < a.length; i++) out[i] = a[i];
  for (let i = a.length; i < n; i++) out[i] = fill;
  return out;
}
