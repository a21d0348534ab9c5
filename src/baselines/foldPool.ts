import { COL, type ModelReferenceState, nextUniform, recordStride } from './ModelReferenceState.ts';
import type { ReferenceConfig } from './referenceSchema.ts';

/** The three entities a record counts against, as column offsets after the sketch. */
const ENTITIES = [COL.key, COL.network, COL.tenant] as const;
const PRIORITY = COL.priority;

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
export function foldPool(s: ModelReferenceState, members: Float32Array, pool: Float32Array, c: ReferenceConfig): FoldedMembers {
  const size = c.size;
  const stride = recordStride(s);
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
    (a, b) => pool[b * stride + s.dim + PRIORITY] - pool[a * stride + s.dim + PRIORITY] || a - b,
  );
  // Members in a random order (Fisher–Yates): the replacement order.
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(nextUniform(s) * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const alive = new Uint8Array(n).fill(1);
  // Members over a cap, in the random order. A member under its caps never goes over (a record is taken
  // only below every cap), so the list made now is all there will be; each is checked again when its turn comes.
  const over = gated ? order.filter((i) => overCap(i)) : new Int32Array(0);
  let overPtr = 0;
  let anyPtr = 0;
  const nextVictim = (overOnly: boolean): number => {
    while (overPtr < over.length) {
      const i = over[overPtr++];
      if (alive[i] && overCap(i)) return i;
    }
    if (overOnly) return -1;
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

/** The members after a fold, and each one's squared distance to its nearest other member. */
export interface FoldedMembers {
  rows: Float32Array;
  n: number;
  nearest: Float64Array;
}

/** Each row's squared distance to its nearest other row and which row that is (−1: none), by a full symmetric scan (every pair once). */
export function nearestOther(rows: Float32Array, n: number, dim: number, stride: number): { sq: Float64Array; nn: Int32Array } {
  const x = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) x[i * dim + j] = rows[i * stride + j];
  const sq = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const nn = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const oi = i * dim;
    let best = sq[i];
    let arg = nn[i];
    for (let k = i + 1; k < n; k++) {
      const ok = k * dim;
      let d = 0;
      for (let j = 0; j < dim; j++) {
        const t = x[ok + j] - x[oi + j];
        d += t * t;
      }
      if (d < best) {
        best = d;
        arg = k;
      }
      if (d < sq[k]) {
        sq[k] = d;
        nn[k] = i;
      }
    }
    sq[i] = best;
    nn[i] = arg;
  }
  return { sq, nn };
}

/** Drops rows whose nearest other row is farther than `trim` × the median such distance. */
function trimIsolated(rows: Float32Array, n: number, dim: number, stride: number, trim: number): FoldedMembers {
  if (n < 3) return { rows, n, nearest: nearestOther(rows, n, dim, stride).sq };
  const { sq, nn } = nearestOther(rows, n, dim, stride);
  const sorted = Float64Array.from(sq).sort();
  const cut = trim * trim * sorted[(n - 1) >> 1];
  const dropped = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (!(sq[i] <= cut)) dropped[i] = 1;
  // A kept row whose nearest was dropped needs its nearest among the kept rows.
  const kept = sq;
  for (let i = 0; i < n; i++) {
    if (dropped[i] || nn[i] < 0 || !dropped[nn[i]]) continue;
    let best = Number.POSITIVE_INFINITY;
    for (let k = 0; k < n; k++) {
      if (k === i || dropped[k]) continue;
      let d = 0;
      for (let j = 0; j < dim; j++) {
        const t = rows[k * stride + j] - rows[i * stride + j];
        d += t * t;
      }
      if (d < best) best = d;
    }
    kept[i] = best;
  }
  const nearest = new Float64Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    if (dropped[i]) continue;
    if (m !== i) rows.copyWithin(m * stride, i * stride, i * stride + stride);
    nearest[m++] = kept[i];
  }
  return { rows, n: m, nearest: nearest.subarray(0, m) };
}
