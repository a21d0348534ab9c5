import { describe, expect, it } from 'vitest';
import type { Detector } from '../../detectors/types.ts';
import { decisionCodec, riskScoreCodec } from '../../src/codec/contractCodecs.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { burst } from '../helpers/events.ts';

const compute = { backend: 'none' } as Compute;

/** A detector that scores every event `score`, with one evidence sentence. */
function fixed(name: string, score: number, family: 'geometry' | 'output' = 'output'): Detector {
  return {
    name,
    family,
    // A signature: these tests are about the ladder, so one detector may drive the risk anywhere.
    signature: true,
    initState: () => ({}),
    processBatch: (groups) => groups.map((g) => ({ scores: g.events.map(() => score), evidence: [`${name} saw ${score}`] })),
  } as Detector;
}

describe('DetectionPipeline policy', () => {
  it('keeps a shadowed detector out of the enforced risk but publishes the level it would have decided', async () => {
    // Two registry names, so the config's `shadow` flag reaches them.
    const config = parseConfig({ detectors: { 'grid-sweep': { shadow: true } } });
    const metrics = createMetrics();
    const pipeline = new DetectionPipeline(config, { compute, metrics, detectors: [fixed('grid-sweep', 0.8, 'geometry'), fixed('entropy', 0.1)] });
    const out = pipeline.processBatch(burst('k', 3, 0, 1000));

    const state = pipeline.store.peek('k')!;
    expect(state.risk).toBeCloseTo(0.1, 10);
    expect(state.shadowRisk).toBeCloseTo(1 - 0.2 * 0.9, 10);
    expect(state.ladder.level).toBe('allow');
    expect(out.changes).toHaveLength(1);
    expect(out.changes[0]).toMatchObject({ level: 'allow', risk: 0.1, shadow_level: 'truncate', shadow_risk: 0.82 });
    expect(out.changes[0].evidence[0]).toBe('(shadow) grid-sweep: grid-sweep saw 0.8');
    expect(out.decisions).toHaveLength(1);
    expect(out.decisions[0]).toMatchObject({ api_key: 'k', level: 'allow', shadow: false, shadow_level: 'truncate' });
    expect(out.decisions[0].expires_at).toBe(state.shadowLadder!.expiresAt);
    const counted = (await metrics.decisions.get()).values.find((v) => v.labels.shadow === 'detector');
    expect(counted).toMatchObject({ value: 1, labels: { level: 'truncate' } });

    // The shadow fields survive the Avro round trip; absent ones stay absent.
    expect(riskScoreCodec.decode(riskScoreCodec.encode(out.changes[0]))).toEqual(out.changes[0]);
    expect(decisionCodec.decode(decisionCodec.encode(out.decisions[0]))).toEqual(out.decisions[0]);
    const plain = { api_key: 'x', level: 'allow' as const, reason: '', expires_at: 1, shadow: false };
    expect(decisionCodec.decode(decisionCodec.encode(plain))).toEqual(plain);
  });

  it('without shadowed detectors publishes no shadow fields', () => {
    const pipeline = new DetectionPipeline(parseConfig({}), { compute, detectors: [fixed('grid-sweep', 0.8)] });
    const out = pipeline.processBatch(burst('k', 2, 0, 1000));
    expect(out.changes[0].level).toBe('truncate');
    expect('shadow_level' in out.changes[0]).toBe(false);
    expect('shadow_level' in out.decisions[0]).toBe(false);
  });

  it("applies the tenant's policy from the key's events, and its shadow flag to the key's decisions", () => {
    const config = parseConfig({ policy: { tenants: { research: { thresholds: { truncate: 0.9, deceive: 0.95 } }, trial: { shadow: true } } } });
    const pipeline = new DetectionPipeline(config, { compute, detectors: [fixed('grid-sweep', 0.8)] });
    const out = pipeline.processBatch([
      ...burst('r', 2, 0, 1000, { tenant: 'research' }),
      ...burst('t', 2, 0, 1000, { tenant: 'trial' }),
      ...burst('n', 2, 0, 1000),
    ]);
    const level = (key: string) => out.decisions.find((d) => d.api_key === key);
    expect(level('r')).toMatchObject({ level: 'throttle', shadow: false });
    expect(level('t')).toMatchObject({ level: 'truncate', shadow: true });
    expect(level('n')).toMatchObject({ level: 'truncate', shadow: false });
    // An event without a tenant keeps the key's tenant.
    pipeline.processBatch(burst('r', 1, 5000, 1, { tenant: null }));
    expect(pipeline.store.peek('r')!.tenant).toBe('research');
  });

  it('steps a key that goes on calling at truncate up to deceive, and says why in the score, the decision and a metric', async () => {
    const config = parseConfig({ policy: { persistence: { calls: 10 } } });
    const metrics = createMetrics();
    const pipeline = new DetectionPipeline(config, { compute, metrics, detectors: [fixed('grid-sweep', 0.75)] });
    const out = pipeline.processBatch(burst('k', 15, 0, 1000));
    // One change at the first call (allow → truncate), one after 10 more calls at truncate.
    expect(out.changes.map((c) => [c.level, c.events_seen])).toEqual([
      ['truncate', 1],
      ['deceive', 11],
    ]);
    const raised = out.changes[1];
    expect(raised.risk).toBe(0.75);
    expect(raised.evidence[0]).toMatch(/^policy: deceive since .*: the key went on calling at truncate \(10 calls or more\) and its risk still held it there \(policy\.persistence\)$/);
    expect(raised.evidence).toContain('grid-sweep: grid-sweep saw 0.75');
    const decision = out.decisions.find((d) => d.level === 'deceive')!;
    expect(decision.reason).toContain('the key went on calling at truncate (10 calls or more)');
    // The only rung the default persistence climbs, exported at 0 from the start, then counted once.
    expect((await metrics.persistenceSteps.get()).values).toEqual([{ value: 1, labels: { from: 'truncate', to: 'deceive' } }]);
    // Off, the key stays where its risk puts it.
    const off = new DetectionPipeline(parseConfig({ policy: { persistence: { enabled: false } } }), { compute, detectors: [fixed('grid-sweep', 0.75)] });
    expect(off.processBatch(burst('k', 15, 0, 1000)).changes.map((c) => c.level)).toEqual(['truncate']);
  });

  it('says in the decision why an allowlisted key is held at allow', () => {
    const config = parseConfig({ policy: { allowlist: [{ key: 'k', reason: 'partner load test' }] } });
    const pipeline = new DetectionPipeline(config, { compute, detectors: [fixed('grid-sweep', 0.8)] });
    pipeline.store.get('k').ladder.level = 'truncate'; // escalated before the entry was added
    const out = pipeline.processBatch(burst('k', 1, 0, 1));
    expect(out.decisions).toHaveLength(1);
    expect(out.decisions[0]).toMatchObject({ level: 'allow', reason: 'allowlisted (partner load test); risk 0.8' });
  });
});

