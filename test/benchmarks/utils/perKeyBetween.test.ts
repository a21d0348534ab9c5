import { describe, expect, it } from 'vitest';
import { perKeyBetween } from '../../../benchmarks/utils/perKeyBetween.ts';
import { speedRows } from '../../../benchmarks/utils/speedRows.ts';

describe('perKeyBetween', () => {
  // 2 MB of kernel scratch and 1 MB of heap whatever the keys, 30 kB heap and 3 kB buffers per key.
  const at = (keys: number) => ({ keys, history: 1000, heap: (1_000_000 + 30_000 * keys) / keys, buffers: (2_000_000 + 3_000 * keys) / keys });

  it('takes the per-key cost from the growth between two key counts and reports the fixed part apart', () => {
    const k = perKeyBetween(at(40), { ...at(200), packed: 170 });
    expect(k.heap).toBeCloseTo(30_000, 6);
    expect(k.buffers).toBeCloseTo(3_000, 6);
    expect(k.fixed?.heap).toBeCloseTo(1_000_000, 3);
    expect(k.fixed?.buffers).toBeCloseTo(2_000_000, 3);
    expect(k.fixed?.fewerKeys).toBe(40);
    expect(k.keys).toBe(200);
    expect(k.packed).toBe(170);
  });

  it('refuses measures of different traffic or no more keys', () => {
    expect(() => perKeyBetween(at(200), at(40))).toThrow(/more keys/);
    expect(() => perKeyBetween(at(40), { ...at(200), primed: true })).toThrow();
    expect(() => perKeyBetween(at(40), { ...at(200), history: 3 })).toThrow();
  });

  it('the row says how the figure was taken and shows the fixed part beside it', () => {
    const active = perKeyBetween(at(40), at(200));
    const idle = { keys: 10, history: 3, heap: 3_000, buffers: 1_000 };
    const row = speedRows({ bytes: { idle, idleBase: idle, active, activeBase: active } })[1];
    expect(row[0]).toMatch(/^bytes per active key \(1000 events each, per key from 40 to 200 keys\)/);
    expect(row[1]).toBe('32.2 kB (29.3 kB + 2.9 kB); besides, fixed (the same at 40 keys or more): 2.86 MB (0.95 MB + 1.91 MB)');
    expect(row.at(-1)).toBe('no');
  });
});
