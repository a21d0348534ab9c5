import { describe, expect, it } from 'vitest';
import { appended, exactCopy, inserted, paddedTo } from '../../../detectors/shared/appended.ts';

describe('appended, inserted, paddedTo', () => {
  it('give the same contents as push, splice and padding in place, short or long', () => {
    for (let n = 0; n < 40; n++) {
      const base = Array.from({ length: n }, (_, i) => i * 3);
      const pushed = [...base];
      pushed.push(-1);
      expect(appended([...base], -1)).toEqual(pushed);
      for (const at of [0, n >> 1, n]) {
        const spliced = [...base];
        spliced.splice(at, 0, -1);
        expect(inserted([...base], at, -1)).toEqual(spliced);
      }
      expect(paddedTo([...base], n + 5, 0)).toEqual([...base, 0, 0, 0, 0, 0]);
      expect(paddedTo([...base], n - 1, 0)).toEqual(base);
    }
  });

  it('copies a short array and grows a long one in place', () => {
    const short = [1, 2];
    expect(appended(short, 3)).not.toBe(short);
    const long = Array.from({ length: 16 }, (_, i) => i);
    expect(appended(long, 16)).toBe(long);
  });

  it('exactCopy gives a new array of the same contents', () => {
    const pushed: number[] = [];
    for (let i = 0; i < 48; i++) pushed.push(i * 0.5);
    const copy = exactCopy(pushed);
    expect(copy).not.toBe(pushed);
    expect(copy).toEqual(pushed);
  });
});
