/**
 * bench:newcomers — how often key succession links an honest newcomer to a
 * flagged key, at the worst timing. The family's worlds start every honest
 * key on the first day, before any campaign, so no honest key there is ever
 * fresh as a flagged key goes quiet, and `bench:worlds` cannot see this
 * risk. Here, for every key of a recorded world that reached throttle, an
 * honest newcomer starts 1–60 s after that key's last call, scripted at its
 * median pace (±2%), sending `--calls` consecutive calls copied from an
 * honest machine-paced key of the same world (a batch scorer, a stratified
 * validation team or a regression tester: their queries and the model's
 * answers as recorded, under the newcomer's own key, tenant and network),
 * the source's calls nearest in time to the newcomer's start.
 * Each world is replayed once as recorded (which keys reach throttle) and
 * once with its newcomers; a newcomer's risk is its own evidence plus
 * whatever a link carries.
 *
 * `npm run bench:newcomers -- --events DIR [--calls 100] [--seed 1] [--probewatch PATH]`
 * (DIR: worlds written by `npm run bench:worlds -- … --events DIR`;
 * `--probewatch`: another tree's `bin/probewatch`, for an A/B on the same
 * newcomers). Prints a table per world; nothing is written to RESULTS.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config/loadConfig.ts';
import { Rng } from './quality/Rng.ts';
import { ROOT } from './utils/broker.ts';
import { describeMachine } from './utils/machine.ts';
import { markdownTable } from './utils/table.ts';
import { median } from './utils/timing.ts';

/** Honest populations whose keys call at a script's pace, as a flagged campaign does. */
const SCRIPTED = new Set(['batch scorers', 'stratified validation teams', 'regression testers']);

interface Recorded {
  ts: number;
  api_key: string;
  [field: string]: unknown;
}

interface Scored {
  api_key: string;
  risk: number;
  evidence: string[];
}

export interface WorldNewcomers {
  world: string;
  newcomers: number;
  linked: number;
  /** Linked on the nearer test / on the answer test (the evidence says which). */
  byTest: { queries: number; answers: number };
  atThrottle: number;
  atTruncate: number;
  /** Newcomers at ≥ truncate that were not linked (their own evidence). */
  truncateUnlinked: number;
  /** The world's own honest keys at ≥ truncate, as recorded and with the newcomers among them (the newcomers feed the reference, the peers and the groups too). */
  honestAtTruncate: { before: number; after: number };
}

function replay(bin: string, file: string): Scored[] {
  const r = spawnSync(bin, ['replay', file], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${bin} replay ${file} exited with ${r.status}: ${r.stderr.slice(-2_000)}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Scored);
}

