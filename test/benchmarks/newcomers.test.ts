import { describe, expect, it } from 'vitest';
import { honestAtTruncate, judgeNewcomers, withNewcomers } from '../../benchmarks/newcomers.ts';
import { Rng } from '../../benchmarks/quality/Rng.ts';

const T0 = 1_700_000_000_000;
const ev = (key: string, ts: number, n: number) => ({ ts, api_key: key, tenant: `${key}-tenant`, client_ip: '10.0.0.1', event_id: `${key}-${n}`, input_sketch: [n, -n], enforcement: null });

describe('bench:newcomers', () => {
  // A flagged campaign calling every 1.5 s, a batch scorer calling every 0.7 s from well before to well after it, an interactive user.
  const campaign = Array.from({ length: 40 }, (_, n) => ev('atk', T0 + 3_600_000 + n * 1_500, n));
  const scorer = Array.from({ length: 20_000 }, (_, n) => ev('batch-00', T0 + n * 700, n));
  const person = Array.from({ length: 300 }, (_, n) => ev('user-00', T0 + n * 60_000, n));
  const events = [...campaign, ...scorer, ...person].sort((a, b) => a.ts - b.ts);
  const keys = new Map([
    ['atk', { label: 'attack', population: 'Tramèr' }],
    ['batch-00', { label: 'benign', population: 'batch scorers' }],
    ['user-00', { label: 'benign', population: 'interactive users' }],
  ]);

  it('starts a newcomer 1–60 s after each flagged key\'s last call, at its pace, with a scripted honest key\'s calls from that time', () => {
    const out = withNewcomers(events, keys, new Set(['atk', 'user-00']), 100, new Rng(3));
    expect(out.length).toBe(events.length + 200);
    for (let i = 1; i < out.length; i++) expect(out[i].ts).toBeGreaterThanOrEqual(out[i - 1].ts);
    const after = (key: string) => out.filter((e) => e.api_key === key);
    const names = [...new Set(out.map((e) => e.api_key).filter((k) => k.startsWith('newc-')))].sort();
    expect(names).toEqual(['newc-000', 'newc-001']);
    // newc-000 follows 'atk' (flagged keys in name order).
    const n0 = after('newc-000');
    const lastAtk = campaign[campaign.length - 1].ts;
    expect(n0[0].ts - lastAtk).toBeGreaterThanOrEqual(1_000);
    expect(n0[0].ts - lastAtk).toBeLessThanOrEqual(60_000);
    const gaps = n0.slice(1).map((e, j) => e.ts - n0[j].ts);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1_460);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1_540);
    // Content: the batch scorer's (the only scripted honest key), its consecutive calls nearest in time to the start.
    const sketch = (e: Record<string, unknown>) => e.input_sketch as number[];
    const first = scorer.findIndex((e) => e.input_sketch[0] === sketch(n0[0])[0]);
    expect(Math.abs(scorer[first].ts - n0[0].ts)).toBeLessThanOrEqual(700);
    n0.forEach((e, j) => expect(sketch(e)).toEqual(scorer[first + j].input_sketch));
    // Its own identity.
    expect(new Set(n0.map((e) => e.tenant))).toEqual(new Set(['newc-000-t']));
    expect(new Set(n0.map((e) => e.event_id)).size).toBe(100);
    expect(n0.every((e) => e.client_ip !== '10.0.0.1')).toBe(true);
  });

  it('counts newcomers linked, by test, and at throttle or truncate, linked or not', () => {
    const scored = [
      { api_key: 'newc-000', risk: 0.2, evidence: [] },
      { api_key: 'newc-000', risk: 0.8, evidence: ["succession: continues key atk's campaign (…) and 75% of this key's first queries lie nearer its last queries than the model's traffic"] },
      { api_key: 'newc-001', risk: 0.75, evidence: ["succession: continues key b's campaign (…) and 60% of this key's first answers and 90% of its last lie among the model's least certain 25%"] },
      { api_key: 'newc-002', risk: 0.71, evidence: ['off-manifold: …'] },
      { api_key: 'newc-003', risk: 0.55, evidence: ['volume: …'] },
      { api_key: 'newc-004', risk: 0, evidence: [] },
      { api_key: 'atk', risk: 1, evidence: [] },
    ];
    const labels = new Map([['newc-002', { label: 'attack' }], ['user-00', { label: 'benign' }], ['user-01', { label: 'benign' }]]);
    expect(honestAtTruncate([...scored, { api_key: 'user-00', risk: 0.7, evidence: [] }, { api_key: 'user-00', risk: 0.9, evidence: [] }, { api_key: 'user-01', risk: 0.69, evidence: [] }], labels, 0.7)).toBe(1);
    expect(judgeNewcomers('w', scored, { throttle: 0.5, truncate: 0.7 }, { before: 0, after: 1 })).toEqual({
      world: 'w',
      newcomers: 5,
      linked: 2,
      byTest: { queries: 1, answers: 1 },
      atThrottle: 4,
      atTruncate: 3,
      truncateUnlinked: 1,
      honestAtTruncate: { before: 0, after: 1 },
    });
  });
});
