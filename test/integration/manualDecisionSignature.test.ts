import { describe, expect, it } from 'vitest';
import { loadDecisionKey } from '../../src/codec/decisionSignature.ts';
import type { Decision } from '../../src/contract.ts';
import { DecisionReader } from '../../src/gateway/DecisionReader.ts';
import { ManualDecisionStore } from '../../src/sinks/ManualDecisionStore.ts';
import { deletePrefix, onCleanup, testRedis, uniqueName, waitFor } from './helpers.ts';

const key = loadDecisionKey({ PROBEWATCH_DECISION_KEY: 'base64:' + Buffer.alloc(32, 9).toString('base64') })!;

function manual(subject: string, level: Decision['level']): Decision {
  return { api_key: subject, level, reason: 'SOC test', expires_at: Date.now() + 600_000, shadow: false, manual: true, scope: 'key' } as Decision;
}

describe('manual decisions under a decision-signing key', () => {
  it('are signed by the store, applied by a reader holding the key, and forged ones are dropped', async () => {
    const keyPrefix = `${uniqueName('pw-manualsig')}:`;
    const channel = `${keyPrefix}decisions`;
    const redis = testRedis(keyPrefix);
    onCleanup(() => deletePrefix(redis, keyPrefix));
    const signed = new ManualDecisionStore(redis, { keyPrefix, channel, signingKey: key });
    const unsigned = new ManualDecisionStore(redis, { keyPrefix, channel });
    await signed.put(manual('leaked', 'block'));
    await unsigned.put(manual('forged', 'allow'));

    const reader = new DecisionReader(testRedis(keyPrefix), { keyPrefix, channel, heartbeatMs: 200, signingKey: key });
    onCleanup(() => reader.close());
    expect(await reader.start()).toBe(true);
    await waitFor(() => reader.decisionFor('leaked').enforce === 'block', 'the signed manual block at the gateway', 10_000);
    expect(reader.decisionFor('forged').source).not.toBe('manual');
    // The signing store itself ignores what it did not sign.
    expect((await signed.list()).map((d) => d.api_key)).toEqual(['leaked']);
    // Announced live on the channel too: a later signed decision reaches the running reader.
    await signed.put(manual('later', 'throttle'));
    await waitFor(() => reader.decisionFor('later').enforce === 'throttle', 'the announced signed throttle', 10_000);
    await unsigned.put(manual('later-forged', 'block'));
    await new Promise((r) => setTimeout(r, 500));
    expect(reader.decisionFor('later-forged').enforce).not.toBe('block');
  });
});
