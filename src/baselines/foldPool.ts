import { COL, type ModelReferenceState, nextUniform, recordStride } from './ModelReferenceState.ts';
import type { ReferenceConfig } from './referenceSchema.ts';

/** The three entities a record counts against, as column offsets after the sketch. */
const ENTITIES = [COL.key, COL.network, COL.tenant] as const;

/**
 * Folds an epoch's weighted sample into a reference's members, under the
 * gate's caps, and drops isolated members. Returns the new members.
 *
 * New records: the sample's best (highest priority) first, `max(free
 * slots, alpha × size)` of them, each replacing a random member once the
 * reference is full. With the gate on, a record is taken only while its
 * key, network and tenant each hold less than their cap (`keyShare`,
 * `networkShare`, `tenantShare` of `size`); members of an entity over its
 * cap are replaced first, and further fitting records replace them until
 * none is over (so a cap that gave way is restored as soon as others can
 * fill). Records over a cap only fill slots nobody else can.
 */
export function foldPool(s: ModelReferenceState, members: Float32Array, pool: Float32Array, c: ReferenceConfig): { rows: Float32Array; n: number } {
  const size = c.size;
  const stride = recordStride(s.dim);
  const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
  const mBits = bits(members);
  const pBits = bits(pool);
  const gated = c.gate.enabled;
  const caps = [c.gate.keyShare, c.gate.networkShare, c.gate.tenantShare].map((share) => (gated ? Math.max(1, Math.ceil(share * size)) : Number.POSITIVE_INFINITY));
  const counts = ENTITIES.map(() => new Map<number, number>());
  const entity = (b: Uint32Array, i: number, e: number) => b[i * stride + s.dim + ENTITIES[e]];
  const bump = (b: Uint32Array, i: number, by: number) => {
    for (let e = 0; e < ENTITIES.length; e++) {
      const h = entity(b, i, e);
      if (h !== 0) counts[e].set(h, (counts[e].get(h) ?? 0) + by);
    }
  };
  const fits = (i: number) => ENTITIES.every((_, e) => entity(pBits, i, e) === 0 || (counts[e].get(entity(pBits, i, e)) ?? 0) < caps[e]);
  const overCap = (i: number) => ENTITIES.some((_, e) => entity(mBits, i, e) !== 0 && (counts[e].get(entity(mBits, i, e)) ?? 0) > caps[e]);

  const n = s.n;
  for (let i = 0; i < n; i++) bump(mBits, i, 1);
  const candidates = Int32Array.from({ length: s.poolN }, (_, i) => i).sort(
    (a, b) => pool[b * stride + s.dim + COL.priority] - pool[a * stride + s.dim + COL.priority] || a - b,
  );
  // Members in a random order (Fisher–Yates): the replacement order.
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(nextUniform(s) * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const alive = new Uint8Array(n).fill(1);
  let anyPtr = 0;
  const nextVictim = (overOnly: boolean): number => {
    if (overOnly || gated) {
      for (let p = 0; p < n; p++) if (alive[order[p]] && overCap(order[p])) return order[p];
      if (overOnly) return -1;
    }
    while (anyPtr < n && !alive[order[anyPtr]]) anyPtr++;
    return anyPtr < n ? order[anyPtr] : -1;
  };

  let free = size - n;
  const target = Math.min(s.poolN, Math.max(free, Math.max(1, Math.round(c.alpha * size))));
  // Each placed record: the pool record, and the member slot it replaces (−1: a free slot).
  const placed: { from: number; to: number }[] = [];
  const taken = new Uint8Array(s.poolN);
  for (const cand of candidates) {
    if (!fits(cand)) continue;
    const rebalance = placed.length >= target;
    let to = -1;
    if (rebalance || free === 0) {
      to = nextVictim(rebalance);
      if (to < 0) {
        if (rebalance) break;
        continue;
      }
      alive[to] = 0;
      bump(mBits, to, -1);
    } else free--;
    placed.push({ from: cand, to });
    taken[cand] = 1;
    bump(pBits, cand, 1);
  }
  // Slots nobody within the caps could fill.
  for (const cand of candidates) {
    if (free === 0) break;
    if (taken[cand]) continue;
    placed.push({ from: cand, to: -1 });
    free--;
  }

  const rows = new Float32Array(size * stride);
  const slotOf = new Int32Array(n).fill(-1);
  for (const p of placed) if (p.to >= 0) slotOf[p.to] = p.from;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const from = slotOf[i];
    if (from >= 0) rows.set(pool.subarray(from * stride, from * stride + stride), m++ * stride);
    else if (alive[i]) rows.set(members.subarray(i * stride, i * stride + stride), m++ * stride);
  }
  for (const p of placed) if (p.to < 0) rows.set(pool.subarray(p.from * stride, p.from * stride + stride), m++ * stride);
  return trimIsolated(rows, m, s.dim, stride, c.trim);
}

/** Each row's squared distance to its nearest other row (a full symmetric scan: every pair once). */
export function nearestOther(rows: Float32Array, n: number, dim: number, stride: number): Float64Array {
  const sq = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  for (let i = 0; i < n; i++) {
    for (let k = i + 1; k < n; k++) {
      let d = 0;
      for (let j = 0; j < dim; j++) {
        const t = rows[k * stride + j] - rows[i * stride + j];
        d += t * t;
      }
      if (d < sq[i]) sq[i] = d;
      if (d < sq[k]) sq[k] = d;
    }
  }
  return sq;
}

/** Drops rows whose nearest other row is farther than `trim` × the median such distance. */
function trimIsolated(rows: Float32Array, n: number, dim: number, stride: number, trim: number): { rows: Float32Array; n: number } {
  if (n < 3) return { rows, n };
  const sq = nearestOther(rows, n, dim, stride);
  const sorted = Float64Array.from(sq).sort();
  const cut = trim * trim * sorted[(n - 1) >> 1];
  let kept = 0;
  for (let i = 0; i < n; i++) {
    if (!(sq[i] <= cut)) continue;
    if (kept !== i) rows.copyWithin(kept * stride, i * stride, i * stride + stride);
    kept++;
  }
  return { rows, n: kept };
}
