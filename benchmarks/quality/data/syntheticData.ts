import { Rng } from '../Rng.ts';
import { gaussianKernel } from './GaussianKernel.ts';
import type { LabelledRecord } from './LabelledRecord.ts';
import { roundTo } from './RecordKernel.ts';
import type { TabularData } from './TabularData.ts';

/** How a drawn class prior looks: equal, nearly equal, one dominant class, or a random Dirichlet(1) draw. */
export type PriorShape = 'balanced' | 'near-uniform' | 'skewed' | 'dirichlet';

/** Where labels come from: the mixture component that drew the row, or a random teacher network on the features. */
export type LabelSource = 'mixture' | 'teacher';

/** What a synthetic world fixes; everything left out is drawn from the seed. */
export interface SyntheticOptions {
  seed: number;
  /** 2–10 (drawn when absent; the prior's length when a prior is given). */
  classes?: number;
  /** Explicit class prior (normalised), e.g. [0.7, 0.2, 0.1]. */
  prior?: readonly number[];
  priorShape?: PriorShape;
  /** Raw features, 4–64. */
  features?: number;
  labels?: LabelSource;
  /** Home rows (default 2,000). */
  rows?: number;
  /** Foreign rows (default 1,000). */
  foreignRows?: number;
}

/** The structure a synthetic world was drawn with (for the report and the tests). */
export interface SyntheticStructure {
  classes: number;
  prior: number[];
  priorShape: PriorShape | 'given';
  features: number;
  /** Rank of the latent space the features are mixed from (correlated features when below `features`). */
  latent: number;
  /** Mixture components per class. */
  components: number[];
  labels: LabelSource;
  /** Length of the foreign data's mean shift, in units of the class means' separation. */
  shift: number;
  /** Class prior of the foreign rows' generating process. */
  foreignPrior: number[];
}

export interface SyntheticData extends TabularData {
  readonly structure: SyntheticStructure;
}

const MIN_CLASSES = 2;
const MAX_CLASSES = 10;
const MIN_FEATURES = 4;
const MAX_FEATURES = 64;
/** Drawn priors keep every class at this share at least, so each has rows to learn from. */
const MIN_DRAWN_SHARE = 0.01;

function normalise(p: readonly number[]): number[] {
  const s = p.reduce((a, b) => a + b, 0);
  return p.map((v) => v / s);
}

function floorShares(p: readonly number[], floor: number): number[] {
  return normalise(p.map((v) => Math.max(v, floor)));
}

/** A prior of the given shape over `k` classes. */
export function drawPrior(shape: PriorShape, k: number, rng: Rng): number[] {
  switch (shape) {
    case 'balanced':
      return new Array<number>(k).fill(1 / k);
    case 'near-uniform':
      return normalise(Array.from({ length: k }, () => 1 + rng.uniform(-0.15, 0.15)));
    case 'skewed': {
      const major = rng.uniform(0.6, 0.95);
      const ratio = rng.uniform(0.3, 0.8);
      const rest = normalise(Array.from({ length: k - 1 }, (_, i) => ratio ** i)).map((v) => v * (1 - major));
      return floorShares(rng.shuffled([major, ...rest]), MIN_DRAWN_SHARE);
    }
    case 'dirichlet':
      return floorShares(Array.from({ length: k }, () => rng.exponential(1)), MIN_DRAWN_SHARE);
  }
}

/** Row counts per class summing to `n`, by largest remainder. */
export function exactCounts(prior: readonly number[], n: number): number[] {
  const raw = prior.map((p) => p * n);
  const counts = raw.map(Math.floor);
  const order = raw.map((v, i) => [v - Math.floor(v), i] as const).sort((a, b) => b[0] - a[0]);
  for (let i = 0; counts.reduce((a, b) => a + b, 0) < n; i++) counts[order[i % order.length][1]]++;
  return counts;
}

type Matrix = number[][];

function gaussianMatrix(rows: number, cols: number, rng: Rng, scale = 1): Matrix {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => scale * rng.normal()));
}

function times(m: Matrix, v: readonly number[]): number[] {
  return m.map((row) => row.reduce((s, a, j) => s + a * v[j], 0));
}

/** One mixture component in latent space: z = mean + spread·u, u standard normal. */
interface Component {
  label: number;
  mean: number[];
  spread: Matrix;
}

