import { createHash } from 'node:crypto';
import { mulberry32 } from '../../../src/gateway/RandomProjection.ts';

/** `n` random probability vectors of `classes` entries, some peaked and some flat (seeded). */
export function randomProbVectors(n: number, classes: number, seed = 7): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, (_, k) => {
    const sharp = 0.5 + 6 * rand() * (k % 3);
    const e = Array.from({ length: classes }, () => Math.exp(sharp * (rand() * 2 - 1)));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
}

export function inputHash(i: number | string): Buffer {
  return createHash('sha256').update(`input-${i}`).digest();
}

export const sum = (p: readonly number[]) => p.reduce((a, b) => a + b, 0);

export function argmaxOf(p: readonly number[]): number {
  return p.indexOf(Math.max(...p));
}
