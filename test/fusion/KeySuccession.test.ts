import { beforeAll, describe, expect, it } from 'vitest';
import { offManifold } from '../../detectors/offManifold.ts';
import type { Detector } from '../../detectors/types.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import type { InferenceEvent, RiskScore } from '../../src/contract.ts';
import { createMetrics, type Metrics } from '../../src/observability/metrics.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { binomialTail, evenOddsTail, poissonBinomialTail, samePace, uncertainExcess } from '../../src/fusion/KeySuccession.ts';
import { testCompute } from '../detectors/helpers/compute.ts';
import { ATTACK_START, HOUR, naturalScenario } from '../detectors/helpers/scenario.ts';
import { merge, naturalKey, scriptTimes, type World } from '../detectors/helpers/world.ts';

let compute: Compute;
let world: World;
let natural: InferenceEvent[];
beforeAll(async () => {
  compute = await testCompute();
  ({ world, natural } = naturalScenario(4));
  natural = natural.filter((e) => e.ts < ATTACK_START + 2 * HOUR);
});

/** Off-manifold alone: the first key's uniform queries take it to throttle and no further (one family, no second). */
function pipeline(over: Record<string, unknown> = {}, metrics?: Metrics): DetectionPipeline {
  const detectors = [offManifold.create(offManifold.configSchema.parse({}))] as Detector[];
  return new DetectionPipeline(parseConfig(over), { compute, detectors, ...(metrics ? { metrics } : {}) });
}

/** An output-family detector, no signature, that scores every call of an `atk-` key 0.9: one family, held below throttle. */
const suspicion: Detector = {
  name: 'suspicion',
  family: 'output',
  initState: () => ({}),
  processBatch: (groups) => groups.map((g) => ({ scores: g.events.map(() => (g.key.startsWith('atk-') ? 0.9 : 0)), evidence: ['suspicious'] })),
} as Detector;

function run(p: DetectionPipeline, stream: readonly InferenceEvent[], size = 2_048): RiskScore[] {
  const changes: RiskScore[] = [];
  for (let i = 0; i < stream.length; i += size) changes.push(...p.processBatch(stream.slice(i, i + size)).changes);
  return changes;
}

const PERIOD = 2_000;
/** A campaign's queries: uniform in a box of half-width 2 around (4, …, 4), away from the model's traffic. */
function campaign(key: string, times: number[]): InferenceEvent[] {
  return times.map((t) => world.event(key, Array.from({ length: world.dim }, () => 4 + 2 * (2 * world.uniform() - 1)), t));
}
/** A flagged key's 200 campaign queries from ATTACK_START, then `next` from `gapMs` after its last call. */
function handover(next: (start: number) => InferenceEvent[], gapMs = 1_500): InferenceEvent[] {
  const first = campaign('atk-a', scriptTimes(world, 200, ATTACK_START, PERIOD));
  return merge(natural, first, next(first[first.length - 1].ts + gapMs));
}

const finalOf = (p: DetectionPipeline, key: string) => p.finalScores().find((s) => s.api_key === key)!;

