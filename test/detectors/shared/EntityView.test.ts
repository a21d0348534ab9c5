import { describe, expect, it } from 'vitest';
import { activeKeys, contribute, createEntityView, shortKey, type ViewLimits } from '../../../detectors/shared/EntityView.ts';

/** The tracked keys as a plain object with no index beside it: evict the first key, in the object's own order, of the oldest epoch. */
function reference(keys: Record<string, number>, id: string, epoch: number, most: number): void {
  if (!Object.hasOwn(keys, id) && Object.keys(keys).length >= most) {
    const oldest = Math.min(...Object.values(keys));
    delete keys[Object.keys(keys).find((k) => keys[k] === oldest)!];
  }
  keys[id] = epoch;
}

describe('EntityView tracked keys', () => {
  it('evicts and counts alike whether the keys are scanned (few) or indexed (many), restored or not', () => {
    let s = 7;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
    // A few names whose short ids are array indices (all decimal digits), which an object orders first.
    const decimal: string[] = [];
    for (let i = 0; decimal.length < 3; i++) if (/^\d+$/.test(shortKey(`d${i}`))) decimal.push(`d${i}`);
    const names = [...decimal, ...Array.from({ length: 27 }, (_, i) => `key-${i}`)];
    for (const most of [1, 4, 9, 12, 30]) {
      const limits: ViewLimits = { window: 100, mixWindow: 100, maxClasses: 8, ringSize: 16, maxTrackedKeys: most };
      let v = createEntityView();
      const ref: Record<string, number> = {};
      let epoch = 0;
      for (let i = 0; i < 600; i++) {
        if (rnd() < 0.1) epoch++;
        const key = names[Math.floor(rnd() * (rnd() < 0.5 ? 6 : names.length))];
        contribute(v, { key, epoch, label: 0, bucket: -1 }, limits);
        reference(ref, shortKey(key), epoch, most);
        expect(Object.entries(v.keys)).toEqual(Object.entries(ref));
        expect(activeKeys(v, epoch, 2)).toBe(Object.values(ref).filter((e) => e > epoch - 2).length);
        if (i % 97 === 0) v = JSON.parse(JSON.stringify(v));
      }
    }
  });
});
