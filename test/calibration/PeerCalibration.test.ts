import { describe, expect, it } from 'vitest';
import { calibrationSchema, type Discount, PEER_TABLE_SLOT, PeerCalibration, type PeerTableHome } from '../../src/calibration/PeerCalibration.ts';
import type { InferenceEvent } from '../../src/contract.ts';

const T0 = 1_767_600_000_000;
const HOUR = 3_600_000;

function event(key: string, ts: number, ip: string, tenant: string | null = null): InferenceEvent {
  return {
    event_id: `${key}-${ts}`,
    ts,
    api_key: key,
    tenant,
    client_ip: ip,
    model_id: 'm',
    input_hash: new Uint8Array(32),
    input_sketch: [],
    output_label: 0,
    output_probs: [],
    status: 200,
    latency_ms: 1,
    enforcement: null,
  } as unknown as InferenceEvent;
}

/** Drives keys through the calibration in event-time order; returns each key's last calibrated score of detector 0. */
function drive(cal: PeerCalibration, keys: { key: string; ip: string; tenant?: string; score: number; from: number; to: number; every: number }[]) {
  const events: { k: number; ts: number }[] = [];
  keys.forEach((x, k) => {
    for (let ts = x.from; ts < x.to; ts += x.every) events.push({ k, ts });
  });
  events.sort((a, b) => a.ts - b.ts);
  const seen = new Array(keys.length).fill(0);
  const last: { score: number; discount: Discount | null }[] = keys.map(() => ({ score: 0, discount: null }));
  const out = new Float64Array(1);
  const discounts: (Discount | null)[] = [null];
  for (const { k, ts } of events) {
    const x = keys[k];
    cal.apply(x.key, event(x.key, ts, x.ip, x.tenant ?? null), ++seen[k], [x.score], out, discounts);
    last[k] = { score: out[0], discount: discounts[0] };
  }
  return last;
}

const config = calibrationSchema.parse({});

