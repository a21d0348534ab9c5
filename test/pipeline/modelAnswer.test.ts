import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { replay } from '../../src/cli/replay.ts';
import { formatEventLine, parseEventLine } from '../../src/codec/ndjson.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { SimulatedTraffic } from '../../src/sim/SimulatedTraffic.ts';
import { TextSink } from '../../src/sinks/TextSink.ts';

/**
 * What a gateway reports when it alters every other answer: truncated to
 * the top-1 label, or deceived (the top class swapped for the next one),
 * with the model's own answer beside it or not.
 */
function altered(events: readonly InferenceEvent[], withModel: boolean): InferenceEvent[] {
  return events.map((e, n) => {
    if (n % 2 === 0 || e.output_probs.length < 2) return e;
    const out: InferenceEvent = { ...e };
    if (n % 4 === 1) {
      out.enforcement = 'truncate';
      out.output_probs = [];
    } else {
      const wrong = (e.output_label + 1) % e.output_probs.length;
      const probs = [...e.output_probs];
      [probs[e.output_label], probs[wrong]] = [probs[wrong], probs[e.output_label]];
      out.enforcement = 'deceive';
      out.output_probs = probs;
      out.output_label = wrong;
    }
    if (withModel) {
      out.model_label = e.output_label;
      out.model_probs = e.output_probs;
    }
    return out;
  });
}

async function replayed(events: readonly InferenceEvent[], workers?: number): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'pw-model-answer-')), 'events.ndjson');
  writeFileSync(file, events.map(formatEventLine).join('\n') + '\n');
  const sink = new TextSink();
  const discard = new Writable({ write: (_c, _e, done) => done() });
  await replay(file, parseConfig({}), { out: sink, err: discard, batchSize: 500, workers, now: Date.UTC(2026, 0, 6) });
  return sink.text;
}

describe("the model's own answer beside an altered one", () => {
  const start = Date.UTC(2026, 0, 5, 9);
  const events = new SimulatedTraffic(start, 11, 40).until(start + 40 * 60_000);

  it('survives NDJSON as written and leaves other events as they were', () => {
    const [plain, changed] = altered(events, true).slice(0, 2).map((e) => parseEventLine(formatEventLine(e)));
    expect(plain).not.toHaveProperty('model_label');
    expect(changed.model_label).toBe(events[1].output_label);
    expect(changed.model_probs).toEqual(events[1].output_probs);
  });

  it('gives every detector what the unaltered stream gave it: the same RiskScores, byte for byte, in process and on a worker', async () => {
    const original = await replayed(events);
    const lines = original.trim().split('\n').map((l) => JSON.parse(l));
    // Worth comparing: output statistics speak in this stream.
    expect(lines.some((r) => r.evidence.some((s: string) => /^(boundary-probing|entropy|output-drift): /.test(s)))).toBe(true);
    expect(await replayed(altered(events, true))).toBe(original);
    expect(await replayed(altered(events, true), 1)).toBe(original);
    // Without the model's answer, half the answers say nothing of the model and the output goes another way.
    expect(await replayed(altered(events, false))).not.toBe(original);
  }, 300_000);
});
