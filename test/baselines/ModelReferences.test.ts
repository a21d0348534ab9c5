import { describe, expect, it, vi } from 'vitest';
import { epochParts } from '../../src/baselines/epochParts.ts';
import { createKeyFeedState, type KeyFeedState } from '../../src/baselines/KeyFeedState.ts';
import { ModelReference } from '../../src/baselines/ModelReference.ts';
import { ModelReferences } from '../../src/baselines/ModelReferences.ts';
import type { ModelReferenceState } from '../../src/baselines/ModelReferenceState.ts';
import { NeighbourIndex } from '../../src/baselines/NeighbourIndex.ts';
import { referenceHash } from '../../src/baselines/referenceHash.ts';
import { type ReferenceConfig, referenceSchema } from '../../src/baselines/referenceSchema.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { ipPrefix } from '../../src/state/ipPrefix.ts';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';

const T0 = Date.UTC(2024, 0, 15, 8);
const MIN = 60_000;

interface Caller {
  key: string;
  ip: string;
  tenant: string | null;
  /** Calls per minute and the span (minutes from T0) it calls in. */
  perMin: number;
  from: number;
  to: number;
  sketch: (rand: () => number) => number[];
}

function stream(callers: Caller[], seed = 1): InferenceEvent[] {
  const rand = mulberry32(seed);
  const out: InferenceEvent[] = [];
  let id = 0;
  for (const c of callers) {
    for (let t = T0 + c.from * MIN; t < T0 + c.to * MIN; t += Math.round(MIN / c.perMin)) {
      const p = rand();
      out.push({
        event_id: `e${id++}`,
        ts: t + Math.floor(rand() * 1000),
        api_key: c.key,
        tenant: c.tenant,
        client_ip: c.ip,
        model_id: 'm',
        input_hash: Buffer.alloc(32),
        input_sketch: c.sketch(rand),
        output_label: p > 0.5 ? 0 : 1,
        output_probs: [p, 1 - p],
        status: 200,
        latency_ms: 1,
        enforcement: null,
      });
    }
  }
  return out.sort((a, b) => a.ts - b.ts || (a.api_key < b.api_key ? -1 : a.api_key > b.api_key ? 1 : 0));
}

const gaussian = (rand: () => number) => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
const natural = (rand: () => number) => Array.from({ length: 8 }, () => gaussian(rand));
const uniform = (rand: () => number) => Array.from({ length: 8 }, () => (2 * rand() - 1) * 6);

/** Feeds a stream the way the pipeline does: polls of `batch` events, cut at epoch boundaries, offered in event time. */
function feed(config: ReferenceConfig, events: readonly InferenceEvent[], batch: number, flagged: (e: InferenceEvent) => boolean = () => false) {
  const holders = new Map<string, Record<string, unknown>>();
  const refs = new ModelReferences(config, (m) => {
    let h = holders.get(m);
    if (!h) holders.set(m, (h = {}));
    return h;
  });
  const feeds = new Map<string, KeyFeedState>();
  const seen: { ts: number; n: number }[] = [];
  for (let s = 0; s < events.length; s += batch) {
    for (const part of epochParts(events.slice(s, s + batch), config.epochMs)) {
      refs.begin(part);
      const view = refs.get('m');
      seen.push({ ts: part[0].ts, n: view?.n ?? 0 });
      for (const e of part) {
        let f = feeds.get(e.api_key);
        if (!f) feeds.set(e.api_key, (f = createKeyFeedState()));
        refs.offer(e, f, flagged(e));
      }
      refs.end();
    }
  }
  return { refs, state: holders.get('m')!.reference as ModelReferenceState, feeds, seen };
}

function memberCounts(refs: ModelReferences) {
  const view = refs.get('m')!;
  const keys = new Map<number, number>();
  const nets = new Map<number, number>();
  const tenants = new Map<number, number>();
  for (let i = 0; i < view.n; i++) {
    const o = view.owners(i);
    keys.set(o.key, (keys.get(o.key) ?? 0) + 1);
    nets.set(o.network, (nets.get(o.network) ?? 0) + 1);
    tenants.set(o.tenant, (tenants.get(o.tenant) ?? 0) + 1);
  }
  return { n: view.n, keys, nets, tenants };
}

