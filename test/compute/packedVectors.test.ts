import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendRow, packArray, unpackArray, unpackFloat32 } from '../../src/compute/packedVectors.ts';

describe('packed vectors', () => {
  it('round-trips float32 rows through base64 exactly, with room to grow', () => {
    const a = Float32Array.from([1.5, -0, Math.fround(Math.PI), 3.4e38, 1e-45]);
    const back = unpackFloat32(packArray(a), 8);
    expect(back).toHaveLength(8);
    expect(Array.from(back.subarray(0, 5))).toEqual(Array.from(a));
    expect(Array.from(back.subarray(5))).toEqual([0, 0, 0]);
    expect(unpackFloat32('')).toHaveLength(0);
  });

  it('appends a row to float32 rows in a fresh array, keeping the newest `cap`', () => {
    const rows = Float32Array.from([1, 2, 3, 4, 5, 6]);
    expect([...appendRow(rows, [0, 7, 8], 1, 2, 4)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...appendRow(rows, [7, 8], 0, 2, 3)]).toEqual([3, 4, 5, 6, 7, 8]);
    expect([...appendRow(new Float32Array(0), [7, 8], 0, 2, 3)]).toEqual([7, 8]);
    expect([...rows]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  /** What unpacking was before it decoded in place: through a Buffer, whole elements only. */
  function viaBuffer(s: string, bytesPer: number, capacity: number): number[] {
    const b = Buffer.from(s, 'base64');
    const n = Math.floor(b.length / bytesPer);
    const bytes = new Uint8Array(Math.max(n, capacity) * bytesPer);
    bytes.set(b.subarray(0, n * bytesPer));
    return Array.from(bytesPer === 4 ? new Float32Array(bytes.buffer) : new Uint16Array(bytes.buffer));
  }

  it('unpacks any string as Buffer.from(s, "base64") reads it: plain base64 of any length, and strings with other characters', () => {
    const plain = fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('base64'));
    // Whitespace, url-safe letters, stray padding and characters outside base64 are skipped or read as Buffer reads them.
    const odd = fc.string({ unit: fc.constantFrom(...'AbZz09+/-_= \n!*é'.split('')), maxLength: 60 });
    fc.assert(
      fc.property(fc.oneof(plain, odd), fc.nat(24), (s, capacity) => {
        expect(Array.from(unpackFloat32(s, capacity)).map(String)).toEqual(viaBuffer(s, 4, capacity).map(String));
        expect(Array.from(unpackArray(s, 'u16', 0))).toEqual(viaBuffer(s, 2, 0));
      }),
      { numRuns: 2000 },
    );
  });
});

