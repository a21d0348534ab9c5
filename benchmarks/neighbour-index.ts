/**
 * Query cost of the model reference's neighbour index (src/baselines/
 * NeighbourIndex.ts) at the reference's real sizes, against a full scan
 * measured in the same run (the answer the index must equal) and, when git
 * can show it, the index as it was before the k-d tree (a scan outward along
 * the rows' principal axis). The questions are the pipeline's: the 16
 * nearest other keys' members within 3 × the median nearest-member distance
 * (boundary-probing's, entropy's and aggregates' local tails) and whether
 * the nearest member lies beyond the 0.99 and 0.95 quantiles of the
 * members' own nearest-member distances (off-manifold), asked by natural
 * queries and by off-manifold probes.
 *
 * `npm run bench:neighbours` prints the table and writes its section of
 * benchmarks/RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nearestOther } from '../src/baselines/foldPool.ts';
import { createNeighbourhood, NeighbourIndex, type Neighbourhood } from '../src/baselines/NeighbourIndex.ts';
import { World } from '../test/detectors/helpers/world.ts';
import { markdownTable, printTable, sig } from './utils/table.ts';
import { renderSection, replaceResultsBlock } from './utils/results.ts';
import { median } from './utils/timing.ts';

/** Extra columns after the sketch in a reference record (ModelReferenceState's layout). */
const EXTRA = 7;
const K = 16;
const RADIUS = 3;
const QUERIES = 2_000;
const REPS = 5;

/** What the benchmark asks of an index. */
interface Index {
  nearest(x: ArrayLike<number>, k: number, bound2: number, skipOwner: number, out: Neighbourhood): Neighbourhood;
  fartherThan(x: ArrayLike<number>, radius: number, leaveOut?: boolean): boolean;
}
type IndexClass = new (rows: Float32Array, n: number, dim: number, stride: number, owners?: Uint32Array) => Index;

/** The full scan: every row's float64 distance in row order. */
class FullScan implements Index {
  constructor(
    private readonly rows: Float32Array,
    private readonly n: number,
    private readonly dim: number,
    private readonly stride: number,
    private readonly owners: Uint32Array = new Uint32Array(n),
  ) {}

  private d2(i: number, x: ArrayLike<number>): number {
    let s = 0;
    for (let j = 0; j < this.dim; j++) {
      const d = this.rows[i * this.stride + j] - x[j];
      s += d * d;
    }
    return s;
  }

  nearest(x: ArrayLike<number>, k: number, bound2: number, skipOwner: number, out: Neighbourhood): Neighbourhood {
    const { idx, d2 } = out;
    let found = 0;
    for (let i = 0; i < this.n; i++) {
      if (skipOwner !== 0 && this.owners[i] === skipOwner) continue;
      const s = this.d2(i, x);
      if (s > bound2 || (found === k && s >= d2[k - 1])) continue;
      let p = found < k ? found++ : k - 1;
      while (p > 0 && d2[p - 1] > s) {
        d2[p] = d2[p - 1];
        idx[p] = idx[p - 1];
        p--;
      }
      d2[p] = s;
      idx[p] = i;
    }
    out.count = found;
    return out;
  }

  fartherThan(x: ArrayLike<number>, radius: number, leaveOut = false): boolean {
    for (let i = 0; i < this.n; i++) {
      const d = this.d2(i, x);
      if (Math.sqrt(d) <= radius && !(leaveOut && d === 0)) return false;
    }
    return true;
  }
}

/** The index before the k-d tree, from git history (null when git or the history is not there). */
async function previousIndex(): Promise<{ cls: IndexClass; commit: string } | null> {
  const path = 'src/baselines/NeighbourIndex.ts';
  try {
    const commits = execFileSync('git', ['log', '--format=%H', '--', path], { encoding: 'utf8' }).trim().split('\n');
    for (const commit of commits) {
      const text = execFileSync('git', ['show', `${commit}:${path}`], { encoding: 'utf8' });
      if (text.includes('k-d tree')) continue;
      const file = join(mkdtempSync(join(tmpdir(), 'neighbour-index-')), 'NeighbourIndex.ts');
      writeFileSync(file, text);
      const mod = (await import(pathToFileURL(file).href)) as { NeighbourIndex: IndexClass };
      return { cls: mod.NeighbourIndex, commit: commit.slice(0, 7) };
    }
  } catch {
    // not a git checkout
  }
  return null;
}

