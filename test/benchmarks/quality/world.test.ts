import { beforeAll, describe, expect, it } from 'vitest';
import { TramerEquationSolving } from '../../../benchmarks/quality/attacks/TramerEquationSolving.ts';
import { NaturalSampler } from '../../../benchmarks/quality/NaturalSampler.ts';
import { InteractiveUser } from '../../../benchmarks/quality/populations/InteractiveUser.ts';
import { Rng } from '../../../benchmarks/quality/Rng.ts';
import type { VictimWorld } from '../../../benchmarks/quality/Victim.ts';
import { Client } from '../../../benchmarks/quality/world/Client.ts';
import type { Enforcement } from '../../../benchmarks/quality/world/Enforcement.ts';
import { DAY, HOUR, SIM_EPOCH } from '../../../benchmarks/quality/world/Schedule.ts';
import type { Actor, KeyIdentity, QueryApi } from '../../../benchmarks/quality/world/types.ts';
import { formatEventLine } from '../../../src/codec/ndjson.ts';
import { ReferenceCompute } from '../../../src/compute/ReferenceCompute.ts';
import { parseConfig } from '../../../src/config/loadConfig.ts';
import { levelRank, type InferenceEvent, type Level } from '../../../src/contract.ts';
import { DetectionPipeline } from '../../../src/pipeline/DetectionPipeline.ts';
import { simulate, smallVictimWorld } from './helpers.ts';

let world: VictimWorld;
beforeAll(async () => {
  world = await smallVictimWorld();
});

/** A scripted actor sending `n` natural inputs at `perMinute` from `start`, in requests of `chunk`. */
function scripted(id: string, start: number, n: number, perMinute: number, chunk = 25): Actor {
  const key: KeyIdentity = { apiKey: id, tenant: null, clientIp: `10.9.${id.length}.1` };
  return {
    id,
    population: 'test',
    kind: 'benign',
    keys: [key],
    async run(api: QueryApi) {
      const rng = new Rng(1).fork(id);
      const natural = new NaturalSampler(world.train, world);
      const client = new Client(api, key, start);
      for (let sent = 0; sent < n; sent += chunk) {
        const xs = Array.from({ length: Math.min(chunk, n - sent) }, () => world.standardizer.apply(natural.sample(rng)));
        await client.scripted(xs, perMinute, rng);
      }
    },
  };
}

function volumePipeline(): DetectionPipeline {
  const config = parseConfig({ detectors: { volume: { key: { minute: 20 } } } });
  const full = new DetectionPipeline(config, { compute: new ReferenceCompute() });
  return new DetectionPipeline(config, { compute: new ReferenceCompute(), detectors: full.detectors.filter((d) => d.name === 'volume') });
}

describe('World: clients, gateway and pipeline in event time', () => {
  it('answers the calls of all actors in global event-time order, through the gateway SDK', async () => {
    const events: InferenceEvent[] = [];
    const record = await simulate(world, [scripted('a', SIM_EPOCH, 60, 30), scripted('bb', SIM_EPOCH + 20_000, 80, 50, 7)], { onEvent: (e) => events.push(e) });
    expect(events).toHaveLength(140);
    for (let i = 1; i < events.length; i++) expect(events[i].ts).toBeGreaterThanOrEqual(events[i - 1].ts);
    expect(new Set(events.slice(0, 70).map((e) => e.api_key))).toEqual(new Set(['a', 'bb']));
    expect(record.actors.map((r) => r.calls)).toEqual([60, 80]);
    const e = events[0];
    expect(e.input_hash).toHaveLength(32);
    expect(e.input_sketch).toHaveLength(16);
    expect(e.output_probs).toHaveLength(world.classes.length);
    expect(e.output_label).toBe(e.output_probs.indexOf(Math.max(...e.output_probs)));
    expect(record.keys.get('bb')!.times).toHaveLength(80);
  });

  it('hands the enforcement the level the pipeline published, from the next poll on', async () => {
    const seen: { ts: number; level: Level }[] = [];
    const throttling: Enforcement = {
      active: true,
      name: 'test: refuse from throttle up',
      apply(level, answer) {
        seen.push({ ts: seen.length, level });
        return levelRank(level) >= levelRank('throttle') ? { probs: [], label: -1, status: 429 } : answer;
      },
    };
    const pollMs = 5000;
    const events: InferenceEvent[] = [];
    const record = await simulate(world, [scripted('burst', SIM_EPOCH, 120, 60)], {
      pipelines: [{ name: 'p', pipeline: volumePipeline() }],
      enforcement: throttling,
      pollMs,
      onEvent: (e) => events.push(e),
    });
    const trace = record.keys.get('burst')!;
    const throttle = trace.changes.p.find((c) => c.level === 'throttle');
    expect(throttle).toBeDefined();
    const effective = (Math.floor(throttle!.ts / pollMs) + 1) * pollMs;
    events.forEach((e, i) => {
      if (e.ts < effective) expect(seen[i].level === 'throttle').toBe(false);
      if (e.ts < trace.changes.p[0].ts) expect(e.enforcement).toBeNull();
    });
    const firstRefused = events.findIndex((e) => e.status === 429);
    expect(events[firstRefused].ts).toBeGreaterThanOrEqual(effective);
    expect(events[firstRefused].enforcement).toBe('throttle');
    expect(record.actors[0].refused).toBe(events.filter((e) => e.status === 429).length);
    expect(trace.risk.length).toBeGreaterThan(0);
  });

  it('refuses calls that go back in time', async () => {
    const key = { apiKey: 'k', tenant: null, clientIp: '10.0.0.1' };
    const backwards: Actor = {
      id: 'back',
      population: 'test',
      kind: 'benign',
      keys: [key],
      async run(api) {
        await api.query(key, [world.testX[0]], [SIM_EPOCH + 1000]);
        await api.query(key, [world.testX[1]], [SIM_EPOCH]);
      },
    };
    await expect(simulate(world, [backwards])).rejects.toThrow(/before/);
  });

  it('is reproducible from the seed: the same cast gives the same event stream', async () => {
    const run = async (seed: number) => {
      const rng = new Rng(seed);
      const natural = new NaturalSampler(world.train, world);
      const lines: string[] = [];
      const actors: Actor[] = [
        new InteractiveUser('u', { apiKey: 'u', tenant: 'org', clientIp: '10.1.0.1' }, natural, world.standardizer, rng.fork('u'), SIM_EPOCH, SIM_EPOCH + DAY),
        new TramerEquationSolving({ world, budget: 60, start: SIM_EPOCH + 11 * HOUR, rng: rng.fork('t'), surrogate: { hidden: [8], passes: 100, innerPasses: 100 } }),
      ];
      await simulate(world, actors, { seed, pipelines: [{ name: 'p', pipeline: volumePipeline() }], onEvent: (e) => lines.push(formatEventLine(e)) });
      return lines;
    };
    const a = await run(21);
    expect(a.length).toBeGreaterThan(60);
    expect(await run(21)).toEqual(a);
    expect(await run(22)).not.toEqual(a);
  });
});
