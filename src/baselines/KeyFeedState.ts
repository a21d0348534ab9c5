import { DOUBLE_ZERO } from '../state/doubleZero.ts';
/**
 * What the feed gate remembers about one key (plain JSON, kept with the
 * key's state): when it was first seen, how many answered queries it made,
 * and how many it fed in the current epoch.
 */
export interface KeyFeedState {
  /** Event time of the key's first answered query (−1: none yet). */
  first: number;
  /** Answered queries offered so far, fed or not. */
  n: number;
  /** Epoch of `fed`, and queries fed in it. */
  epoch: number;
  fed: number;
}

export function createKeyFeedState(): KeyFeedState {
  // `first` holds an event time: a double from the start (`DOUBLE_ZERO`).
  return { first: -1 + DOUBLE_ZERO, n: 0, epoch: -1, fed: 0 };
}
