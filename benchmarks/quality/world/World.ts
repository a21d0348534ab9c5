import { type InferenceEvent, type Level } from '../../../src/contract.ts';
import type { DetectionPipeline } from '../../../src/pipeline/DetectionPipeline.ts';
import { argmax } from '../Classifier.ts';
import type { Victim } from '../Victim.ts';
import type { Enforcement } from './Enforcement.ts';
import type { Gateway } from './Gateway.ts';
import type { Actor, ActorKind, Answer, Exchange, KeyIdentity, QueryApi } from './types.ts';

/** A key's level change as one pipeline published it. */
export interface LevelChange {
  /** The key's calls so far, this one included. */
  eventsSeen: number;
  ts: number;
  level: Level;
  risk: number;
  detectors: Record<string, number>;
}

/** Everything recorded about one API key. */
export interface KeyTrace {
  key: string;
  actorId: string;
  population: string;
  kind: ActorKind;
  /** Event time of each of the key's calls, in order. */
  times: number[];
  /** Level changes, per pipeline name. */
  changes: Record<string, LevelChange[]>;
  /** (calls so far, risk) after each poll that touched the key, primary pipeline. */
  risk: [number, number][];
  /** Per detector: the key's call count when that detector's own score first reached `fireScore`. */
  firstFire: Record<string, number>;
  /** Per detector: the key's highest score at the end of a poll (primary pipeline). */
  maxScore: Record<string, number>;
}

export interface ActorRecord {
  actor: Actor;
  /** Answered calls (attackers only; their surrogates are trained on these). */
  exchanges: Exchange[];
  calls: number;
  /** Calls whose returned top-1 differed from the model's (enforcement cost). */
  altered: number;
  /** Calls refused (status ≥ 400). */
  refused: number;
}

export interface WorldRecord {
  keys: Map<string, KeyTrace>;
  actors: ActorRecord[];
  events: number;
  polls: number;
}

export interface PipelineUnderTest {
  name: string;
  pipeline: DetectionPipeline;
}

export interface WorldOptions {
  victim: Victim;
  gateway: Gateway;
  enforcement: Enforcement;
  /** The first pipeline decides the levels the gateway enforces; the others only observe (baselines). */
  pipelines: readonly PipelineUnderTest[];
  /** Event-time length of one consumer poll: levels reach the gateway at poll boundaries. */
  pollMs: number;
  /** A detector "fires" when its own score reaches this (the throttle threshold). */
  fireScore: number;
  /** Every event, in processing order (to write NDJSON for `probewatch replay`). */
  onEvent?: (event: InferenceEvent) => void;
}

interface Request {
  order: number;
  record: ActorRecord;
  key: KeyIdentity;
  xs: readonly number[][];
  times: readonly number[];
  probs: number[][];
  answers: Answer[];
  idx: number;
  resolve: (answers: Answer[]) => void;
}

/**
 * A discrete-event simulation of clients, gateway and probewatch in event
 * time. Actors run as coroutines: each call to `query` blocks the actor
 * until the world reaches those calls' times. Calls from all actors are
 * answered in global time order; the answer passes through the enforcement
 * of the key's level as the primary pipeline last published it, and the
 * gateway's event goes to every pipeline, one batch per poll window (the
 * same `DetectionPipeline.processBatch` that `probewatch replay` runs).
 */
export class World {
  private readonly levels = new Map<string, Level>();
  private readonly traces = new Map<string, KeyTrace>();
  private queue: InferenceEvent[] = [];
  private now = -Infinity;
  private events = 0;
  private polls = 0;

  constructor(private readonly options: WorldOptions) {}

  async run(actors: readonly Actor[]): Promise<WorldRecord> {
    const records: ActorRecord[] = actors.map((actor) => ({ actor, exchanges: [], calls: 0, altered: 0, refused: 0 }));
    for (const r of records) {
      for (const key of r.actor.keys) {
        if (this.traces.has(key.apiKey)) throw new Error(`api key ${key.apiKey} used by two actors`);
        this.traces.set(key.apiKey, {
          key: key.apiKey,
          actorId: r.actor.id,
          population: r.actor.population,
          kind: r.actor.kind,
          times: [],
          changes: Object.fromEntries(this.options.pipelines.map((p) => [p.name, []])),
          risk: [],
          firstFire: {},
          maxScore: {},
        });
      }
    }
    const pending: Request[] = [];
    let running = records.length;
    let wake: (() => void) | undefined;
    let failure: unknown;
    const block = () => {
      running--;
      if (running === 0 && wake) {
        const w = wake;
        wake = undefined;
        w();
      }
    };
    records.forEach((record, order) => {
      const lastTs = { value: -Infinity };
      const api: QueryApi = {
        query: (key, xs, times) =>
          new Promise<Answer[]>((resolve, reject) => {
            try {
              this.validate(record, key, xs, times, lastTs.value);
            } catch (err) {
              reject(err);
              return;
            }
            if (xs.length === 0) {
              resolve([]);
              return;
            }
            lastTs.value = times[times.length - 1];
            pending.push({ order, record, key, xs, times, probs: this.options.victim.predict(xs), answers: [], idx: 0, resolve });
            block();
          }),
      };
      record.actor.run(api).then(block, (err) => {
        failure ??= err;
        block();
      });
    });

    let rounds = 0;
    for (;;) {
      if (running > 0) await new Promise<void>((r) => (wake = r));
      if (failure) throw failure;
      if (pending.length === 0) break;
      // Every actor is blocked here, so a turn of the event loop changes nothing in the simulation; it lets the
      // process answer its own messages (a test runner's heartbeats) during a long run.
      if (++rounds % 512 === 0) await new Promise<void>((r) => setImmediate(r));
      // Answer calls in event-time order until some request is complete; its actor then runs on.
      for (;;) {
        let best = 0;
        for (let i = 1; i < pending.length; i++) {
          const a = pending[i];
          const b = pending[best];
          const ta = a.times[a.idx];
          const tb = b.times[b.idx];
          if (ta < tb || (ta === tb && a.order < b.order)) best = i;
        }
        const req = pending[best];
        this.answer(req);
        if (req.idx === req.times.length) {
          pending.splice(best, 1);
          running++;
          req.resolve(req.answers);
          break;
        }
      }
    }
    this.flush(Infinity);
    return { keys: this.traces, actors: records, events: this.events, polls: this.polls };
  }

