import { beforeAll, describe, expect, it } from 'vitest';
import { offManifold } from '../../detectors/offManifold.ts';
import { ModelReference } from '../../src/baselines/ModelReference.ts';
import type { ModelReferenceState } from '../../src/baselines/ModelReferenceState.ts';
import { referenceHash } from '../../src/baselines/referenceHash.ts';
import { referenceSchema } from '../../src/baselines/referenceSchema.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { ipPrefix } from '../../src/state/ipPrefix.ts';
import { uniformBox } from './helpers/attacks.ts';
import { testCompute } from './helpers/compute.ts';
import { DEFAULT_REFERENCE, type DetectorRun, referenceOf, runDetector } from './helpers/runDetector.ts';
import { HOUR, T0 } from './helpers/scenario.ts';
import { background, merge, scriptTimes, World } from './helpers/world.ts';

/** The ladder's throttle threshold: a detector "fires" at it. */
const THROTTLE = 0.5;
const POISON_NET = '198.51.100.0/24';
const MINUTE = 60_000;

/**
 * Baseline poisoning (issue 10): during the model's first epochs, 100 short-lived keys from 100
 * different /24s and 30 longer-lived keys from one /24 and one tenant send uniform-random queries;
 * then an honest population arrives; then a uniform-random attacker (Tramèr et al.'s equation
 * solving) calls.
 */
function poisonedStream(world: World): { events: InferenceEvent[]; attack: InferenceEvent[] } {
  const shortLived = Array.from({ length: 100 }, (_, k) =>
    uniformBox(world, `short-${k}`, scriptTimes(world, 20, T0 + k * 20_000, 3_000), 5, { clientIp: `172.${16 + (k >> 6)}.${k}.9` }),
  );
  const poisoners = Array.from({ length: 30 }, (_, k) =>
    uniformBox(world, `poison-${k}`, scriptTimes(world, 120, T0 + k * 1_000, 30_000), 5, { clientIp: `198.51.100.${k + 1}`, tenant: 'mallory' }),
  );
  const honest = background(world, 40, 400, T0 + HOUR, 4 * HOUR);
  const attack = uniformBox(world, 'atk-random', scriptTimes(world, 400, T0 + 3 * HOUR, 2_000));
  return { events: merge(...shortLived, ...poisoners, honest, attack), attack };
}

let compute: Compute;
let stream: { events: InferenceEvent[]; attack: InferenceEvent[] };
let gated: DetectorRun;
let open: DetectorRun;
/** The same runs stopped when the attacker starts: the reference it is judged against. */
let gatedBefore: DetectorRun;
let openBefore: DetectorRun;
beforeAll(async () => {
  compute = await testCompute();
  stream = poisonedStream(new World({ seed: 21 }));
  const create = () => offManifold.create(offManifold.configSchema.parse({}));
  const ungated = referenceSchema.parse({ gate: { enabled: false } });
  const before = stream.events.filter((e) => e.ts < stream.attack[0].ts);
  gated = runDetector(create(), stream.events, compute, 2_048);
  open = runDetector(create(), stream.events, compute, 2_048, undefined, ungated);
  gatedBefore = runDetector(create(), before, compute, 2_048);
  openBefore = runDetector(create(), before, compute, 2_048, undefined, ungated);
}, 120_000);

/** The calls the attacker made before off-manifold first scored it at throttle (−1: never). */
function callsToFire(run: DetectorRun): number {
  return stream.attack.findIndex((e) => run.scores.get(e.event_id)! >= THROTTLE);
}

/** The share of the model reference's members from the poisoners' /24, and how many members it has. */
function poisonShare(run: DetectorRun): { share: number; members: number; n: number } {
  const view = new ModelReference('credit-v3', referenceOf(run, 'credit-v3') as ModelReferenceState, DEFAULT_REFERENCE);
  const net = referenceHash(POISON_NET);
  let members = 0;
  for (let i = 0; i < view.n; i++) if (view.owners(i).network === net) members++;
  return { share: members / view.n, members, n: view.n };
}

describe('the model reference under baseline poisoning', () => {
  it('uses the poisoners\' /24 as the test means', () => {
    expect(ipPrefix('198.51.100.7')).toBe(POISON_NET);
  });

  it('with the feed gate: off-manifold fires on the uniform-random attacker within a few hundred queries, and the poisoners hold at most their cap', () => {
    const calls = callsToFire(gated);
    expect(calls).toBeGreaterThanOrEqual(0);
    expect(calls).toBeLessThan(300);
    for (const run of [gatedBefore, gated]) {
      const { members, n } = poisonShare(run);
      expect(n).toBeGreaterThan(DEFAULT_REFERENCE.size / 2);
      expect(members).toBeLessThanOrEqual(Math.ceil(DEFAULT_REFERENCE.gate.networkShare * DEFAULT_REFERENCE.size));
    }
    // The short-lived keys never fed it.
    const view = new ModelReference('credit-v3', referenceOf(gated, 'credit-v3') as ModelReferenceState, DEFAULT_REFERENCE);
    const shortKeys = new Set(Array.from({ length: 100 }, (_, k) => referenceHash(`short-${k}`)));
    for (let i = 0; i < view.n; i++) expect(shortKeys.has(view.owners(i).key)).toBe(false);
  });

  it('without the gate (reference.gate.enabled false) the same stream blinds off-manifold: the poisoners hold more than the cap when the attacker starts, and it is never flagged', () => {
    expect(callsToFire(open)).toBe(-1);
    expect(poisonShare(openBefore).share).toBeGreaterThan(DEFAULT_REFERENCE.gate.networkShare);
  });
});