describe('KeySuccession', () => {
  it('a fresh key continuing a flagged key at its pace and in its region carries its risk, says so, and whatever the batch size', async () => {
    const stream = handover((start) => campaign('atk-b', scriptTimes(world, 100, start, PERIOD)));
    const metrics = createMetrics();
    const p = pipeline({}, metrics);
    run(p, stream);
    expect((await metrics.keySuccessions.get()).values[0].value).toBe(1);
    const a = finalOf(p, 'atk-a');
    const b = finalOf(p, 'atk-b');
    expect(a.risk).toBeGreaterThanOrEqual(0.5);
    const link = p.store.peek("atk-b")!.succession!;
    expect(link).toMatchObject({ from: 'atk-a', linked: true });
    expect(link.fromRisk).toBeGreaterThanOrEqual(0.5);
    expect(b.risk).toBeGreaterThanOrEqual(link.fromRisk);
    expect(b.evidence.some((e) => e.startsWith('succession: continues key atk-a'))).toBe(true);

    // The same with small batches, which cut the handover differently.
    const small = pipeline();
    run(small, stream, 37);
    expect(small.finalScores()).toEqual(p.finalScores());
  });

  it('lets the carried risk count as a signature: the key\'s own one-family evidence is no longer held below throttle', () => {
    const stream = handover((start) => campaign('atk-b', scriptTimes(world, 100, start, PERIOD)));
    const linked = new DetectionPipeline(parseConfig({}), { compute, detectors: [suspicion] });
    run(linked, stream);
    const alone = new DetectionPipeline(parseConfig({ succession: { enabled: false } }), { compute, detectors: [suspicion] });
    run(alone, stream);
    // The flagged key's one family is held below throttle where it is enforced, but it is remembered at what its evidence marks it with.
    expect(finalOf(linked, 'atk-a').risk).toBeCloseTo(0.4999, 4);
    expect(linked.store.peek('atk-b')!.succession!.fromRisk).toBeCloseTo(0.6999, 4);
    // Without the link the second key is judged from nothing, by one family: held below throttle.
    expect(finalOf(alone, 'atk-b').risk).toBeLessThan(0.5);
    expect(alone.store.peek('atk-b')!.succession).toBeUndefined();
    expect(finalOf(linked, 'atk-b').risk).toBeGreaterThanOrEqual(0.7);
  });

  it('does not link a fresh key that queries where the model\'s traffic is, though it starts at once and at the same pace', () => {
    const stream = handover((start) => naturalKey(world, 'new-user', 100, scriptTimes(world, 100, start, PERIOD)));
    const p = pipeline();
    run(p, stream);
    expect(finalOf(p, 'atk-a').risk).toBeGreaterThanOrEqual(0.5);
    expect(p.store.peek('new-user')!.succession).toBeUndefined();
    expect(finalOf(p, 'new-user').risk).toBeLessThan(0.5);
  });

  it('does not link across a pause longer than the handover, nor a key paced otherwise, nor while the flagged key still calls', () => {
    const late = handover((start) => campaign('atk-b', scriptTimes(world, 100, start, PERIOD)), 400_000);
    const p1 = pipeline();
    run(p1, late);
    expect(p1.store.peek('atk-b')!.succession).toBeUndefined();

    const slower = handover((start) => campaign('atk-b', scriptTimes(world, 100, start, 5 * PERIOD)));
    const p2 = pipeline();
    run(p2, slower);
    expect(p2.store.peek('atk-b')!.succession).toBeUndefined();

    // The flagged key calls once more during the fresh key's first calls.
    const busy = handover((start) => [
      ...campaign('atk-b', scriptTimes(world, 100, start, PERIOD)),
      ...campaign('atk-a', [start + 5 * PERIOD + 7]),
    ]);
    const p3 = pipeline();
    run(p3, busy);
    expect(p3.store.peek('atk-b')!.succession).toBeUndefined();
    // Switched off, nothing is linked.
    const off = pipeline({ succession: { enabled: false } });
    run(off, handover((start) => campaign('atk-b', scriptTimes(world, 100, start, PERIOD))));
    expect(off.store.peek('atk-b')!.succession).toBeUndefined();
  });

  it('looks again over more calls when only the nearer test failed: 11 of the first 16 nearer is chance, 27 of 32 is not', () => {
    // The fresh key mixes traffic-like queries into its first 16 calls (5 of them), then keeps to the campaign's region.
    const mixed = (start: number) => {
      const times = scriptTimes(world, 100, start, PERIOD);
      const traffic = new Set([1, 4, 7, 10, 13]);
      return times.map((t, i) => (traffic.has(i) ? naturalKey(world, 'atk-b', 1, [t])[0] : campaign('atk-b', [t])[0]));
    };
    const stream = handover(mixed);
    const twoLooks = pipeline();
    // Up to the fresh key's 20th call the link is pending (the first look failed), then it holds.
    const twentieth = stream.filter((e) => e.api_key === 'atk-b')[19].ts;
    run(twoLooks, stream.filter((e) => e.ts <= twentieth));
    expect(twoLooks.store.peek('atk-b')!.succession).toMatchObject({ from: 'atk-a', linked: false });
    expect(twoLooks.store.peek('atk-b')!.succession!.ts).toHaveLength(20);
    run(twoLooks, stream.filter((e) => e.ts > twentieth));
    expect(twoLooks.store.peek('atk-b')!.succession).toMatchObject({ from: 'atk-a', linked: true });
    expect(finalOf(twoLooks, 'atk-b').evidence.some((e) => e.startsWith('succession: continues key atk-a'))).toBe(true);
    const oneLook = pipeline({ succession: { lookAgainCalls: 0 } });
    run(oneLook, stream);
    expect(oneLook.store.peek('atk-b')!.succession).toBeUndefined();
  });

  it('needs more nearer queries than even odds give by chance (binomial tail at nearerAlpha)', () => {
    const brute = (n: number, k: number) => {
      let t = 0;
      for (let j = k; j <= n; j++) {
        let c = 1;
        for (let i = 0; i < j; i++) c = (c * (n - i)) / (i + 1);
        t += c / 2 ** n;
      }
      return t;
    };
    for (const [n, k] of [[16, 12], [16, 11], [32, 22], [32, 21], [7, 0], [256, 150]]) expect(evenOddsTail(n, k)).toBeCloseTo(brute(n, k), 12);
    expect(evenOddsTail(16, 17)).toBe(0);
    // At the default 0.04: 12 of 16 and 22 of 32 pass, 11 of 16 and 21 of 32 do not.
    expect(evenOddsTail(16, 12)).toBeLessThanOrEqual(0.04);
    expect(evenOddsTail(16, 11)).toBeGreaterThan(0.04);
    expect(evenOddsTail(32, 22)).toBeLessThanOrEqual(0.04);
    expect(evenOddsTail(32, 21)).toBeGreaterThan(0.04);
    // Any p: against the sum of the binomial terms; at p = 1/4, 8 of 16 pass at 0.04 and 7 of 16 do not.
    const terms = (n: number, k: number, p: number) => {
      let t = 0;
      for (let j = k; j <= n; j++) {
        let c = 1;
        for (let i = 0; i < j; i++) c = (c * (n - i)) / (i + 1);
        t += c * p ** j * (1 - p) ** (n - j);
      }
      return t;
    };
    for (const [n, k, p] of [[16, 8, 0.25], [32, 14, 0.25], [20, 3, 0.1], [100, 40, 0.3]]) expect(binomialTail(n, k, p)).toBeCloseTo(terms(n, k, p), 12);
    expect(binomialTail(16, 8, 0.25)).toBeLessThanOrEqual(0.04);
    expect(binomialTail(16, 7, 0.25)).toBeGreaterThan(0.04);
  });

  it('judges uncertain answers against the traffic\'s answers of the same classes (Poisson-binomial tail)', () => {
    // Equal probabilities: the binomial tail; unequal: the sum over every outcome of the trials.
    expect(poissonBinomialTail(new Array(16).fill(0.25), 8)).toBeCloseTo(binomialTail(16, 8, 0.25), 12);
    const p = [0.1, 0.5, 0.3, 0.8, 0.25, 0.6, 0.05];
    for (let k = 0; k <= p.length + 1; k++) {
      let brute = 0;
      for (let m = 0; m < 1 << p.length; m++) {
        let pr = 1;
        let ones = 0;
        p.forEach((q, i) => {
          const hit = (m >> i) & 1;
          ones += hit;
          pr *= hit ? q : 1 - q;
        });
        if (ones >= k) brute += pr;
      }
      expect(poissonBinomialTail(p, k)).toBeCloseTo(brute, 12);
    }
    // A rare class whose answers are mostly uncertain (0.7 of its members' lie below the threshold), a common one mostly certain.
    const least = { threshold: 0.2, byLabel: new Map([[0, 0.1], [1, 0.7]]), q: 0.25 };
    const margins = new Array(16).fill(0).map((_, i) => (i < 11 ? 0.1 : 0.5));
    // 11 of 16 uncertain, all answered the rare class: what that class's traffic gives, no excess.
    const rare = uncertainExcess(margins, new Array(16).fill(1), least);
    expect(rare).toMatchObject({ hits: 11, judged: 16 });
    expect(rare.tail).toBeGreaterThan(0.3);
    // The same answers of the common class: far beyond its 10%.
    expect(uncertainExcess(margins, new Array(16).fill(0), least).tail).toBeLessThan(1e-6);
    // A class the members were never answered counts at the overall share; answers without a margin or class are not judged.
    expect(uncertainExcess([0.1, Number.NaN, 0.1], [7, 0, Number.NaN], least)).toMatchObject({ hits: 1, judged: 1, tail: 0.25 });
  });

  it('links on the answer test when the queries moved on: both keys\' answers among the model\'s least certain', () => {
    // Natural records of classes a and b on which the model is torn between them (margin under 0.1): where an
    // active learner seeking uncertain answers from natural data asks, among the traffic of those classes.
    const torn = (a: number, b: number) => () => {
      for (;;) {
        const x = world.record(world.pick([a, b]));
        const p = world.probs(x);
        const top = [...p.keys()].sort((i, j) => p[j] - p[i]);
        if (new Set([top[0], top[1]]).has(a) && new Set([top[0], top[1]]).has(b) && p[top[0]] - p[top[1]] < 0.1) return x;
      }
    };
    const seeking = (key: string, near: () => number[], times: number[]) => times.map((t) => world.event(key, near(), t));
    const first = seeking('atk-a', torn(0, 1), scriptTimes(world, 200, ATTACK_START, PERIOD));
    const start = first[first.length - 1].ts + 1_500;
    const withNext = (next: InferenceEvent[]) => merge(natural, first, next);
    const marginOf = (e: InferenceEvent) => {
      const p = [...e.output_probs].sort((x, y) => y - x);
      return p[0] - p[1];
    };
    expect(Math.max(...first.map(marginOf))).toBeLessThan(0.1);

    // The fresh key asks where the model is torn between two other classes: not nearer the flagged key's queries.
    const moved = new DetectionPipeline(parseConfig({}), { compute, detectors: [suspicion] });
    run(moved, withNext(seeking('atk-b', torn(2, 3), scriptTimes(world, 100, start, PERIOD))));
    const link = moved.store.peek('atk-b')!.succession!;
    expect(link).toMatchObject({ from: 'atk-a', linked: true, answerShare: 0.25 });
    expect(link.nearer!).toBeLessThan(0.75);
    expect(link.answerTail!).toBeGreaterThan(0.9);
    expect(link.fromAnswerTail!).toBeGreaterThan(0.9);
    expect(finalOf(moved, 'atk-b').evidence.some((e) => /least certain 25%/.test(e))).toBe(true);
    expect(finalOf(moved, 'atk-b').risk).toBeGreaterThanOrEqual(0.7);

    // Switched off, the same key is not linked: its queries are elsewhere.
    const off = new DetectionPipeline(parseConfig({ succession: { answerTailShare: 0 } }), { compute, detectors: [suspicion] });
    run(off, withNext(seeking('atk-b', torn(2, 3), scriptTimes(world, 100, start, PERIOD))));
    expect(off.store.peek('atk-b')!.succession).toBeUndefined();

    // A fresh key answered as the traffic is (natural records elsewhere) is not linked, though it starts at once and at the same pace.
    const plain = new DetectionPipeline(parseConfig({}), { compute, detectors: [suspicion] });
    run(plain, withNext(naturalKey(world, 'atk-b', 100, scriptTimes(world, 100, start, PERIOD))));
    expect(plain.store.peek('atk-b')!.succession).toBeUndefined();

    // Nor is an uncertain fresh key whose flagged predecessor's answers were certain (the campaign box, far off).
    const certain = campaign('atk-a', scriptTimes(world, 200, ATTACK_START, PERIOD));
    const other = new DetectionPipeline(parseConfig({}), { compute, detectors: [suspicion] });
    run(other, merge(natural, certain, seeking('atk-b', torn(2, 3), scriptTimes(world, 100, certain[certain.length - 1].ts + 1_500, PERIOD))));
    expect(other.store.peek('atk-b')!.succession).toBeUndefined();
  });

  it('chains: a third key continuing the second carries the risk on', () => {
    const stream = handover((start) => {
      const b = campaign('atk-b', scriptTimes(world, 60, start, PERIOD));
      return [...b, ...campaign('atk-c', scriptTimes(world, 60, b[b.length - 1].ts + 1_000, PERIOD))];
    });
    const p = pipeline();
    run(p, stream);
    expect(p.store.peek('atk-c')!.succession).toMatchObject({ from: 'atk-b', linked: true });
    expect(finalOf(p, 'atk-c').risk).toBeGreaterThanOrEqual(0.5);
  });

  it('tells a script from a person with the same median gap by the gaps\' distributions (two-sample Kolmogorov–Smirnov)', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) + 0.5) / 2 ** 31;
    const script = (n: number) => Array.from({ length: n }, () => 2_000 * (1 + 0.04 * (rand() - 0.5)));
    // Exponential gaps with the same median (ln 2 · mean = 2 s).
    const person = (n: number) => Array.from({ length: n }, () => (-2_000 / Math.LN2) * Math.log(rand()));
    expect(samePace(script(31), script(15), 0.01)).toBe(true);
    expect(samePace(person(31), person(15), 0.01)).toBe(true);
    expect(samePace(script(31), person(15), 0.01)).toBe(false);
    expect(samePace(person(31), script(15), 0.01)).toBe(false);
    expect(samePace([], script(15), 0.01)).toBe(false);
  });

  it('rejects a bad succession setting naming the key', () => {
    expect(() => parseConfig({ succession: { paceRatio: 0.5 } })).toThrow(/succession\.paceRatio/);
    expect(() => parseConfig({ succession: { lookAgainCalls: 16 } })).toThrow(/succession\.lookAgainCalls/);
    expect(() => parseConfig({ succession: { nearerShare: 0.75 } })).toThrow(/nearerShare/);
  });
});