const honest = (count: number, from = 0, to = 180): Caller[] =>
  Array.from({ length: count }, (_, k) => ({ key: `user-${k}`, ip: `10.${k % 200}.${k}.7`, tenant: `t-${k % 8}`, perMin: 2, from, to, sketch: natural }));

describe('ModelReferences', () => {
  const config = referenceSchema.parse({});

  it('is the same whatever the poll size: members, sample and generator state after every batch cut', () => {
    const events = stream(honest(40));
    const a = feed(config, events, 97);
    const b = feed(config, events, 2_048);
    const c = feed(config, events, 5_000);
    expect(a.state.n).toBeGreaterThan(100);
    expect(b.state).toEqual(a.state);
    expect(c.state).toEqual(a.state);
    expect([...b.feeds]).toEqual([...a.feeds]);
  });

  it('is frozen within an epoch and folds the epoch sample in at the first query of the next', () => {
    const events = stream(honest(40, 0, 35));
    const { seen } = feed(config, events, 50);
    const epochOf = (ts: number) => Math.floor(ts / config.epochMs);
    for (let i = 1; i < seen.length; i++) if (epochOf(seen[i].ts) === epochOf(seen[i - 1].ts)) expect(seen[i].n, `batch ${i}`).toBe(seen[i - 1].n);
    const sizes = [...new Set(seen.map((s) => s.n))];
    expect(sizes[0]).toBe(0);
    expect(sizes.length).toBeGreaterThan(1); // it did fold
  });

  it('answers from members only once ready; the quantiles are of members\' nearest-member distances', () => {
    const { refs } = feed(config, stream(honest(40)), 500);
    const view = refs.get('m')!;
    expect(view.ready).toBe(true);
    expect(view.quantile(0.5)).toBeGreaterThan(0);
    expect(view.quantile(0.99)).toBeGreaterThan(view.quantile(0.5));
    // A point far from all traffic is farther than the 99% quantile; a member is not (left out, its next member is).
    expect(view.fartherThan(Array(8).fill(50), view.quantile(0.99))).toBe(true);
    expect(view.fartherThan(view.sketch(0), view.quantile(0.99))).toBe(false);
    expect(view.statistic('margin').every((m) => m >= 0 && m <= 1)).toBe(true);
  });

  it('remembers a sketch\'s neighbourhood for the rest of the batch only: the next batch asks the index again, for the same answer', () => {
    const events = stream(honest(40));
    const { refs } = feed(config, events, 500);
    const last = events.slice(-1);
    refs.begin(last);
    const view = refs.get('m')!;
    const search = vi.spyOn(NeighbourIndex.prototype, 'nearest');
    try {
      const sketch = natural(mulberry32(3));
      const first = view.neighbours(sketch, 4, 3, 0, ModelReference.neighbourhood(4))!;
      const again = view.neighbours(sketch, 4, 3, 0, ModelReference.neighbourhood(4))!;
      expect(search).toHaveBeenCalledTimes(1);
      expect(first.count).toBeGreaterThan(0);
      expect(again).toEqual(first);
      refs.end();
      refs.begin(last);
      expect(refs.get('m')).toBe(view);
      const next = view.neighbours(sketch, 4, 3, 0, ModelReference.neighbourhood(4))!;
      expect(search).toHaveBeenCalledTimes(2);
      expect(next).toEqual(first);
    } finally {
      search.mockRestore();
      refs.end();
    }
  });

  it('nearestOfSample: the nearest of the members spread evenly over the member order, as a full scan finds it (read in place, gathered, or from the sample gathered before)', () => {
    const { refs } = feed(config, stream(honest(40)), 500);
    const view = refs.get('m')!;
    const rand = mulberry32(7);
    const out = { sq: 0, compared: 0 };
    let nearer = 0;
    for (let q = 0; q < 300; q++) {
      // Queries amid the traffic, far from it, and members' own sketches (a distance of 0).
      const x = q % 3 === 0 ? Array.from(view.sketch(Math.floor(rand() * view.n))) : Array.from({ length: 8 }, () => gaussian(rand) * (q % 3 === 1 ? 1 : 8));
      const dim = 2 + Math.floor(rand() * 7);
      const m = 1 + Math.floor(rand() * (view.n + 20));
      const skip = q % 2 ? view.owners(Math.floor(rand() * view.n)).key : 0;
      let sq = Number.POSITIVE_INFINITY;
      let compared = 0;
      const take = Math.min(m, view.n);
      for (let j = 0; j < take; j++) {
        const i = Math.floor((j * view.n) / take);
        if (skip !== 0 && view.owners(i).key === skip) continue;
        const member = view.sketch(i);
        let s = 0;
        for (let c = 0; c < dim; c++) s += (x[c] - member[c]) ** 2;
        compared++;
        if (s < sq) sq = s;
      }
      // A size asked once is read in place, asked again it is gathered, and a third time the gathered sample is reused.
      for (let ask = 0; ask < 3; ask++) {
        view.nearestOfSample(x, 0, dim, m, skip, out);
        expect(out).toEqual({ sq, compared });
      }
      if (sq < Number.POSITIVE_INFINITY) nearer++;
    }
    expect(nearer).toBeGreaterThan(250);
  });

  it('expectedTailShare: members in the tail counted afresh for each statistic, side and threshold, however they alternate', () => {
    const { refs } = feed(config, stream(honest(40)), 500);
    const view = refs.get('m')!;
    const nb = { idx: Int32Array.from({ length: 16 }, (_, j) => (j * 7) % view.n), d2: new Float64Array(16), count: 16 };
    const rand = mulberry32(3);
    const thresholds = [0.1, 0.3, 0.3, 0.5, 0.9];
    for (let q = 0; q < 200; q++) {
      const stat = rand() < 0.5 ? 'margin' : 'entropy';
      const side = rand() < 0.5 ? 'low' : 'high';
      const threshold = thresholds[Math.floor(rand() * thresholds.length)];
      const values = view.statistic(stat);
      let hits = 0;
      let found = 0;
      for (let j = 0; j < nb.count; j++) {
        const v = values[nb.idx[j]];
        if (!Number.isFinite(v)) continue;
        found++;
        if (side === 'low' ? v < threshold : v > threshold) hits++;
      }
      expect(view.expectedTailShare(nb, stat, threshold, side, 16, 0.2)).toBe((hits + (16 - found) * 0.2) / 16);
    }
  });

  it('keeps short-lived keys and flagged keys out, and lets keys feed only from their minKeyEvents + 1-th query', () => {
    const shortLived = Array.from({ length: 100 }, (_, k) => ({ key: `short-${k}`, ip: `172.16.${k}.1`, tenant: null, perMin: 1, from: 5 + k, to: 5 + k + 25, sketch: uniform }));
    const flaggedKey: Caller = { key: 'flagged', ip: '192.0.2.1', tenant: null, perMin: 6, from: 0, to: 180, sketch: uniform };
    const { refs, feeds } = feed(config, stream([...honest(40), ...shortLived, flaggedKey]), 500, (e) => e.api_key === 'flagged');
    const { keys } = memberCounts(refs);
    for (let k = 0; k < 100; k++) expect(keys.get(referenceHash(`short-${k}`)), `short-${k}`).toBeUndefined();
    expect(keys.get(referenceHash('flagged'))).toBeUndefined();
    expect(feeds.get('short-0')!.n).toBe(25);
    // Without the gate they are there.
    const open = feed(referenceSchema.parse({ gate: { enabled: false } }), stream([...honest(40), ...shortLived, flaggedKey]), 500, (e) => e.api_key === 'flagged');
    expect(memberCounts(open.refs).keys.get(referenceHash('flagged'))).toBeGreaterThan(0);
  });

  it('caps each key, network and tenant at its share when others can fill the reference, and gives way when nobody else can', () => {
    const cap = (share: number) => Math.ceil(share * config.size);
    // 30 keys of one /24 and one tenant calling far more than 40 honest keys.
    const flood = Array.from({ length: 30 }, (_, k) => ({ key: `flood-${k}`, ip: `198.51.100.${k + 1}`, tenant: 'mallory', perMin: 8, from: 0, to: 180, sketch: uniform }));
    const { refs } = feed(config, stream([...honest(40), ...flood]), 2_048);
    const m = memberCounts(refs);
    expect(m.n).toBeGreaterThan(config.size * 0.8);
    const net = referenceHash(ipPrefix('198.51.100.1')!);
    expect(m.nets.get(net)).toBeLessThanOrEqual(cap(config.gate.networkShare));
    expect(m.tenants.get(referenceHash('mallory'))).toBeLessThanOrEqual(cap(config.gate.tenantShare));
    for (const [k, count] of m.keys) expect(count, `key ${k}`).toBeLessThanOrEqual(cap(config.gate.keyShare));
    // Without the gate the flood holds most of the reference.
    const open = memberCounts(feed(referenceSchema.parse({ gate: { enabled: false } }), stream([...honest(40), ...flood]), 2_048).refs);
    expect(open.nets.get(net)! / open.n).toBeGreaterThan(0.5);
    // One network alone (every user behind one address): the cap gives way and the reference fills.
    const behindOne = honest(40).map((c) => ({ ...c, ip: '203.0.113.9', tenant: 'only' }));
    const alone = memberCounts(feed(config, stream(behindOne), 2_048).refs);
    expect(alone.n).toBeGreaterThan(cap(config.gate.networkShare) * 4);
  });

  it('restores the caps once others can fill: a flood that had the reference to itself loses it to honest traffic', () => {
    const flood = Array.from({ length: 30 }, (_, k) => ({ key: `flood-${k}`, ip: `198.51.100.${k + 1}`, tenant: 'mallory', perMin: 4, from: 0, to: 60, sketch: uniform }));
    const { refs, seen } = feed(config, stream([...flood, ...honest(60, 60, 240)]), 2_048);
    const net = referenceHash(ipPrefix('198.51.100.1')!);
    const m = memberCounts(refs);
    expect(m.nets.get(net) ?? 0).toBeLessThanOrEqual(Math.ceil(config.gate.networkShare * config.size));
    expect(seen.some((s) => s.n > Math.ceil(config.gate.networkShare * config.size))).toBe(true);
  });

  it('keeps each member\'s sketch up to `width`, the compared `dim` first; reads a reference written before `width` at its dim', () => {
    const wide = (rand: () => number) => Array.from({ length: 16 }, () => gaussian(rand));
    const callers = honest(40).map((c) => ({ ...c, sketch: wide }));
    const full = feed(config, stream(callers), 500);
    expect(full.state.width).toBe(16);
    const view = full.refs.get('m')!;
    expect([view.dim, view.width]).toEqual([8, 16]);
    expect(view.minor(0.9)?.width).toBe(16);
    // The same members, in the same order, as a reference that keeps only the compared coordinates.
    const narrow = feed({ ...config, width: 8 }, stream(callers), 500);
    expect(narrow.state.width).toBe(8);
    const small = narrow.refs.get('m')!;
    expect(small.n).toBe(view.n);
    for (let i = 0; i < view.n; i++) {
      expect(Array.from(view.sketch(i)), `member ${i}`).toEqual(Array.from(small.sketch(i)));
      expect(view.owners(i)).toEqual(small.owners(i));
    }
    // Written before `width` existed: no field, records of dim + 7 values.
    const { width: _, ...old } = narrow.state;
    const holder: Record<string, unknown> = { reference: structuredClone(old) };
    const problems: string[] = [];
    const restored = new ModelReferences(config, () => holder, (model, problem) => problems.push(`${model}: ${problem}`)).get('m')!;
    expect(problems).toEqual([]);
    expect([restored.dim, restored.width, restored.n]).toEqual([8, 8, small.n]);
    for (let i = 0; i < small.n; i++) expect(Array.from(restored.sketch(i))).toEqual(Array.from(small.sketch(i)));
  });

  it('reads only its own version: another version is reported and replaced by a fresh reference', () => {
    const problems: string[] = [];
    const holder: Record<string, unknown> = { reference: { v: 0, rows: '' } };
    const refs = new ModelReferences(config, () => holder, (model, problem) => problems.push(`${model}: ${problem}`));
    const [e] = stream(honest(1, 0, 1));
    refs.begin([e]);
    expect(problems).toEqual(['m: version 0, expected 1']);
    expect((holder.reference as ModelReferenceState).v).toBe(1);
  });
});

describe('epochParts', () => {
  it('cuts a batch at epoch boundaries, earliest first, and leaves a one-epoch batch alone', () => {
    const ev = (ts: number) => ({ ts });
    const one = [ev(1), ev(5)];
    expect(epochParts(one, 10)[0]).toBe(one);
    expect(epochParts([ev(25), ev(3), ev(12), ev(27), ev(9)], 10)).toEqual([[ev(3), ev(9)], [ev(12)], [ev(25), ev(27)]]);
  });
});
