import { serialize } from 'node:v8';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialLadderState } from '../../src/policy/ResponseLadder.ts';
import { KeyStatePacker } from '../../src/state/KeyStatePacker.ts';
import { eventIdDigest, type KeyState } from '../../src/state/KeyStateStore.ts';

/** Leaves of what detectors keep: plain JSON and beyond it (typed arrays, -0, NaN, `undefined`, strings with lone surrogates). */
const leaf = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, NaN, Infinity, -Infinity, 2 ** 53, undefined, null, true, false),
  fc.string({ unit: 'binary' }),
  fc.float64Array({ maxLength: 8 }),
  fc.float32Array({ maxLength: 8 }),
  fc.uint8Array({ maxLength: 8 }),
  fc.int32Array({ maxLength: 8 }),
);

const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 5, noNullPrototype: true }),
    fc.sparseArray(tie('value'), { maxLength: 5 }),
    fc.array(fc.tuple(fc.oneof(fc.string(), fc.integer()), tie('value')), { maxLength: 3 }).map((pairs) => new Map(pairs)),
    fc.array(fc.oneof(fc.string(), fc.double()), { maxLength: 4 }).map((xs) => new Set(xs)),
  ),
}));

const keyState: fc.Arbitrary<KeyState> = fc
  .record({
    key: fc.string({ unit: 'binary', minLength: 1 }),
    eventsSeen: fc.nat(),
    lastTs: fc.integer({ min: 0, max: 2 ** 45 }),
    detectors: fc.dictionary(fc.string(), value, { maxKeys: 9, noNullPrototype: true }),
    scores: fc.dictionary(fc.string(), fc.double({ min: 0, max: 1 }), { noNullPrototype: true }),
    evidence: fc.dictionary(fc.string(), fc.array(fc.string(), { maxLength: 3 }), { noNullPrototype: true }),
    risk: fc.double({ min: 0, max: 1 }),
    ladder: fc.constant(initialLadderState()),
    recentIds: fc.array(fc.double(), { maxLength: 20 }),
    recentHead: fc.nat(19),
    sourceOffsets: fc.option(fc.dictionary(fc.nat(63).map(String), fc.bigInt({ min: 0n }).map(String), { noNullPrototype: true }), { nil: undefined }),
    tenant: fc.option(fc.string(), { nil: undefined }),
  }, { noNullPrototype: true })
  .map((s) => {
    // An optional property absent, not present as `undefined`: what the pipeline writes.
    if (s.sourceOffsets === undefined) delete s.sourceOffsets;
    if (s.tenant === undefined) delete s.tenant;
    return s;
  });

