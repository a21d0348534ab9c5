import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/contract.ts';
import { decisionCodec } from '../../src/codec/contractCodecs.ts';
import { DecisionCache } from '../../src/gateway/DecisionCache.ts';
import { parseDecisionMessage } from '../../src/sinks/RedisDecisionStore.ts';

const NOW = 1_767_600_000_000;
const auto = (api_key: string, level: Decision['level'], shadow = false): Decision => ({ api_key, level, reason: `risk of ${api_key}`, expires_at: NOW + 60_000, shadow });
const manual = (api_key: string, level: Decision['level'], scope?: Decision['scope'], ttl = 60_000): Decision => ({
  api_key,
  level,
  reason: `analyst on ${api_key}`,
  expires_at: NOW + ttl,
  shadow: false,
  manual: true,
  ...(scope ? { scope } : {}),
});

describe("gateway decision cache with analysts' decisions", () => {
  it("lets a manual key decision win over the ladder's, whichever arrives last, and falls back once it is removed", () => {
    let now = NOW;
    const cache = new DecisionCache({}, () => now);
    cache.apply(manual('k', 'allow'));
    cache.apply(auto('k', 'truncate'));
    expect(cache.decisionFor('k')).toMatchObject({ enforce: 'allow', source: 'manual', reason: 'analyst on k' });
    cache.apply(manual('k', 'block'));
    expect(cache.decisionFor('k').enforce).toBe('block');
    // Removal is announced as the manual decision, expired.
    cache.apply({ ...manual('k', 'block'), expires_at: now });
    expect(cache.decisionFor('k')).toMatchObject({ enforce: 'truncate', source: 'decision' });
    cache.apply(manual('k', 'throttle', undefined, 1_000));
    now += 1_001;
    expect(cache.decisionFor('k').enforce).toBe('truncate');
  });

  it('treats group block and throttle as floors and group allow as an allowlist entry', () => {
    const cache = new DecisionCache({}, () => NOW);
    cache.apply(manual('192.0.2.0/24', 'throttle', 'prefix'));
    cache.apply(manual('initech', 'allow', 'tenant'));
    cache.apply(auto('deceiver', 'deceive'));
    cache.apply(auto('truncated', 'truncate'));
    const fromNet = { clientIp: '192.0.2.9', tenant: 'acme' };
    expect(cache.decisionFor('quiet', fromNet)).toMatchObject({ enforce: 'throttle', source: 'manual' });
    expect(cache.decisionFor('quiet', { clientIp: '198.51.100.1' }).source).toBe('default');
    expect(cache.decisionFor('quiet').source).toBe('default');
    // A floor does not lower a stricter decision of the ladder.
    expect(cache.decisionFor('deceiver', fromNet).enforce).toBe('deceive');
    // The tenant's allow holds its keys at allow, unless a floor applies too.
    expect(cache.decisionFor('truncated', { tenant: 'initech' })).toMatchObject({ enforce: 'allow', source: 'manual' });
    expect(cache.decisionFor('truncated', { tenant: 'initech', clientIp: '192.0.2.1' }).enforce).toBe('truncate');
    cache.apply(manual('192.0.2.0/24', 'block', 'prefix'));
    expect(cache.decisionFor('deceiver', fromNet).enforce).toBe('block');
    // A manual key decision beats any group's.
    cache.apply(manual('deceiver', 'allow'));
    expect(cache.decisionFor('deceiver', fromNet).enforce).toBe('allow');
  });

  it('keeps manual and automatic decisions apart in a snapshot, keyed by their slots', () => {
    const cache = new DecisionCache({}, () => NOW);
    const m = manual('acme', 'block', 'tenant');
    cache.install(new Map([['k', auto('k', 'throttle')], ['manual:tenant:acme', m]]));
    expect(cache.decisionFor('k', { tenant: 'acme' }).enforce).toBe('block');
    expect(cache.decisionFor('k').enforce).toBe('throttle');
    expect(cache.size).toBe(2);
    // A manual key decision notified while the next snapshot loaded survives it; one not notified is replaced by the snapshot's view.
    cache.apply(manual('j', 'block'));
    cache.apply(manual('k', 'block'));
    cache.install(new Map([['k', auto('k', 'observe')]]), new Set(['manual:key:j']));
    expect(cache.decisionFor('j')).toMatchObject({ enforce: 'block', source: 'manual' });
    expect(cache.decisionFor('k')).toMatchObject({ enforce: 'observe', source: 'decision' });
    expect(cache.decisionFor('k', { tenant: 'acme' }).enforce).toBe('observe');
  });

  it('carries manual and scope through Avro and the pub/sub JSON, absent when not set', () => {
    const m = manual('2001:db8::/32', 'block', 'prefix');
    expect(decisionCodec.decode(decisionCodec.encode(m))).toEqual(m);
    expect(parseDecisionMessage(JSON.stringify(m))).toEqual(m);
    const a = auto('k', 'observe');
    expect(decisionCodec.decode(decisionCodec.encode(a))).toEqual(a);
    expect(parseDecisionMessage(JSON.stringify({ ...m, scope: 'planet' }))).toBeUndefined();
  });
});