/**
 * A synthetic world's data, drawn from the seed: a Gaussian mixture in a
 * latent space of rank r (1–3 components per class, each with its own
 * random covariance), mixed into d raw features by a random matrix plus
 * per-feature noise — so features are correlated — then each feature put
 * in its own units (random scale and offset, about a third log-normal and
 * positive) and rounded to a resolution of about 1% of its spread. Labels
 * come from the mixture (the component's class, with exact class counts)
 * or from a random one-hidden-layer teacher on the features whose biases
 * are fitted to the prior. The foreign rows come from the same process
 * with every class mean moved by one random shift and another class prior:
 * a population the model has not seen.
 */
export function syntheticData(options: SyntheticOptions): SyntheticData {
  const rng = new Rng(options.seed).fork('synthetic-data');
  const k = options.prior?.length ?? options.classes ?? rng.int(MIN_CLASSES, MAX_CLASSES);
  if (!Number.isInteger(k) || k < MIN_CLASSES || k > MAX_CLASSES) throw new RangeError(`synthetic classes must be an integer in [${MIN_CLASSES}, ${MAX_CLASSES}], got ${k}`);
  if (options.prior && (options.prior.some((p) => !(p > 0)) || options.classes !== undefined && options.classes !== k)) {
    throw new RangeError(`synthetic prior must be ${options.classes ?? k} positive shares, got [${options.prior.join(', ')}]`);
  }
  const shape: PriorShape | 'given' = options.prior ? 'given' : (options.priorShape ?? rng.pick<PriorShape>(['balanced', 'near-uniform', 'skewed', 'dirichlet']));
  const prior = options.prior ? normalise(options.prior) : drawPrior(shape as PriorShape, k, rng.fork('prior'));
  const d = options.features ?? rng.int(MIN_FEATURES, MAX_FEATURES);
  if (!Number.isInteger(d) || d < MIN_FEATURES || d > MAX_FEATURES) throw new RangeError(`synthetic features must be an integer in [${MIN_FEATURES}, ${MAX_FEATURES}], got ${d}`);
  const labels = options.labels ?? rng.pick<LabelSource>(['mixture', 'teacher']);
  const rows = options.rows ?? 2000;
  const foreignRows = options.foreignRows ?? 1000;

  const r = Math.max(2, Math.round(d * rng.uniform(0.3, 0.8)));
  // Mean coordinates of spread separation/r^¼ put two class means about separation·√2·r^¼ apart: a few within-class
  // spreads, so classes overlap as in real tables instead of parting ever further as the rank grows (spread·√(2r)).
  const separation = rng.uniform(0.9, 1.9);
  const meanSpread = separation / r ** 0.25;
  const components: Component[] = [];
  const perClass = Array.from({ length: k }, () => rng.int(1, 3));
  perClass.forEach((m, label) => {
    for (let c = 0; c < m; c++) {
      const spread = gaussianMatrix(r, r, rng, rng.uniform(0.2, 0.6) / Math.sqrt(r));
      for (let i = 0; i < r; i++) spread[i][i] += rng.uniform(0.4, 0.9);
      components.push({ label, mean: Array.from({ length: r }, () => meanSpread * rng.normal()), spread });
    }
  });
  const mixing = gaussianMatrix(d, r, rng, 1 / Math.sqrt(r));
  const noise = Array.from({ length: d }, () => rng.uniform(0.1, 0.5));
  const shiftSize = rng.uniform(1, 2);
  const direction = Array.from({ length: r }, () => rng.normal());
  const norm = Math.sqrt(direction.reduce((s, v) => s + v * v, 0));
  const shift = direction.map((v) => (v / norm) * shiftSize * separation);
  const foreignPrior = floorShares(prior.map((p) => p * rng.exponential(1)), MIN_DRAWN_SHARE);

  const drawRow = (component: Component, offset: readonly number[] | undefined, g: Rng): number[] => {
    const u = Array.from({ length: r }, () => g.normal());
    const z = times(component.spread, u).map((v, i) => v + component.mean[i] + (offset?.[i] ?? 0));
    return times(mixing, z).map((v, j) => v + noise[j] * g.normal());
  };
  const byClass = (label: number) => components.filter((c) => c.label === label);
  /** Rows of one process: the class counts fixed by `p` (mixture labels) or components drawn uniformly (teacher labels). */
  const drawSet = (n: number, p: readonly number[], offset: readonly number[] | undefined, g: Rng): { x: number[][]; label: number[] } => {
    const x: number[][] = [];
    const label: number[] = [];
    if (labels === 'mixture') {
      exactCounts(p, n).forEach((count, c) => {
        for (let i = 0; i < count; i++) {
          x.push(drawRow(g.pick(byClass(c)), offset, g));
          label.push(c);
        }
      });
    } else {
      // Class weights still tilt which region is drawn; labels are the teacher's.
      for (let i = 0; i < n; i++) x.push(drawRow(g.pick(byClass(g.weighted(p))), offset, g));
    }
    const order = g.shuffled(x.map((_, i) => i));
    return { x: order.map((i) => x[i]), label: order.map((i) => label[i]) };
  };
  const home = drawSet(rows, prior, undefined, rng.fork('home'));
  const foreign = drawSet(foreignRows, foreignPrior, shift, rng.fork('foreign'));

  const mean = new Array<number>(d).fill(0);
  const sd = new Array<number>(d).fill(0);
  for (const x of home.x) for (let j = 0; j < d; j++) mean[j] += x[j] / home.x.length;
  for (const x of home.x) for (let j = 0; j < d; j++) sd[j] += (x[j] - mean[j]) ** 2 / home.x.length;
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j]) || 1;
  const standard = (x: readonly number[]) => x.map((v, j) => (v - mean[j]) / sd[j]);

  if (labels === 'teacher') {
    const teacher = fitTeacher(home.x.map(standard), prior, rng.fork('teacher'));
    home.label = home.x.map((x) => teacher(standard(x)));
    foreign.label = foreign.x.map((x) => teacher(standard(x)));
  }

  const units = rng.fork('units');
  const scale = Array.from({ length: d }, () => 10 ** units.uniform(-1, 3));
  const offset = scale.map((s) => s * units.uniform(-3, 3));
  const positive = Array.from({ length: d }, () => units.bernoulli(1 / 3));
  const resolution = scale.map((s) => 10 ** (Math.floor(Math.log10(s)) - 2));
  const toRaw = (x: readonly number[]): number[] =>
    roundTo(
      standard(x).map((v, j) => (positive[j] ? scale[j] * Math.exp(0.5 * v) : offset[j] + scale[j] * v)),
      resolution,
    ).map((v, j) => Number(v.toFixed(Math.max(0, 2 - Math.floor(Math.log10(scale[j]))))));
  const records = (set: { x: number[][]; label: number[] }): LabelledRecord[] => set.x.map((x, i) => ({ raw: toRaw(x), label: set.label[i] }));

  const structure: SyntheticStructure = { classes: k, prior, priorShape: shape, features: d, latent: r, components: perClass, labels, shift: shiftSize, foreignPrior };
  const share = (p: readonly number[]) => p.map((v) => Math.round(100 * v)).join('/');
  return {
    name: `synthetic-${options.seed}`,
    description:
      `synthetic (seed ${options.seed}): ${k} classes, prior ${share(prior)} (${shape}), ${d} raw features mixed from a rank-${r} latent Gaussian mixture ` +
      `(${perClass.join('/')} components per class), labels from the ${labels}; foreign rows: class means shifted by ${shiftSize.toFixed(1)}× their separation, prior ${share(foreignPrior)}`,
    features: Array.from({ length: d }, (_, j) => `f${String(j + 1).padStart(2, '0')}`),
    resolution,
    classes: Array.from({ length: k }, (_, c) => `class-${c}`),
    home: records(home),
    foreign: records(foreign),
    kernel: gaussianKernel,
    structure,
  };
}

