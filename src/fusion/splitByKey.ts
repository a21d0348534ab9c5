import { mulberry32 } from '../gateway/RandomProjection.ts';

/** Keys for fitting and keys held out to check the fit on. */
export interface KeySplit {
  train: string[];
  heldOut: string[];
}

/**
 * Splits labelled keys (key → attack) into train and held-out sets by key,
 * never by event: a key's events all land on one side, so the check sees
 * keys the fit never saw. Stratified: each class gives round(share × its
 * keys) to the held-out set, at least one when the share is above 0, but
 * at least one always stays for training. Deterministic from `seed`.
 */
export function splitByKey(labels: ReadonlyMap<string, boolean>, share: number, seed: number): KeySplit {
  const rand = mulberry32(seed);
  const split: KeySplit = { train: [], heldOut: [] };
  for (const attack of [true, false]) {
    const keys = [...labels].filter(([, a]) => a === attack).map(([k]) => k).sort();
    // Fisher–Yates over the sorted keys: the order depends on the seed only, not on the file.
    for (let i = keys.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [keys[i], keys[j]] = [keys[j], keys[i]];
    }
    const n = share > 0 && keys.length > 1 ? Math.min(keys.length - 1, Math.max(1, Math.round(share * keys.length))) : 0;
    split.heldOut.push(...keys.slice(0, n));
    split.train.push(...keys.slice(n));
  }
  split.train.sort();
  split.heldOut.sort();
  return split;
}