function readKeys(file: string): Map<string, { label: string; population: string }> {
  const [header, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
  if (header !== 'api_key,label,population') throw new Error(`${file}: unexpected header ${header}`);
  return new Map(
    rows.map((row) => {
      const [key, label, ...pop] = row.split(',');
      return [key, { label, population: pop.join(',') }];
    }),
  );
}

/** The world's events with one newcomer after each key that reached `throttle` (their names start `newc-`). */
export function withNewcomers(events: readonly Recorded[], keys: ReadonlyMap<string, { label: string; population: string }>, flagged: ReadonlySet<string>, calls: number, rng: Rng): Recorded[] {
  const byKey = new Map<string, Recorded[]>();
  for (const e of events) {
    let list = byKey.get(e.api_key);
    if (!list) byKey.set(e.api_key, (list = []));
    list.push(e);
  }
  const sources = [...keys].filter(([k, r]) => r.label === 'benign' && SCRIPTED.has(r.population) && (byKey.get(k)?.length ?? 0) >= calls + 50).map(([k]) => k);
  if (sources.length === 0) throw new Error('no scripted honest key with enough calls to copy');
  const out = [...events];
  let i = 0;
  for (const key of [...flagged].sort()) {
    const ts = (byKey.get(key) ?? []).map((e) => e.ts);
    if (ts.length < 8) continue;
    const last = ts.slice(-32);
    const gap = median(last.slice(1).map((t, j) => t - last[j]));
    const from = byKey.get(rng.pick(sources))!;
    let t = ts[ts.length - 1] + rng.uniform(1_000, 60_000);
    // The source's calls nearest in time to the newcomer's first: a world's natural records may follow the clock
    // (weather by season), and content moved in time would be off the traffic for that reason alone.
    let at = 0;
    for (let j = 1; j + calls <= from.length; j++) if (Math.abs(from[j].ts - t) < Math.abs(from[at].ts - t)) at = j;
    const name = `newc-${String(i).padStart(3, '0')}`;
    for (let n = 0; n < calls; n++) {
      out.push({ ...from[at + n], api_key: name, tenant: `${name}-t`, client_ip: `10.77.${i % 250}.${1 + Math.floor(i / 250)}`, event_id: `${name}-${n}`, ts: Math.round(t), enforcement: null });
      t += gap * rng.uniform(0.98, 1.02);
    }
    i++;
  }
  return out.sort((a, b) => a.ts - b.ts);
}

/** The keys labelled benign that reached `truncate`. */
export function honestAtTruncate(scored: readonly Scored[], keys: ReadonlyMap<string, { label: string }>, truncate: number): number {
  const hit = new Set<string>();
  for (const s of scored) if (s.risk >= truncate && keys.get(s.api_key)?.label === 'benign') hit.add(s.api_key);
  return hit.size;
}

export function judgeNewcomers(world: string, scored: readonly Scored[], thresholds: { throttle: number; truncate: number }, honest = { before: 0, after: 0 }): WorldNewcomers {
  const names = new Set<string>();
  const linked = new Map<string, 'queries' | 'answers'>();
  const throttle = new Set<string>();
  const truncate = new Set<string>();
  for (const s of scored) {
    if (!s.api_key.startsWith('newc-')) continue;
    names.add(s.api_key);
    if (s.risk >= thresholds.throttle) throttle.add(s.api_key);
    if (s.risk >= thresholds.truncate) truncate.add(s.api_key);
    const link = s.evidence.find((e) => e.startsWith('succession:'));
    if (link && !linked.has(s.api_key)) linked.set(s.api_key, link.includes("first answers") ? 'answers' : 'queries');
  }
  const byTest = { queries: 0, answers: 0 };
  for (const how of linked.values()) byTest[how]++;
  return {
    world,
    newcomers: names.size,
    linked: linked.size,
    byTest,
    atThrottle: throttle.size,
    atTruncate: truncate.size,
    truncateUnlinked: [...truncate].filter((k) => !linked.has(k)).length,
    honestAtTruncate: honest,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      calls: { type: 'string', default: '100' },
      seed: { type: 'string', default: '1' },
      probewatch: { type: 'string', default: join(ROOT, 'bin/probewatch') },
    },
  });
  if (!values.events) throw new Error('--events DIR is required (worlds written by bench:worlds --events)');
  const dir = values.events;
  const calls = Number(values.calls);
  if (!Number.isSafeInteger(calls) || calls < 16) throw new Error(`--calls must be an integer of at least 16, got ${values.calls}`);
  const thresholds = parseConfig({}).policy.thresholds;
  const tmp = mkdtempSync(join(tmpdir(), 'pw-newcomers-'));
  const rows: WorldNewcomers[] = [];
  try {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ndjson')).sort()) {
      const world = file.replace(/\.ndjson$/, '');
      const keys = readKeys(join(dir, `${world}.keys.csv`));
      const events = readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Recorded);
      const recorded = replay(values.probewatch, join(dir, file));
      const flagged = new Set(recorded.filter((s) => s.risk >= thresholds.throttle).map((s) => s.api_key));
      const injected = join(tmp, file);
      writeFileSync(injected, withNewcomers(events, keys, flagged, calls, new Rng(Number(values.seed)).fork(world)).map((e) => JSON.stringify(e)).join('\n') + '\n');
      const scored = replay(values.probewatch, injected);
      const honest = { before: honestAtTruncate(recorded, keys, thresholds.truncate), after: honestAtTruncate(scored, keys, thresholds.truncate) };
      const row = judgeNewcomers(world, scored, thresholds, honest);
      rows.push(row);
      process.stderr.write(`${world}: ${row.newcomers} newcomers, ${row.linked} linked, ${row.atTruncate} at ≥ truncate\n`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const total = rows.reduce(
    (t, r) => ({ n: t.n + r.newcomers, l: t.l + r.linked, q: t.q + r.byTest.queries, a: t.a + r.byTest.answers, th: t.th + r.atThrottle, tr: t.tr + r.atTruncate, u: t.u + r.truncateUnlinked, hb: t.hb + r.honestAtTruncate.before, ha: t.ha + r.honestAtTruncate.after }),
    { n: 0, l: 0, q: 0, a: 0, th: 0, tr: 0, u: 0, hb: 0, ha: 0 },
  );
  const table = markdownTable(
    ['world', 'newcomers', 'linked (nearer / answers)', '≥ throttle', '≥ truncate', 'of them not linked', "the world's own honest keys at ≥ truncate, without → with newcomers"],
    [
      ...rows.map((r) => [r.world, r.newcomers, `${r.linked} (${r.byTest.queries} / ${r.byTest.answers})`, r.atThrottle, r.atTruncate, r.truncateUnlinked, `${r.honestAtTruncate.before} → ${r.honestAtTruncate.after}`]),
      ['**all**', total.n, `**${total.l}** (${total.q} / ${total.a})`, total.th, total.tr, total.u, `${total.hb} → ${total.ha}`],
    ],
  );
  process.stdout.write(`Honest newcomers at every flagged key's handover (${calls} calls each, seed ${values.seed}; ${values.probewatch}) · ${describeMachine()} · ${new Date().toISOString()}\n\n${table}\n`);
}
