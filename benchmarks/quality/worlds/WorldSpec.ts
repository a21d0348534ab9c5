import { loadCarsData } from '../data/carsData.ts';
import type { LabelledRecord } from '../data/LabelledRecord.ts';
import { loadPenguinsData } from '../data/penguinsData.ts';
import { type SyntheticOptions, syntheticData } from '../data/syntheticData.ts';
import type { TabularData } from '../data/TabularData.ts';
import { Rng } from '../Rng.ts';
import { buildVictimWorld, type VictimWorld } from '../Victim.ts';
import { loadWeatherData } from '../weatherData.ts';

/** Where a world's data comes from: a real table an npm package ships, or a synthetic structure drawn from the seed. */
export type DataSource = { kind: 'weather' } | { kind: 'penguins' } | { kind: 'cars' } | ({ kind: 'synthetic' } & Omit<SyntheticOptions, 'seed'>);

/** The model behind the API: an MLP with these hidden layers, or softmax (logistic) regression when there are none. */
export interface VictimKind {
  /** For tables: `mlp 32-32`, `softmax`. */
  name: string;
  hidden: readonly number[];
  /** Training examples seen (epochs = passes / rows). */
  passes: number;
}

export const SOFTMAX: VictimKind = { name: 'softmax', hidden: [], passes: 30_000 };
export const MLP_16: VictimKind = { name: 'mlp 16', hidden: [16], passes: 30_000 };
export const MLP_64: VictimKind = { name: 'mlp 64', hidden: [64], passes: 30_000 };
export const MLP_32_32: VictimKind = { name: 'mlp 32-32', hidden: [32, 32], passes: 40_000 };
export const MLP_16_16: VictimKind = { name: 'mlp 16-16', hidden: [16, 16], passes: 30_000 };

/** Victims a world may draw from its seed. */
export const VICTIM_KINDS: readonly VictimKind[] = [SOFTMAX, MLP_16, MLP_64, MLP_32_32, MLP_16_16];

/** One world of the family: what data, which model, which seed (the seed also draws a synthetic world's structure). */
export interface WorldSpec {
  /** Name in tables, e.g. `penguins` or `synth-70-20-10`. */
  name: string;
  data: DataSource;
  /** A victim kind, or `drawn`: one of `VICTIM_KINDS` picked by the seed. */
  victim: VictimKind | 'drawn';
  seed: number;
}

/** A built world and what it was built from. */
export interface BuiltWorld {
  spec: WorldSpec;
  victimKind: VictimKind;
  /** The data set's description (source, split, synthetic structure). */
  description: string;
  world: VictimWorld;
}

const tables = new Map<string, TabularData>();

/** Real tables are read once per process. */
function realTable(kind: 'weather' | 'penguins' | 'cars'): TabularData {
  let t = tables.get(kind);
  if (!t) tables.set(kind, (t = kind === 'weather' ? loadWeatherData() : kind === 'penguins' ? loadPenguinsData() : loadCarsData()));
  return t;
}

/** The world's data: the real table, or the synthetic one drawn from the spec's seed and name. */
export function worldData(spec: WorldSpec): TabularData<LabelledRecord> {
  if (spec.data.kind !== 'synthetic') return realTable(spec.data.kind);
  const { kind: _kind, ...options } = spec.data;
  return syntheticData({ ...options, seed: new Rng(spec.seed).fork(`data-${spec.name}`).seed });
}

/** Builds the data, trains the victim (seeded, on the tfjs cpu backend) and measures it. */
export function buildWorld(spec: WorldSpec, passesScale = 1): BuiltWorld {
  const data = worldData(spec);
  const victimKind = spec.victim === 'drawn' ? new Rng(spec.seed).fork(`victim-${spec.name}`).pick(VICTIM_KINDS) : spec.victim;
  const world = buildVictimWorld(data, {
    seed: spec.seed,
    hidden: victimKind.hidden,
    passes: Math.round(victimKind.passes * passesScale),
    modelId: `${spec.name}-${victimKind.name.replace(/\s+/g, '-')}`,
  });
  return { spec, victimKind, description: data.description, world };
}
