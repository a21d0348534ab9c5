import { describe, expect, it } from 'vitest';
import type { Detector } from '../../detectors/types.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import type { Decision } from '../../src/contract.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { ManualDecisionBook } from '../../src/policy/ManualDecisionBook.ts';
import { burst } from '../helpers/events.ts';

const compute = { backend: 'none' } as Compute;
const loud = {
  name: 'grid-sweep',
  // A signature: this test is about manual decisions, so one detector may drive the key to truncate.
  signature: true,
  initState: () => ({}),
  processBatch: (groups: { events: unknown[] }[]) => groups.map((g) => ({ scores: g.events.map(() => 0.8), evidence: ['loud'] })),
} as unknown as Detector;
const T0 = 1_767_600_000_000;
const allow = (api_key: string, scope: Decision['scope'] | undefined, until: number): Decision => ({
  api_key,
  level: 'allow',
  reason: 'ticket 42',
  expires_at: until,
  shadow: false,
  manual: true,
  ...(scope ? { scope } : {}),
});

describe('ManualDecisionBook and the ladder', () => {
  it('holds a key at allow while a manual allow on it, its tenant or its network lasts, and lets the ladder act after', () => {
    const book = new ManualDecisionBook();
    const pipeline = new DetectionPipeline(parseConfig({}), { compute, detectors: [loud], manual: book });
    book.replace([allow('k', undefined, T0 + 10_000), allow('acme', 'tenant', T0 + 1e9), allow('192.0.2.0/24', 'prefix', T0 + 1e9)]);
    const out = pipeline.processBatch([
      ...burst('k', 5, T0, 1_000),
      ...burst('t', 3, T0, 1_000, { tenant: 'acme' }),
      ...burst('n', 3, T0, 1_000, { client_ip: '192.0.2.50' }),
      ...burst('other', 3, T0, 1_000, { client_ip: '198.51.100.1', tenant: 'globex' }),
    ]);
    const level = (k: string) => pipeline.store.peek(k)!.ladder.level;
    expect([level('k'), level('t'), level('n'), level('other')]).toEqual(['allow', 'allow', 'allow', 'truncate']);
    expect(out.decisions.filter((d) => d.api_key !== 'other')).toEqual([]);
    // The key's own entry lapses at T0 + 10 s: from then on the ladder acts.
    pipeline.processBatch(burst('k', 2, T0 + 11_000, 1_000));
    expect(level('k')).toBe('truncate');
  });

  it("does not let a group's allow undo an analyst's block on the key itself", () => {
    const book = new ManualDecisionBook();
    book.replace([{ ...allow('k', undefined, T0 + 1e9), level: 'block' }, allow('acme', 'tenant', T0 + 1e9)]);
    expect(book.allowed('k', 'acme', null, T0)).toBeUndefined();
    expect(book.allowed('j', 'acme', null, T0)).toBe('manual tenant:acme: ticket 42');
    expect(book.applying('k', 'acme', null, T0).map((d) => d.level)).toEqual(['block', 'allow']);
  });
});
