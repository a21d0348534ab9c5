/**
 * Decoded forms of packed state (base64 strings in plain-JSON state) kept
 * between polls. State stays plain JSON and is packed after every poll as
 * before; the next poll reuses the decoded value while the packed string it
 * was saved with is still the one in the state, instead of decoding it
 * again. A restored, replaced or changed state misses and decodes afresh, so
 * the cache never changes an answer, only skips work. An entry is taken by
 * the `get` that uses it: a poll that fails before it packs (and `set`s)
 * again leaves nothing half-updated behind for the next poll to reuse.
 */
export class DecodedCache<Owner extends object, Value> {
  private readonly entries = new WeakMap<Owner, { packed: string; value: Value }>();

  /** The value saved for `owner` with `packed` (taken out of the cache), or `decode()` when there is none (or `fits` rejects it). */
  get(owner: Owner, packed: string, decode: () => Value, fits: (v: Value) => boolean = () => true): Value {
    const hit = this.entries.get(owner);
    if (!hit) return decode();
    this.entries.delete(owner);
    return hit.packed === packed && fits(hit.value) ? hit.value : decode();
  }

  /** Remembers `value` as the decoded form of `packed`, the string `owner` now holds. */
  set(owner: Owner, packed: string, value: Value): void {
    this.entries.set(owner, { packed, value });
  }
}
