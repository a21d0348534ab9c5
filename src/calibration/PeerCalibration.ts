import { z } from 'zod';
import type { InferenceEvent } from '../contract.ts';
import { ipPrefix } from '../state/ipPrefix.ts';

export const calibrationSchema = z
  .object({
    /** Discount each behavioural score by how common it is among the model's other keys of similar volume. */
    enabled: z.boolean().default(true),
    /** Event-time length of an epoch: the peer table is read as it stood at the last epoch boundary. */
    epochMs: z.number().int().positive().default(300_000),
    /** Events a key needs before it is anyone's peer (short-lived keys never are). */
    minEvents: z.number().int().positive().default(50),
    /** Event time of activity at which a peer's vote is whole; younger keys vote in proportion (prefer long-lived keys). */
    fullVoteAfterMs: z.number().int().positive().default(6 * 3_600_000),
    /** A peer idle this long leaves the table. */
    idleMs: z.number().int().positive().default(24 * 3_600_000),
    /** Peer votes needed before any discount: with fewer, nothing is known to be common. */
    minVotes: z.number().positive().default(8),
    /**
     * The share p of peer votes scoring at least as high as the key: at or
     * below `commonLow` the score stands, at or above `commonHigh` it is 0,
     * and between it is scaled by log(commonHigh/p)/log(commonHigh/commonLow).
     */
    commonLow: z.number().gt(0).lt(1).default(0.15),
    commonHigh: z.number().gt(0).lte(1).default(0.5),
    /** A key whose calibrated score reaches this in any detector is remarkable and leaves the peer table until it falls back. */
    remarkableAt: z.number().min(0).max(1).default(0.5),
    /** Most keys kept per model (the least recently active leave first). */
    maxKeysPerModel: z.number().int().positive().default(4096),
    /** Most models with a peer table (the least recently seen model's table goes first). */
    maxModels: z.number().int().positive().default(256),
  })
  .strict()
  .refine((c) => c.commonLow < c.commonHigh, { message: 'commonLow must be below commonHigh', path: ['commonLow'] });
export type CalibrationConfig = z.output<typeof calibrationSchema>;

/** One key as a peer: its latest raw scores and where it stands. */
interface Peer {
  key: string;
  band: number;
  /** A plain array (of the detectors' count): a small typed array costs about twice the heap, in every key's entry. */
  scores: number[];
  firstTs: number;
  lastTs: number;
  network: string;
  tenant: string;
  remarkable: boolean;
  /** The client address `network` was derived from (not persisted: derived again after a reload). */
  ip?: string | null;
}

/** A model's peers as they stood at the last epoch boundary: per band and detector, scores sorted descending with cumulative votes. */
interface Frozen {
  epoch: number;
  /** band → detector → sorted scores (descending) and cumulative votes. */
  bands: Map<number, { scores: Float64Array[]; cumVotes: Float64Array[]; total: number }>;
  /** Each key's own entry at the fold, to leave it out of its own peers. */
  own: Map<string, { band: number; scores: number[]; vote: number }>;
}

/** A model's peer table and its frozen reading; saved with the model's aggregate entity (`toJSON`). */
class ModelPeers {
  peers = new Map<string, Peer>();
  frozen: Frozen | null = null;

  /** Plain JSON: peers in recency order, the frozen table as arrays (it cannot be rebuilt: it is the table at the boundary). */
  toJSON(): PeerTableJson {
    const f = this.frozen;
    return {
      v: PEER_TABLE_VERSION,
      peers: [...this.peers.values()].map((p) => [p.key, p.band, [...p.scores], p.firstTs, p.lastTs, p.network, p.tenant, p.remarkable]),
      frozen: f && {
        epoch: f.epoch,
        bands: [...f.bands].map(([band, b]) => [band, b.total, b.scores.map((x) => [...x]), b.cumVotes.map((x) => [...x])]),
        own: [...f.own].map(([key, o]) => [key, o.band, [...o.scores], o.vote]),
      },
    };
  }

