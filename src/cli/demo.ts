import { closeSync, openSync, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { formatEventLine } from '../codec/ndjson.ts';
import { AvroEventCodec } from '../codec/AvroEventCodec.ts';
import { createKernels } from '../compute/createKernels.ts';
import type { Config } from '../config/configSchema.ts';
import { type Decision, type InferenceEvent, levelRank, type RiskScore } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';
import { createMetrics } from '../observability/metrics.ts';
import { DetectionPipeline } from '../pipeline/DetectionPipeline.ts';
import { InMemorySink } from '../sinks/InMemorySink.ts';
import { type ServedCounts, SimulatedGateway } from '../sim/SimulatedGateway.ts';
import { SimulatedTraffic } from '../sim/SimulatedTraffic.ts';
import { InMemoryTopic } from '../sources/InMemoryTopic.ts';

export interface DemoOptions {
  minutes: number;
  /** Simulated seconds per real second; 0 runs as fast as possible. */
  speed: number;
  seed: number;
  out: Writable;
  /** File to write every event the gateways sent to, as NDJSON (what `probewatch replay` reads). */
  record?: string;
}

const TICK_MS = 5_000;

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * `probewatch demo`: simulated gateways answer calls through the SDK's
 * enforcer at each key's current decision and encode the events as Avro
 * onto an in-memory topic; the real decode → detectors → fusion → ladder
 * pipeline consumes it in batches, sends bad bytes to an in-memory
 * dead-letter topic, and publishes risk scores and decisions to in-memory
 * sinks, from which the gateways take the decisions. Level changes are
 * printed as they happen, and at the end what each key's callers received.
 */
export async function demo(config: Readonly<Config>, options: DemoOptions): Promise<number> {
  const out = options.out;
  const start = Date.UTC(2026, 0, 5, 9, 0, 0);
  const traffic = new SimulatedTraffic(start, options.seed);
  const roles = traffic.roles();
  const codec = new AvroEventCodec();
  const events = new InMemoryTopic(config.kafka.topics.events);
  const dlq = new InMemoryTopic(config.kafka.topics.dlq);
  const metrics = createMetrics();
  const compute = await createKernels(config.compute);
  const pipeline = new DetectionPipeline(config, { compute, metrics });
  const previous = new Map<string, RiskScore['level']>();
  const risks = new InMemorySink<RiskScore>((r) => {
    const from = previous.get(r.api_key) ?? 'allow';
    previous.set(r.api_key, r.level);
    const arrow = levelRank(r.level) > levelRank(from) ? '▲' : '▼';
    out.write(
      `[${clock(r.ts - start)}] ${arrow} ${r.api_key.padEnd(16)} (${roles.get(r.api_key)}) ${from} → ${r.level}  risk ${r.risk.toFixed(2)} after ${r.events_seen} calls\n` +
        r.evidence.slice(0, 3).map((e) => `             ${e}\n`).join(''),
    );
  });
  const gateway = new SimulatedGateway();
  const decisions = new InMemorySink<Decision>((d) => gateway.receive([d]));

  out.write(
    `probewatch demo: ${roles.size} simulated clients for ${options.minutes} simulated minutes on the ${compute.backend} backend\n` +
      `  detectors: ${pipeline.detectors.map((d) => d.name).join(', ')}; ladder thresholds ${JSON.stringify(config.policy.thresholds)}\n\n`,
  );
  const recording = options.record === undefined ? undefined : openRecording(options.record);
  const end = start + options.minutes * 60_000;
  let malformed = 0;
  for (let t = start + TICK_MS; t <= end; t += TICK_MS) {
    // The gateways: encode this tick's calls; now and then one sends garbage.
    const sent = traffic.until(t).map((e) => gateway.serve(e));
    for (const e of sent) events.produce(e.api_key, codec.encode(e));
    if (recording !== undefined && sent.length) writeSync(recording, sent.map((e) => formatEventLine(e) + '\n').join(''));
    if ((t - start) % 600_000 === 0) events.produce('broken-gateway', Buffer.from('{"not":"avro"}'));
    // probewatch: poll, decode, detect, publish, commit.
    const batch = events.poll(10_000);
    const decoded: InferenceEvent[] = [];
    for (const m of batch) {
      try {
        decoded.push(codec.decode(m.value));
      } catch (err) {
        if (!(err instanceof ProbewatchError)) throw err;
        malformed++;
        metrics.deadLetters.inc({ code: err.code });
        dlq.produce(m.key, m.value);
      }
    }
    const result = pipeline.processBatch(decoded);
    await risks.publish(result.changes);
    await decisions.publish(result.decisions);
    if (batch.length) events.commit(batch[batch.length - 1].offset + 1);
    if (options.speed > 0) await new Promise((r) => setTimeout(r, (TICK_MS / options.speed)));
  }

  out.write(`\nAfter ${options.minutes} simulated minutes (${malformed} malformed messages dead-lettered):\n`);
  out.write(`  ${'key'.padEnd(16)} ${'role'.padEnd(9)} ${'calls'.padStart(6)} ${'risk'.padStart(5)}  level     ${'top detector'.padEnd(22)} what the gateway answered\n`);
  for (const s of pipeline.finalScores()) {
    const top = Object.entries(s.detectors).sort((a, b) => b[1] - a[1])[0];
    const topText = top && top[1] > 0 ? `${top[0]} ${top[1].toFixed(2)}` : '-';
    out.write(
      `  ${s.api_key.padEnd(16)} ${String(roles.get(s.api_key)).padEnd(9)} ${String(s.events_seen).padStart(6)} ${s.risk.toFixed(2).padStart(5)}  ${s.level.padEnd(9)} ${topText.padEnd(22)} ${served(gateway.countsFor(s.api_key))}\n`,
    );
  }
  out.write(`  decisions published: ${decisions.items.length}\n`);
  if (recording !== undefined) {
    closeSync(recording);
    out.write(`  events recorded to ${options.record}: try  probewatch replay ${options.record}\n`);
  }
  return 0;
}

function openRecording(file: string): number {
  try {
    return openSync(file, 'w');
  } catch (cause) {
    throw new ProbewatchError('PW_USAGE', `cannot write the --record file ${file}: ${(cause as Error).message}`, { cause });
  }
}

function served(c: ServedCounts): string {
  const parts = [`${c.untouched} untouched`];
  if (c.refused) parts.push(`${c.refused} refused (429)`);
  if (c.truncated) parts.push(`${c.truncated} truncated`);
  if (c.deceived) parts.push(`${c.deceived} deceived`);
  if (c.blocked) parts.push(`${c.blocked} blocked`);
  return parts.join(', ');
}
