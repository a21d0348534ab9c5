/**
 * `value` (a state read back by V8's deserialiser, `KeyStatePacker`) written
 * into a fresh state of its kind made by `make` (what live states are made
 * by: a detector's `initState`), so that an unpacked key's objects have the
 * shapes of live keys' objects. The deserialiser builds every object from an
 * empty one, property by property, while live state comes from object
 * literals: a different shape for each, which the detectors' optimised code
 * has not seen and is thrown away for.
 *
 * Plain objects are refitted property by property, the fresh object's
 * properties first (one it lacks in `value` is left undefined, as older
 * states lack it), then those only `value` has, in its order. Anything else
 * (arrays, typed arrays, Maps, a plain object the fresh state has no own one
 * for) is taken from `value` as it is. An object that two calls of `make`
 * both return is shared between keys (a frozen or constant default) and is
 * never written into. An object of `value` refitted and met again, in a
 * refitted object, is the one refitted again.
 */
export function refit<T>(make: () => T, value: T): T {
  return refitted(make(), make(), value, new Map()) as T;
}

function refitted(fresh: unknown, again: unknown, value: unknown, done: Map<object, unknown>): unknown {
  if (!isPlain(value) || !isPlain(fresh) || fresh === again || Object.isFrozen(fresh)) return value;
  const seen = done.get(value);
  if (seen !== undefined) return seen;
  done.set(value, fresh);
  const into = fresh as Record<string, unknown>;
  const from = value as Record<string, unknown>;
  const other = (isPlain(again) ? again : {}) as Record<string, unknown>;
  for (const k of Object.keys(into)) set(into, k, Object.hasOwn(from, k) ? refitted(into[k], other[k], from[k], done) : undefined);
  for (const k of Object.keys(from)) if (!Object.hasOwn(into, k)) set(into, k, done.get(from[k] as object) ?? from[k]);
  return into;
}

function isPlain(x: unknown): x is object {
  return typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype;
}

/** An own `__proto__` key (a key id can be any string) is a property like any other: assigning to it would set the prototype. */
function set(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else o[k] = v;
}