  /** The table saved by `toJSON`, or null when `json` is not one (of this version, for `detectors` detectors). */
  static fromJson(json: unknown, detectors: number): ModelPeers | null {
    const j = json as PeerTableJson;
    if (!j || j.v !== PEER_TABLE_VERSION || !Array.isArray(j.peers)) return null;
    const m = new ModelPeers();
    for (const [key, band, scores, firstTs, lastTs, network, tenant, remarkable] of j.peers) {
      if (scores.length !== detectors) return null;
      m.peers.set(key, { key, band, scores: Array.from(scores), firstTs, lastTs, network, tenant, remarkable, ip: undefined });
    }
    if (j.frozen) {
      const bands: Frozen['bands'] = new Map();
      for (const [band, total, scores, cumVotes] of j.frozen.bands) {
        if (scores.length !== detectors || cumVotes.length !== detectors) return null;
        bands.set(band, { total, scores: scores.map((x) => Float64Array.from(x)), cumVotes: cumVotes.map((x) => Float64Array.from(x)) });
      }
      const own: Frozen['own'] = new Map(j.frozen.own.map(([key, band, scores, vote]) => [key, { band, scores: Array.from(scores), vote }]));
      m.frozen = { epoch: j.frozen.epoch, bands, own };
    }
    return m;
  }
}

const PEER_TABLE_VERSION = 1;

/** `ModelPeers` as saved: [key, band, scores, firstTs, lastTs, network, tenant, remarkable] per peer. */
interface PeerTableJson {
  v: number;
  peers: [string, number, number[], number, number, string, string, boolean][];
  frozen: { epoch: number; bands: [number, number, number[][], number[][]][]; own: [string, number, number[], number][] } | null;
}

/** Where a model's peer table lives: the model's aggregate entity (snapshotted with it), looked up per event. */
export type PeerTableHome = (modelId: string, ts: number) => Record<string, unknown>;

/** The slot of the model's aggregate entity holding its peer table. */
export const PEER_TABLE_SLOT = 'calibration';

/** What calibration did to one score. */
export interface Discount {
  /** Share of peer votes at or above the raw score. */
  common: number;
  votes: number;
  factor: number;
}

/**
 * Peer calibration: a behavioural detector's score means "this key is extreme
 * against the model's traffic" only if few of the model's other keys of
 * similar volume score as high. Each score is multiplied by a factor that is 1
 * while at most `commonLow` of the peer votes reach it and falls to 0 as that
 * share reaches `commonHigh` (where a statistic fires on a large part of a
 * deployment's honest keys, it cannot separate there, and abstains).
 *
 * The peer table is poisoning-resistant: a key is a peer only after
 * `minEvents` events; keys of one network (/24, /64) or one tenant share one
 * vote; young keys vote in proportion to their age; remarkable keys (any
 * calibrated score at `remarkableAt`) are left out; and the table is read as
 * it stood at the last event-time epoch boundary, so the output does not
 * depend on batch boundaries (events must be offered in event-time order).
 */
export class PeerCalibration {
  /** Models seen, by id, least recently seen first (at most `maxModels`). */
  private readonly models = new Map<string, ModelPeers>();
  /** `commonShare`'s answer. */
  private share = 0;
  private votes = 0;

  constructor(
    private readonly config: CalibrationConfig,
    /** Per detector: calibrated or passed through (rate and cross-key detectors keep their own scale). */
    private readonly calibrated: readonly boolean[],
    /**
     * The model's aggregate entity: the table is kept (and snapshotted, and restored after a restart) there,
     * so a restarted instance discounts at once instead of waiting for `minVotes` peers again. Without it
     * the tables live in this object only.
     */
    private readonly home?: PeerTableHome,
    /** Told when a saved table cannot be read (it is replaced by a fresh one). */
    private readonly onUnreadable?: (model: string) => void,
  ) {}

