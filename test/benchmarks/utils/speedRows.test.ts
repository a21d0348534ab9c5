import { describe, expect, it } from 'vitest';
import { atLeast, ratioText, SPEED_HEADERS, speedRows } from '../../../benchmarks/utils/speedRows.ts';

describe('speed table rows', () => {
  it('ratios and the "at least" bar', () => {
    expect(ratioText(5_000, 125_000)).toBe('0.040×');
    expect(atLeast(31_250, 125_000, 0.25)).toBe(true);
    expect(atLeast(31_249, 125_000, 0.25)).toBe(false);
    expect(atLeast(1, 0, 0.25)).toBe(false);
  });

  it('says when --workers was not measured, and never meets a bar it did not measure', () => {
    const rows = speedRows({ replay: { rounds: 3, events: 1000, parseEps: 100_000, replayEps: 30_000 } });
    expect(rows).toHaveLength(2);
    expect(rows[0].at(-1)).toBe('yes');
    expect(rows[1][1]).toMatch(/not measured/);
    expect(rows[1].at(-1)).toBe('no');
    for (const r of rows) expect(r).toHaveLength(SPEED_HEADERS.length);
  });

  it('shows the pipeline\'s own floor (volume only, no detectors) beside the replay bar, without a bar of its own', () => {
    const rows = speedRows({ replay: { rounds: 3, events: 1000, parseEps: 100_000, replayEps: 10_000, volumeOnlyEps: 22_000, noDetectorsEps: 25_000 } });
    expect(rows).toHaveLength(4);
    expect(rows[2][0]).toMatch(/volume detector only/);
    expect(rows[2][3]).toBe(ratioText(22_000, 100_000));
    expect(rows[3][0]).toMatch(/no detectors/);
    expect(rows[3].at(-1)).toBe('—');
    for (const r of rows) expect(r).toHaveLength(SPEED_HEADERS.length);
  });

  it('workers 2 with different output fails the bar whatever its speed', () => {
    const rows = speedRows({ replay: { rounds: 1, events: 1, parseEps: 100, replayEps: 50, workers2: { eps: 90, identicalOutput: false } } });
    expect(rows[1][0]).toMatch(/DIFFERENT/);
    expect(rows[1].at(-1)).toBe('no');
  });

  it('offered load: an undrained run gives lower bounds and fails; a drained one is judged on p99 against 2× raw', () => {
    const base = { rate: 10_000, seconds: 15, offeredRaw: 10_000, offeredRun: 10_000, raw: { samples: 150_000, p50: 20, p99: 100 } };
    const behind = speedRows({ load: [{ ...base, run: { samples: 500, p50: 50, p99: 150, backlogAtEnd: 90_000, drained: false, drainSeconds: 30 } }] })[0];
    expect(behind[1]).toMatch(/^≥ 50 ms \/ ≥ 150 ms/);
    expect(behind.at(-1)).toBe('no');
    const ok = speedRows({ load: [{ ...base, run: { samples: 500, p50: 50, p99: 200, read: { samples: 500, p50: 600, p99: 1_200 }, backlogAtEnd: 0, drained: true, drainSeconds: 0.2 } }] })[0];
    expect(ok[3]).toBe('2.0× (p99)');
    // The bench's own read of the risk topic is shown, not judged.
    expect(ok[1]).toMatch(/read back from the risk topic by the bench: 600 ms \/ 1,200 ms/);
    expect(ok.at(-1)).toBe('yes');
    const notOffered = speedRows({ load: [{ ...base, offeredRun: 827, run: { samples: 500, p50: 50, p99: 150, backlogAtEnd: 0, drained: true, drainSeconds: 0.2 } }] })[0];
    expect(notOffered[1]).toMatch(/827\/s offered \(the rate was NOT reached\)/);
    expect(notOffered.at(-1)).toBe('no');
    const slow = speedRows({ load: [{ ...base, run: { samples: 500, p50: 50, p99: 201, backlogAtEnd: 0, drained: true, drainSeconds: 0.2 } }] })[0];
    expect(slow.at(-1)).toBe('no');
    // Drained only after the producer stopped, with more than 2 s of the rate still to commit: not sustained, whatever the ratio.
    const lagging = speedRows({ load: [{ ...base, run: { samples: 500, p50: 50, p99: 150, backlogAtEnd: 20_001, drained: true, drainSeconds: 9 } }] })[0];
    expect(lagging[1]).toMatch(/NOT sustained/);
    expect(lagging.at(-1)).toBe('no');
    const justKeptUp = speedRows({ load: [{ ...base, run: { samples: 500, p50: 50, p99: 150, backlogAtEnd: 20_000, drained: true, drainSeconds: 2 } }] })[0];
    expect(justKeptUp.at(-1)).toBe('yes');
  });

  it('bytes: heap and buffers together against the bar', () => {
    const k = (heap: number, buffers: number, history: number) => ({ keys: 10, history, heap, buffers });
    const rows = speedRows({ bytes: { idle: k(3_000, 1_000, 3), idleBase: k(500, 0, 3), active: k(20_000, 5_000, 1000), activeBase: k(2_000, 0, 1000) } });
    expect(rows[0][1]).toBe('3.9 kB (2.9 kB + 1.0 kB)');
    expect(rows[0].at(-1)).toBe('yes');
    expect(rows[1].at(-1)).toBe('no');
    expect(rows).toHaveLength(2);
    const primed = speedRows({ bytes: { idle: k(3_000, 1_000, 3), idleBase: k(500, 0, 3), active: k(20_000, 5_000, 1000), activeBase: k(2_000, 0, 1000), activePrimed: { ...k(9_000, 1_000, 1000), primed: true } } });
    expect(primed).toHaveLength(3);
    expect(primed[2][0]).toMatch(/^bytes per active key \(1000 events each, 10 keys, after a primer of the same traffic/);
    expect(primed[2][1]).toBe('9.8 kB (8.8 kB + 1.0 kB)');
    const someHeld = speedRows({ bytes: { idle: k(3_000, 1_000, 3), idleBase: k(500, 0, 3), active: { ...k(20_000, 5_000, 1000), packed: 8 }, activeBase: k(2_000, 0, 1000), idleQuiet: { ...k(1_000, 0, 3), quiet: true, packed: 10 } } });
    expect(someHeld[1][0]).toMatch(/^bytes per active key \(1000 events each, 10 keys, 8 of them held packed at the reading/);
    expect(someHeld[2][0]).toMatch(/then quiet past state.packAfterIdleMs \(held packed\)\): heap/);
    expect(speedRows({ bytes: { idle: { ...k(3_000, 1_000, 3), packed: 0 }, idleBase: k(500, 0, 3), active: k(20_000, 5_000, 1000), activeBase: k(2_000, 0, 1000) } })[0][0]).toBe('bytes per idle key (3 events each, 10 keys): heap + array buffers');
  });
});