/** A reference of `n` members (natural records of 100 keys, sketch prefix of `dim`) and the questions asked of it. */
function scene(n: number, dim: number) {
  const world = new World({ seed: 3 });
  const stride = dim + EXTRA;
  const sketch = () => world.event('k', world.record(), 0).input_sketch.slice(0, dim).map(Math.fround);
  const rows = new Float32Array(n * stride);
  const owners = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    rows.set(sketch(), i * stride);
    owners[i] = 1 + (i % 100);
  }
  const nn = Float64Array.from(nearestOther(rows, n, dim, stride).sq, Math.sqrt).sort();
  const q = (p: number) => nn[Math.round(p * (n - 1))];
  const scale = q(0.5);
  // Three natural queries to one probe drawn uniformly from a box around the data.
  const queries = Array.from({ length: QUERIES }, (_, i) =>
    Float64Array.from(i % 4 === 3 ? world.event('p', Array.from({ length: world.dim }, () => (2 * world.uniform() - 1) * 5), 0).input_sketch.slice(0, dim).map(Math.fround) : sketch()),
  );
  return { rows, owners, stride, queries, bound2: (RADIUS * scale) ** 2, strict: q(0.99), loose: q(0.95) };
}

type Scene = ReturnType<typeof scene>;

/** µs per query of each question kind on one index. */
function timeIndex(index: Index, s: Scene): { knn: number; farther: number } {
  const out = createNeighbourhood(K);
  let sink = 0;
  let t0 = performance.now();
  s.queries.forEach((x, i) => (sink += index.nearest(x, K, s.bound2, 1 + (i % 100), out).count));
  const knn = ((performance.now() - t0) * 1000) / s.queries.length;
  t0 = performance.now();
  for (const x of s.queries) sink += (index.fartherThan(x, s.strict) ? 1 : 0) + (index.fartherThan(x, s.loose) ? 1 : 0);
  const farther = ((performance.now() - t0) * 1000) / (2 * s.queries.length);
  if (sink < 0) throw new Error('unreachable');
  return { knn, farther };
}

async function main(): Promise<void> {
  const previous = await previousIndex();
  const kinds: { name: string; cls: IndexClass }[] = [
    { name: 'full scan', cls: FullScan },
    ...(previous ? [{ name: `axis scan (${previous.commit})`, cls: previous.cls }] : []),
    { name: 'k-d tree', cls: NeighbourIndex },
  ];
  const sizes = [
    [512, 8],
    [512, 16],
    [2048, 8],
    [4096, 16],
  ] as const;
  const rows: (string | number)[][] = [];
  for (const [n, dim] of sizes) {
    const s = scene(n, dim);
    const built = kinds.map((k) => {
      const t0 = performance.now();
      for (let r = 0; r < 5; r++) new k.cls(s.rows, n, dim, s.stride, s.owners);
      return { ...k, buildMs: (performance.now() - t0) / 5, index: new k.cls(s.rows, n, dim, s.stride, s.owners) };
    });
    // Warm-up, then the kinds alternated rep by rep so that the machine's load hits all alike.
    for (const b of built) timeIndex(b.index, s);
    const times = built.map(() => ({ knn: [] as number[], farther: [] as number[] }));
    for (let r = 0; r < REPS; r++) {
      built.forEach((b, i) => {
        const t = timeIndex(b.index, s);
        times[i].knn.push(t.knn);
        times[i].farther.push(t.farther);
      });
    }
    const base = { knn: median(times[0].knn), farther: median(times[0].farther) };
    built.forEach((b, i) => {
      const knn = median(times[i].knn);
      const farther = median(times[i].farther);
      rows.push([`${n} × ${dim}`, b.name, sig(knn), `${sig(base.knn / knn, 2)}×`, sig(farther), `${sig(base.farther / farther, 2)}×`, sig(b.buildMs)]);
    });
  }
  const headers = ['members × dims', 'index', `${K}-NN within ${RADIUS}× scale, other keys (µs/query)`, 'speed-up vs full scan', 'nearest beyond q0.99 / q0.95 (µs/query)', 'speed-up vs full scan', 'build (ms)'];
  printTable('Neighbour index, per query (median of alternated runs):', headers, rows);
  const body = [
    `Members: natural records of a synthetic deployment (Gaussian mixture, 100 keys), sketch prefixes of the given width; ${QUERIES} queries per run, three natural to one uniform off-manifold probe; medians of ${REPS} alternated runs. Default reference: 512 members × 8 dims (\`reference.size\`, \`reference.dim\`); 4096 is the largest size the config allows. "Full scan" is the baseline measured in the same run and the answer every index must equal. The µs figures move with the machine's load (its load average is in the header); the speed-up columns, measured alternately in one run, are the comparison.`,
    '',
    markdownTable(headers, rows),
  ].join('\n');
  replaceResultsBlock('neighbours', renderSection({ name: 'neighbours', title: 'Kernels and neighbour index (issue 12): the neighbour index', command: 'npm run bench:neighbours', body }));
  process.stdout.write('\nwrote the "neighbours" section of benchmarks/RESULTS.md\n');
}

await main();