  /**
   * Calibrates one event's raw scores in place into `out` (same length),
   * writing each discount into `discounts`, then records the raw scores as the
   * key's latest. `eventsSeen` counts the key's events including this one.
   */
  apply(key: string, ev: InferenceEvent, eventsSeen: number, raw: ArrayLike<number>, out: Float64Array, discounts: (Discount | null)[]): void {
    const c = this.config;
    const model = this.model(ev.model_id, ev.ts);
    const band = bandOf(eventsSeen, c.minEvents);
    let remarkable = false;
    for (let d = 0; d < raw.length; d++) {
      const x = raw[d];
      discounts[d] = null;
      out[d] = x;
      if (!this.calibrated[d] || !(x > 0) || !c.enabled || !model.frozen) continue;
      if (!this.commonShare(model.frozen, key, band, d, x)) continue;
      const share = this.share;
      const factor = share <= c.commonLow ? 1 : share >= c.commonHigh ? 0 : Math.log(c.commonHigh / share) / Math.log(c.commonHigh / c.commonLow);
      out[d] = x * factor;
      if (factor < 1) discounts[d] = { common: share, votes: this.votes, factor };
      if (out[d] >= c.remarkableAt) remarkable = true;
    }
    if (!c.enabled) return;
    let peer = model.peers.get(key);
    if (!peer) {
      peer = { key, band, scores: new Array<number>(raw.length), firstTs: ev.ts, lastTs: ev.ts, network: '', tenant: '', remarkable: false, ip: undefined };
      model.peers.set(key, peer);
      if (model.peers.size > c.maxKeysPerModel) evictOldest(model.peers);
    }
    peer.band = band;
    for (let d = 0; d < raw.length; d++) peer.scores[d] = raw[d];
    peer.lastTs = ev.ts;
    if (peer.ip !== ev.client_ip || peer.network === '') {
      peer.ip = ev.client_ip;
      peer.network = ipPrefix(ev.client_ip) ?? `key:${key}`;
    }
    if (ev.tenant !== null && ev.tenant !== undefined) peer.tenant = ev.tenant;
    else if (!isKeyName(peer.tenant, key)) peer.tenant = `key:${key}`;
    peer.remarkable = remarkable;
    // Keep insertion order = recency order for eviction.
    model.peers.delete(key);
    model.peers.set(key, peer);
    if (eventsSeen < c.minEvents) peer.band = -1;
  }

  /** Keys held in all models' peer tables. */
  get size(): number {
    let n = 0;
    for (const m of this.models.values()) n += m.peers.size;
    return n;
  }

  private model(id: string, ts: number): ModelPeers {
    const entity = this.home?.(id, ts);
    const m = (entity ? this.tableIn(id, entity) : this.models.get(id)) ?? new ModelPeers();
    // Recency order for the `maxModels` cap.
    if (this.models.get(id) !== m || this.models.size > 1) {
      this.models.delete(id);
      this.models.set(id, m);
    }
    if (this.models.size > this.config.maxModels) this.models.delete(this.models.keys().next().value!);
    const epoch = Math.floor(ts / this.config.epochMs);
    if (!m.frozen || m.frozen.epoch < epoch) m.frozen = this.fold(m, epoch);
    return m;
  }

  /** The table kept in the model's entity: in place, read back from a snapshot, or new (an unreadable one is replaced and reported). */
  private tableIn(id: string, entity: Record<string, unknown>): ModelPeers {
    const saved = entity[PEER_TABLE_SLOT];
    if (saved instanceof ModelPeers) return saved;
    let m = saved === undefined ? null : ModelPeers.fromJson(saved, this.calibrated.length);
    if (saved !== undefined && !m) this.onUnreadable?.(id);
    m ??= new ModelPeers();
    entity[PEER_TABLE_SLOT] = m;
    return m;
  }