describe('PeerCalibration', () => {
  it('keeps a score few peers reach and discounts one that much of the model traffic reaches', () => {
    const honest = Array.from({ length: 20 }, (_, i) => ({ key: `u${i}`, ip: `10.0.${i}.1`, score: i < 8 ? 0.9 : 0.05, from: T0, to: T0 + 12 * HOUR, every: 60_000 }));
    const rare = { key: 'rare', ip: '192.0.2.1', score: 0.95, from: T0 + 8 * HOUR, to: T0 + 12 * HOUR, every: 60_000 };
    const result = drive(new PeerCalibration(config, [true]), [...honest, rare]);
    // 8 of 20 networks at 0.9: a 0.9 means nothing here.
    expect(result[0].score).toBeLessThan(0.45);
    expect(result[0].discount!.common).toBeGreaterThan(0.3);
    // 0.95 is above every peer: it stands.
    expect(result[20].score).toBeCloseTo(0.95, 12);
    expect(result[20].discount).toBeNull();
  });

  it('passes scores through when it is told not to calibrate a detector, or is disabled', () => {
    const keys = Array.from({ length: 20 }, (_, i) => ({ key: `u${i}`, ip: `10.0.${i}.1`, score: 0.9, from: T0, to: T0 + 8 * HOUR, every: 60_000 }));
    expect(drive(new PeerCalibration(config, [false]), keys)[0].score).toBe(0.9);
    expect(drive(new PeerCalibration(calibrationSchema.parse({ enabled: false }), [true]), keys)[0].score).toBe(0.9);
    expect(drive(new PeerCalibration(config, [true]), keys)[0].score).toBe(0);
  });

  it('cannot be blinded by short-lived keys, or by many keys of one network or one tenant', () => {
    const honest = Array.from({ length: 12 }, (_, i) => ({ key: `u${i}`, ip: `10.0.${i}.1`, score: 0.05, from: T0, to: T0 + 12 * HOUR, every: 60_000 }));
    // 200 keys of 30 calls each (below minEvents), from 200 networks, all scoring high.
    const drive_by = Array.from({ length: 200 }, (_, i) => ({ key: `p${i}`, ip: `198.51.${i}.7`, score: 0.9, from: T0 + i * 60_000, to: T0 + i * 60_000 + 30 * 60_000, every: 60_000 }));
    // 40 long-lived keys from one /24, and 40 from one tenant spread over networks.
    const oneNet = Array.from({ length: 40 }, (_, i) => ({ key: `n${i}`, ip: `203.0.113.${i}`, score: 0.9, from: T0, to: T0 + 12 * HOUR, every: 60_000 }));
    const oneTenant = Array.from({ length: 40 }, (_, i) => ({ key: `t${i}`, ip: `100.64.${i}.9`, tenant: 'shell-co', score: 0.9, from: T0, to: T0 + 12 * HOUR, every: 60_000 }));
    const attacker = { key: 'atk', ip: '192.0.2.1', score: 0.9, from: T0 + 6 * HOUR, to: T0 + 12 * HOUR, every: 60_000 };
    const result = drive(new PeerCalibration(config, [true]), [...honest, ...drive_by, ...oneNet, ...oneTenant, attacker]);
    // 2 votes at 0.9 (the network, the tenant) against 12 honest ones: 14% ≤ commonLow.
    expect(result.at(-1)!.score).toBeCloseTo(0.9, 12);
    // Without the vote caps the same crowd would have hidden it (control: every key its own network and tenant).
    const uncapped = [...oneNet, ...oneTenant].map((x, i) => ({ ...x, ip: `172.16.${i}.1`, tenant: `own-${i}` }));
    const blinded = drive(new PeerCalibration(config, [true]), [...honest, ...uncapped, attacker]);
    expect(blinded.at(-1)!.score).toBe(0);
  });

  it('reads the peer table as it stood at the last epoch boundary', () => {
    const cal = new PeerCalibration(calibrationSchema.parse({ minVotes: 1, fullVoteAfterMs: 1 }), [true]);
    const out = new Float64Array(1);
    const d: (Discount | null)[] = [null];
    // One peer at 0.9 for 60 events, all inside epoch 0.
    for (let i = 1; i <= 60; i++) cal.apply('peer', event('peer', T0 + i * 1000, '10.0.0.1'), i, [0.9], out, d);
    // Still epoch 0 for the probe: the fold taken at its first event saw no peer yet, so nothing is common.
    const epochStart = Math.floor((T0 + 60_000) / config.epochMs) * config.epochMs;
    cal.apply('probe', event('probe', epochStart + config.epochMs - 1, '10.9.9.9'), 1, [0.9], out, d);
    expect(out[0]).toBe(0.9);
    // The next epoch folds the peer in: now the probe's 0.9 is common.
    cal.apply('probe', event('probe', epochStart + config.epochMs + 1, '10.9.9.9'), 2, [0.9], out, d);
    expect(out[0]).toBe(0);
  });

  it('keeps its table in the model\'s aggregate entity: restored from a JSON snapshot, it discounts exactly as an unbroken run', () => {
    const honest = Array.from({ length: 20 }, (_, i) => ({ key: `u${i}`, ip: `10.0.${i}.1`, score: i < 8 ? 0.9 : 0.05, every: 60_000 }));
    // Every key calls once a minute for 12 hours; the instance restarts after 8 (mid-epoch, as a restart happens).
    const ticks: { k: number; ts: number }[] = [];
    for (let ts = T0; ts < T0 + 12 * HOUR; ts += 60_000) honest.forEach((_, k) => ticks.push({ k, ts: ts + k * 7 }));
    const cut = ticks.findIndex((t) => t.ts >= T0 + 8 * HOUR + 123_456);
    const homeOf = (entities: Map<string, Record<string, unknown>>): PeerTableHome => (model) => {
      let e = entities.get(model);
      if (!e) entities.set(model, (e = {}));
      return e;
    };
    const play = (cal: PeerCalibration, from: number, to: number, seen: number[]) => {
      const out = new Float64Array(1);
      const d: (Discount | null)[] = [null];
      const scores: number[] = [];
      for (const { k, ts } of ticks.slice(from, to)) {
        const x = honest[k];
        cal.apply(x.key, event(x.key, ts, x.ip), ++seen[k], [x.score], out, d);
        scores.push(out[0]);
      }
      return scores;
    };
    const whole = play(new PeerCalibration(config, [true], homeOf(new Map())), 0, ticks.length, honest.map(() => 0));

    const before = new Map<string, Record<string, unknown>>();
    const seen = honest.map(() => 0);
    const first = play(new PeerCalibration(config, [true], homeOf(before)), 0, cut, seen);
    const saved = JSON.parse(JSON.stringify([...before])) as [string, Record<string, unknown>][];
    expect(saved[0][1][PEER_TABLE_SLOT]).toMatchObject({ v: 1 });
    const resumed = play(new PeerCalibration(config, [true], homeOf(new Map(saved))), cut, ticks.length, [...seen]);
    expect([...first, ...resumed]).toEqual(whole);
    // The discount is there at once after the restart (8 of 20 networks at 0.9), and only because the table came back.
    expect(resumed[0]).toBeLessThan(0.45);
    const afresh = play(new PeerCalibration(config, [true], homeOf(new Map())), cut, ticks.length, [...seen]);
    expect(afresh[0]).toBe(0.9);
  });

  it('starts a fresh table, and says so, when the saved one cannot be read', () => {
    const unreadable: string[] = [];
    const entity: Record<string, unknown> = { [PEER_TABLE_SLOT]: { v: 1, peers: [['u0', 0, [0.5, 0.5], T0, T0, 'n', 't', false]], frozen: null } };
    const cal = new PeerCalibration(config, [true], () => entity, (model) => unreadable.push(model));
    const out = new Float64Array(1);
    cal.apply('u1', event('u1', T0, '10.0.0.1'), 1, [0.9], out, [null]);
    expect(unreadable).toEqual(['m']);
    expect(cal.size).toBe(1);
    expect((JSON.parse(JSON.stringify(entity))[PEER_TABLE_SLOT] as { peers: unknown[] }).peers).toHaveLength(1);
  });
});