  private validate(record: ActorRecord, key: KeyIdentity, xs: readonly number[][], times: readonly number[], last: number): void {
    if (!record.actor.keys.some((k) => k.apiKey === key.apiKey)) throw new Error(`${record.actor.id} used a key it does not own: ${key.apiKey}`);
    if (xs.length !== times.length) throw new RangeError(`${record.actor.id}: ${xs.length} inputs but ${times.length} times`);
    for (let i = 0; i < times.length; i++) {
      const prev = i === 0 ? Math.max(last, this.now) : times[i - 1];
      if (!(times[i] >= prev)) throw new RangeError(`${record.actor.id}: call time ${times[i]} is before ${prev} (times must not go back)`);
    }
  }

  private answer(req: Request): void {
    const { pollMs, enforcement, gateway } = this.options;
    const i = req.idx++;
    const ts = req.times[i];
    this.now = ts;
    // Decisions reach the gateway at poll boundaries: process every completed poll window first.
    this.flush(Math.floor(ts / pollMs) * pollMs);
    const level = this.levels.get(req.key.apiKey) ?? 'allow';
    const probs = req.probs[i];
    const unprotected: Answer = { probs, label: argmax(probs), status: 200 };
    const answer = enforcement.apply(level, unprotected, { apiKey: req.key.apiKey, x: req.xs[i], ts });
    req.answers.push(answer);
    const r = req.record;
    r.calls++;
    if (answer.status >= 400) r.refused++;
    else if (answer.label !== unprotected.label) r.altered++;
    if (r.actor.kind === 'attack') r.exchanges.push({ key: req.key.apiKey, ts, x: req.xs[i] as number[], answer, unprotected, level });
    const trace = this.traces.get(req.key.apiKey)!;
    trace.times.push(ts);
    // The gateway reports the model's own answer beside an altered one (the SDK sends it only then).
    const event = gateway.event(req.key, req.xs[i], answer, ts, `${req.key.apiKey}-${trace.times.length}`, enforcement.active && level !== 'allow' ? level : null, unprotected);
    this.queue.push(event);
    this.events++;
    this.options.onEvent?.(event);
  }

  /** Processes queued events with ts < `before`, one pipeline batch per poll window. */
  private flush(before: number): void {
    const { pollMs, pipelines } = this.options;
    let start = 0;
    while (start < this.queue.length && this.queue[start].ts < before) {
      const window = Math.floor(this.queue[start].ts / pollMs);
      let end = start + 1;
      while (end < this.queue.length && this.queue[end].ts < before && Math.floor(this.queue[end].ts / pollMs) === window) end++;
      this.process(this.queue.slice(start, end));
      start = end;
    }
    if (start > 0) this.queue = this.queue.slice(start);
  }

  private process(batch: InferenceEvent[]): void {
    this.polls++;
    this.options.pipelines.forEach(({ name, pipeline }, p) => {
      const out = pipeline.processBatch(batch);
      for (const change of out.changes) {
        const trace = this.traces.get(change.api_key);
        if (!trace) continue;
        trace.changes[name].push({ eventsSeen: change.events_seen, ts: change.ts, level: change.level, risk: change.risk, detectors: { ...change.detectors } });
        if (p === 0) this.levels.set(change.api_key, change.level);
      }
      if (p !== 0) return;
      for (const key of out.touched) {
        const state = pipeline.store.peek(key);
        const trace = this.traces.get(key);
        if (!state || !trace) continue;
        trace.risk.push([state.eventsSeen, state.risk]);
        for (const [detector, score] of Object.entries(state.scores)) {
          if (score >= this.options.fireScore && !(detector in trace.firstFire)) trace.firstFire[detector] = state.eventsSeen;
          if (score > (trace.maxScore[detector] ?? 0)) trace.maxScore[detector] = score;
        }
      }
    });
  }
}