/**
 * A random teacher: one tanh hidden layer on the standardised features,
 * with per-class biases fitted (multiplicative updates of the class
 * frequencies) until its labels on the home rows follow `prior`.
 */
function fitTeacher(x: readonly number[][], prior: readonly number[], rng: Rng): (x: readonly number[]) => number {
  const d = x[0].length;
  const k = prior.length;
  const hidden = 16;
  const w1 = gaussianMatrix(hidden, d, rng, 1 / Math.sqrt(d));
  const w2 = gaussianMatrix(k, hidden, rng, 3 / Math.sqrt(hidden));
  const logits = (v: readonly number[]) => times(w2, times(w1, v).map(Math.tanh));
  const scores = x.map(logits);
  const bias = new Array<number>(k).fill(0);
  const argmax = (s: readonly number[]) => {
    let best = 0;
    for (let c = 1; c < k; c++) if (s[c] + bias[c] > s[best] + bias[best]) best = c;
    return best;
  };
  for (let iter = 0; iter < 400; iter++) {
    const freq = new Array<number>(k).fill(0);
    for (const s of scores) freq[argmax(s)] += 1 / scores.length;
    const step = 0.5 / (1 + iter / 50);
    for (let c = 0; c < k; c++) bias[c] += step * (Math.log(prior[c] + 1e-3) - Math.log(freq[c] + 1e-3));
  }
  return (v) => argmax(logits(v));
}