describe('DetectionPipeline and refused calls', () => {
  /** A behavioural detector scoring each answered call by how many it has seen, recording what it was given. */
  function counting(kind?: 'rate') {
    const seen: string[] = [];
    const detector = {
      name: kind ? 'volume' : 'entropy',
      kind,
      initState: () => ({ n: 0 }),
      processBatch: (groups: readonly { events: readonly { event_id: string }[]; state: { n: number } }[]) =>
        groups.map((g) => {
          const scores = g.events.map((e) => {
            seen.push(e.event_id);
            return ++g.state.n / 10;
          });
          return { scores, evidence: [`n=${g.state.n}`], explain: (i: number) => [`call ${i + 1} of the batch`] };
        }),
    } as unknown as Detector;
    return { detector, seen };
  }

  it('gives behavioural detectors only the answered calls; a refused call keeps the last answered score; rate detectors see every attempt', () => {
    const behaviour = counting();
    const rate = counting('rate');
    const pipeline = new DetectionPipeline(parseConfig({}), { compute, detectors: [behaviour.detector, rate.detector] });
    const statuses = [429, 200, 200, 429, 429, 200, 403];
    const events = burst('k', statuses.length, 0, 1000).map((e, i) => ({ ...e, event_id: `e${i}`, status: statuses[i] }));
    pipeline.processBatch(events.slice(0, 1)); // a refused call first: nothing answered yet
    expect(behaviour.seen).toEqual([]);
    expect(pipeline.store.peek('k')!.scores.entropy).toBe(0);
    const out = pipeline.processBatch(events.slice(1));
    expect(behaviour.seen).toEqual(['e1', 'e2', 'e5']);
    expect(rate.seen).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
    const state = pipeline.store.peek('k')!;
    // The batch's last call (403) carries the score and evidence of the last answered one (e5, the 3rd answered).
    expect(state.scores.entropy).toBeCloseTo(0.3, 10);
    expect(state.evidence.entropy).toEqual(['call 3 of the batch']);
    expect(out.touched).toEqual(['k']);
    // A batch of refused calls only: the behavioural detector is not called, its score stays.
    pipeline.processBatch(burst('k', 2, 10_000, 1000, { status: 429 }));
    expect(behaviour.seen).toHaveLength(3);
    expect(pipeline.store.peek('k')!.scores.entropy).toBeCloseTo(0.3, 10);
  });
});