describe('KeyStatePacker', () => {
  it('unpacks exactly what it packed (property: any state, one packer for many states)', () => {
    const packer = new KeyStatePacker();
    fc.assert(
      fc.property(keyState, (state) => {
        const packed = packer.pack(state);
        expect(packer.unpack(packed)).toStrictEqual(state);
        expect(packed).toMatchObject({ key: state.key, lastTs: state.lastTs, risk: state.risk, level: state.ladder.level });
        expect(packed.partitions).toEqual(Object.keys(state.sourceOffsets ?? {}).map(Number));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps -0, undefined properties, holes, Maps and lone surrogates, which the snapshot sections lose', () => {
    const state: KeyState = {
      key: 'k\ud800',
      eventsSeen: 3,
      lastTs: 1,
      detectors: { d: { z: -0, u: undefined, holes: [1, , 3], m: new Map([[1, 'a']]), s: new Set([2]), f: new Float32Array([0.1]) } },
      scores: {},
      evidence: {},
      risk: 0,
      ladder: initialLadderState(),
      recentIds: [],
      recentHead: 0,
    };
    const packer = new KeyStatePacker();
    const back = packer.unpack(packer.pack(state));
    expect(back).toStrictEqual(state);
    const d = back.detectors.d as { z: number; u: unknown; holes: unknown[] };
    expect(Object.is(d.z, -0)).toBe(true);
    expect('u' in d).toBe(true);
    expect(1 in d.holes).toBe(false);
  });

  it('gives typed arrays buffers of their own, exactly their bytes (a view into the decoded bytes would keep them all alive)', () => {
    const f32 = new Float32Array([0.1, 0.2, 0.3]);
    const state = { key: 'k', eventsSeen: 0, lastTs: 0, detectors: { a: { f32, again: f32, list: [new Uint8Array([1, 2, 3]), new Float64Array(5)], pad: 'x'.repeat(30_000) } }, scores: {}, evidence: {}, risk: 0, ladder: initialLadderState(), recentIds: [], recentHead: 0 } as KeyState;
    const packer = new KeyStatePacker();
    const back = packer.unpack(packer.pack(state));
    expect(back).toStrictEqual(state);
    const a = back.detectors.a as { f32: Float32Array; again: Float32Array; list: ArrayBufferView[] };
    expect(a.again).toBe(a.f32);
    for (const view of [a.f32, ...a.list]) {
      expect(view.byteOffset).toBe(0);
      expect(view.buffer.byteLength).toBe(view.byteLength);
    }
  });

  it('keeps an array shared between two places of a state one array, and a cycle a cycle', () => {
    const shared = [0.5, 1.5];
    const loop: Record<string, unknown> = { n: 1 };
    loop.self = loop;
    const state = { key: 'k', eventsSeen: 0, lastTs: 0, detectors: { a: { x: shared, y: shared, loop } }, scores: {}, evidence: {}, risk: 0, ladder: initialLadderState(), recentIds: [2.5], recentHead: 0 } as KeyState;
    const packer = new KeyStatePacker();
    const back = packer.unpack(packer.pack(state));
    const a = back.detectors.a as { x: number[]; y: number[]; loop: Record<string, unknown> };
    expect(a.x).toBe(a.y);
    expect(a.x).toEqual([0.5, 1.5]);
    expect(a.loop.self).toBe(a.loop);
    expect(back.recentIds).toEqual([2.5]);
  });

  it('packs states small: deflate over the first quiet-sized state packed as a dictionary, for what every key repeats', () => {
    const vector = (seed: number) => Buffer.from(Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * seed)).buffer).toString('base64');
    const state = (key: string, shift: number): KeyState => ({
      key,
      eventsSeen: 3,
      lastTs: 1_700_000_000_000 + shift,
      detectors: { a: { rows: vector(shift + 1), moments: 'AAAA'.repeat(100), n: 3 }, b: { rows: vector(shift + 1), last: { model: 'credit-v3', sketch: vector(shift + 1).slice(0, 40) } } },
      scores: { a: 0, b: 0.25 },
      evidence: { a: [], b: ['b: 3 of 3 queries repeat'] },
      risk: 0.25,
      ladder: initialLadderState(),
      recentIds: [1.5, 2.5, 3.5],
      recentHead: 0,
    });
    const packer = new KeyStatePacker();
    // A long-lived key's state is no dictionary (mostly its own vectors): packed before one is taken, it still comes back.
    const big = { ...state('big', 7), detectors: { a: { rows: 'x'.repeat(20_000) } } };
    const bigPacked = packer.pack(big);
    packer.pack(state('k0', 0));
    expect(packer.unpack(bigPacked)).toStrictEqual(big);
    const second = packer.pack(state('k1', 1));
    const alone = deflateRawSync(serialize(state('k1', 1))).length;
    // Its own rows (256 bytes as 344 base64 characters), once: the copy, the names and the zeros cost next to nothing.
    expect(second.bytes.length).toBeLessThan(400);
    expect(second.bytes.length).toBeLessThan(alone * 0.8);
    expect(JSON.stringify(state('k1', 1)).length).toBeGreaterThan(1_400);
    expect(packer.unpack(second)).toStrictEqual(state('k1', 1));
  });

  it('packs a long dedup ring as byte planes: back as the same numbers, a seventh smaller than as doubles', () => {
    const ids = Array.from({ length: 256 }, (_, i) => eventIdDigest(`event-${i}`));
    const state: KeyState = { key: 'busy', eventsSeen: 1_000, lastTs: 5, detectors: {}, scores: {}, evidence: {}, risk: 0, ladder: initialLadderState(), recentIds: ids, recentHead: 17 };
    const quiet: KeyState = { ...state, key: 'quiet', eventsSeen: 3, recentIds: ids.slice(0, 3), recentHead: 0 };
    const packer = new KeyStatePacker();
    // The quiet state is the packer's dictionary, as it would be in the pipeline.
    packer.pack(quiet);
    const packed = packer.pack(state);
    const back = packer.unpack(packed);
    expect(back).toStrictEqual(state);
    expect(Array.isArray(back.recentIds)).toBe(true);
    // 52 bits a digest is 1,664 bytes of information; as doubles the ring deflates to about 2.2 kB.
    const asDoubles = deflateRawSync(serialize(state), { dictionary: serialize(quiet) }).length;
    expect(asDoubles).toBeGreaterThan(2_100);
    expect(packed.bytes.length).toBeLessThan(asDoubles * 0.9);
    // A ring of other numbers (an older form, or anything not a digest) is packed as it is.
    const odd = { ...state, recentIds: [...ids.slice(1), 0.5] };
    expect(packer.unpack(packer.pack(odd))).toStrictEqual(odd);
  });

  it('packs long states deflated too: a long-lived key\'s base64 vectors lose about a quarter', () => {
    const rows = (seed: number) => Buffer.from(Float32Array.from({ length: 6_000 }, (_, i) => Math.sin(i * seed + seed)).buffer).toString('base64');
    const long = (key: string, seed: number): KeyState => ({ key, eventsSeen: 1_000, lastTs: seed, detectors: { a: { rows: rows(seed) }, b: { rows: rows(seed + 1), n: 1_000 } }, scores: {}, evidence: {}, risk: 0, ladder: initialLadderState(), recentIds: [], recentHead: 0 });
    const packer = new KeyStatePacker();
    // Before a dictionary was taken and after.
    const first = packer.pack(long('a', 1));
    packer.pack({ ...long('small', 3), detectors: {} });
    const second = packer.pack(long('b', 2));
    for (const [packed, state] of [[first, long('a', 1)], [second, long('b', 2)]] as const) {
      const raw = serialize(state).length;
      expect(raw).toBeGreaterThan(60_000);
      expect(packed.bytes.length).toBeLessThan(raw * 0.8);
      expect(packer.unpack(packed)).toStrictEqual(state);
    }
  });

  it('packs long states after the first over its end as a dictionary: smaller than alone, and back the same', () => {
    // Many parts, each named once, with float32 rows of its own (incompressible), as a long-lived key's detectors keep them.
    const long = (key: string, seed: number): KeyState => {
      let x = seed;
      const next = () => (x = (x * 16_807) % 2_147_483_647) / 2_147_483_647;
      const part = (i: number) => ({ [`rowsOfPart${i}`]: Float32Array.from({ length: 40 }, next), [`countOf${i}`]: i, [`shareOf${i}`]: { [`valueOf${i}`]: next(), [`epochOf${i}`]: 12 } });
      const detectors = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`detector-${i % 12}-${Math.floor(i / 12)}`, part(i)]));
      return { key, eventsSeen: 1_000, lastTs: seed, detectors, scores: {}, evidence: {}, risk: 0, ladder: initialLadderState(), recentIds: [], recentHead: 0 };
    };
    const packer = new KeyStatePacker();
    const first = packer.pack(long('a', 1));
    const second = packer.pack(long('b', 2));
    const raw = serialize(long('b', 2));
    expect(raw.length).toBeGreaterThan(16_384);
    const alone = deflateRawSync(raw, { level: 1 }).length;
    expect(second.bytes.length).toBeLessThan(alone * 0.9);
    expect(packer.unpack(first)).toStrictEqual(long('a', 1));
    expect(packer.unpack(second)).toStrictEqual(long('b', 2));
  });
});