  /** The peer table at the start of `epoch`: every vote from events before it. */
  private fold(m: ModelPeers, epoch: number): Frozen {
    const c = this.config;
    const boundary = epoch * c.epochMs;
    for (const [key, p] of m.peers) if (boundary - p.lastTs > c.idleMs) m.peers.delete(key);
    const eligible = [...m.peers.values()].filter((p) => p.band >= 0 && !p.remarkable);
    const perNetwork = countBy(eligible, (p) => p.network);
    const perTenant = countBy(eligible, (p) => p.tenant);
    const own = new Map<string, { band: number; scores: number[]; vote: number }>();
    const byBand = new Map<number, { p: Peer; vote: number }[]>();
    for (const p of eligible) {
      const share = 1 / Math.max(perNetwork.get(p.network)!, perTenant.get(p.tenant)!);
      const vote = share * Math.min(1, (p.lastTs - p.firstTs) / c.fullVoteAfterMs);
      if (!(vote > 0)) continue;
      own.set(p.key, { band: p.band, scores: p.scores.slice(), vote });
      let list = byBand.get(p.band);
      if (!list) byBand.set(p.band, (list = []));
      list.push({ p, vote });
    }
    const bands: Frozen['bands'] = new Map();
    const detectors = this.calibrated.length;
    for (const [band, list] of byBand) {
      const scores: Float64Array[] = [];
      const cumVotes: Float64Array[] = [];
      const n = list.length;
      // Peers sorted by score, descending, as positions in `list` (sorted as the peers themselves would be: same comparisons, same order).
      const order: number[] = new Array(n);
      for (let d = 0; d < detectors; d++) {
        for (let i = 0; i < n; i++) order[i] = i;
        order.sort((i, j) => list[j].p.scores[d] - list[i].p.scores[d]);
        const sorted = new Float64Array(n);
        const cum = new Float64Array(n);
        let acc = 0;
        for (let i = 0; i < n; i++) {
          const x = list[order[i]];
          sorted[i] = x.p.scores[d];
          cum[i] = acc += x.vote;
        }
        scores.push(sorted);
        cumVotes.push(cum);
      }
      bands.set(band, { scores, cumVotes, total: list.reduce((a, x) => a + x.vote, 0) });
    }
    return { epoch, bands, own };
  }

  /**
   * Share of the votes of peers in the key's band and its neighbours (the key itself left out) scoring at least `x`,
   * into `share` and `votes` (fields: no object per event); false when there are too few votes.
   */
  private commonShare(f: Frozen, key: string, band: number, d: number, x: number): boolean {
    let above = 0;
    let total = 0;
    for (let b = band - 1; b <= band + 1; b++) {
      const entry = f.bands.get(b);
      if (!entry) continue;
      total += entry.total;
      const scores = entry.scores[d];
      const n = countAtLeast(scores, x);
      if (n > 0) above += entry.cumVotes[d][n - 1];
    }
    const self = f.own.get(key);
    if (self && Math.abs(self.band - band) <= 1) {
      total -= self.vote;
      if (self.scores[d] >= x) above -= self.vote;
    }
    if (total < this.config.minVotes) return false;
    this.share = Math.max(0, above) / total;
    this.votes = total;
    return true;
  }
}

/** Whether `name` is `key:${key}` (the stand-in for a missing tenant or network), without building that string. */
function isKeyName(name: string, key: string): boolean {
  return name.length === key.length + 4 && name.startsWith('key:') && name.endsWith(key);
}

/** Volume band: doublings of the key's event count past `minEvents` (band 0 below 2 × minEvents). */
function bandOf(eventsSeen: number, minEvents: number): number {
  return Math.max(0, Math.min(12, Math.floor(Math.log2(Math.max(1, eventsSeen / minEvents)))));
}

/** Entries of a descending array that are ≥ x. */
function countAtLeast(desc: Float64Array, x: number): number {
  let lo = 0;
  let hi = desc.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (desc[mid] >= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function countBy<T>(items: readonly T[], keyOf: (t: T) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of items) out.set(keyOf(t), (out.get(keyOf(t)) ?? 0) + 1);
  return out;
}

function evictOldest(peers: Map<string, Peer>): void {
  const first = peers.keys().next();
  if (!first.done) peers.delete(first.value);
}
