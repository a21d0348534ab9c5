/**
 * How long a key must be quiet before it is packed. A key that has paused
 * past `packAfterIdleMs` before (an office worker between meetings, a slow
 * crawler) is packed only once quiet well past its usual pause: packing it
 * at every such pause would cost a pack and an unpack each time to save
 * memory for a spell the key then ends. Keys that never paused long, and
 * keys quiet past `MAX_DELAY` × `packAfterIdleMs`, are packed at
 * `packAfterIdleMs`, so a key gone for good is packed as before, only later.
 *
 * Kept beside the store, not in the key's state: it only times the packing
 * (lossless either way), so losing it on a restart or an eviction changes
 * no output.
 */
export class KeyPauses {
  /** Per key that paused past `packAfterIdleMs`: the running mean of such pauses, halved towards each new one. */
  private readonly usual = new Map<string, number>();

  constructor(private readonly packAfterIdleMs: number) {}

  /** Records that `key` had no event for `pauseMs` before its latest one. */
  note(key: string, pauseMs: number): void {
    if (this.packAfterIdleMs <= 0 || !(pauseMs > this.packAfterIdleMs)) return;
    const usual = this.usual.get(key);
    this.usual.set(key, usual === undefined ? pauseMs : usual + (pauseMs - usual) / 2);
  }

  /** How long `key` must be quiet to be packed. */
  packAfter(key: string): number {
    const usual = this.usual.get(key);
    if (usual === undefined) return this.packAfterIdleMs;
    return Math.min(Math.max(this.packAfterIdleMs, BEYOND_USUAL * usual), MAX_DELAY * this.packAfterIdleMs);
  }

  forget(key: string): void {
    this.usual.delete(key);
  }

  /** Keys with a pause on record. */
  get size(): number {
    return this.usual.size;
  }
}

/**
 * A pause this many times the key's usual one is taken as the key gone
 * quiet, not pausing: pauses of one key spread over a few-fold range
 * (breaks, meetings, nights), and a pause past four times the usual is rare.
 */
const BEYOND_USUAL = 4;
/** The latest a key is packed, in multiples of `packAfterIdleMs`: the memory a key that paused long before holds while quiet. */
const MAX_DELAY = 16;
