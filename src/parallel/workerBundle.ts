import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** How a worker thread is started: the module it runs and, when not the parent's, its Node options. */
export interface WorkerEntry {
  url: URL;
  /** The parent's Node options without its module loaders (a bundle needs none); absent: the parent's options. */
  execArgv?: string[];
  bundled: boolean;
}

/** What `new Worker` takes of the parent's heap settings. */
export interface WorkerHeapOptions {
  execArgv: string[];
  resourceLimits: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number };
}

/** V8 compiler flags (inlining budgets, on-stack replacement) a worker thread refuses as options and runs under already (`workerHeapOptions`). */
const PROCESS_WIDE = /^--(max[-_]inlined[-_]bytecode[-_]size([-_][a-z]+)?=\d+|(no[-_])?use[-_]osr)$/;

/** V8's young generation is two semi-spaces and a large-object space of the same size. */
const YOUNG_PER_SEMI_SPACE = 3;

/**
 * The parent's Node options as a worker thread accepts them. V8's heap
 * sizes are process options that `new Worker` refuses in `execArgv`
 * (ERR_WORKER_INVALID_EXEC_ARGV: `node --max-old-space-size=4096 … --workers 2`
 * would not start), so they are taken out and given as the worker's
 * `resourceLimits` instead: each worker gets the heap its parent was given
 * (the young generation from `--max-semi-space-size`, which `bin/probewatch`
 * raises). V8's inlining budgets (`bin/probewatch` lowers one) and its
 * on-stack replacement switch (`bin/probewatch` turns it off) are refused
 * too, and left out: V8's flags are the process's, so a worker's code is
 * compiled under them anyway. Other options pass as they are.
 */
export function workerHeapOptions(execArgv: readonly string[]): WorkerHeapOptions {
  const out: string[] = [];
  const resourceLimits: WorkerHeapOptions['resourceLimits'] = {};
  for (const arg of execArgv) {
    if (PROCESS_WIDE.test(arg)) continue;
    const m = /^--max[-_](old|semi)[-_]space[-_]size=(\d+)$/.exec(arg);
    if (!m) out.push(arg);
    else if (m[1] === 'old') resourceLimits.maxOldGenerationSizeMb = Number(m[2]);
    else resourceLimits.maxYoungGenerationSizeMb = YOUNG_PER_SEMI_SPACE * Number(m[2]);
  }
  return { execArgv: out, resourceLimits };
}

/** What the cache remembers of the last bundle of an entry: its source files and their digest. */
interface BundleIndex {
  inputs: string[];
  digest: string;
}

/**
 * The entry of a worker thread written in TypeScript, as plain JavaScript:
 * one ES module bundled by esbuild (the bundler tsx itself runs on) from
 * `entry` and the project sources it imports, packages left as imports by
 * absolute address. Starting a worker from it skips tsx's loader thread and
 * its per-module round trips, most of a worker's start-up. The bundle is
 * cached in the OS temp folder under a digest of its sources' bytes, so an
 * edited source is bundled afresh. Should bundling fail (esbuild missing,
 * a read-only temp folder), the worker starts from `boot`, the sources
 * loaded through tsx as before.
 */
export async function bundledWorkerEntry(entry: URL, boot: URL): Promise<WorkerEntry> {
  try {
    return { url: pathToFileURL(await bundle(fileURLToPath(entry))), execArgv: withoutLoaders(process.execArgv), bundled: true };
  } catch {
    return { url: boot, bundled: false };
  }
}

/** Node options that load modules before the entry (tsx's loader under `tsx` or vitest), each with its value. */
const LOADER_OPTIONS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

/** `execArgv` without the options that load modules: a profiler's or the heap's settings still reach the worker. */
export function withoutLoaders(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i];
    const name = arg.split('=')[0];
    if (!LOADER_OPTIONS.has(name)) out.push(arg);
    else if (!arg.includes('=')) i++;
  }
  return out;
}

const CACHE = join(tmpdir(), 'probewatch-workers');

async function bundle(entry: string): Promise<string> {
  const name = createHash('sha256').update(entry).digest('hex').slice(0, 16);
  const indexFile = join(CACHE, `${name}.json`);
  const cached = readIndex(indexFile);
  if (cached && digestOf(cached.inputs) === cached.digest && existsSync(outputFile(name, cached.digest))) return outputFile(name, cached.digest);
  const esbuild = await import('esbuild');
  const packages = new Set<string>();
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [packagesByAddress(packages)],
  });
  // The packages' entry files count too: one moved by an upgrade makes the bundle's import of it stale.
  const inputs = [...Object.keys(result.metafile.inputs).map((p) => join(process.cwd(), p)), ...[...packages].sort()];
  const digest = digestOf(inputs);
  const file = outputFile(name, digest);
  mkdirSync(CACHE, { recursive: true });
  // Written aside and renamed: another process starting workers at the same time reads a whole file or none.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, result.outputFiles[0].contents);
  renameSync(tmp, file);
  writeFileSync(`${indexFile}.${process.pid}.tmp`, JSON.stringify({ inputs, digest } satisfies BundleIndex));
  renameSync(`${indexFile}.${process.pid}.tmp`, indexFile);
  // The bundle of the sources before the edit is not wanted again (a worker already started from it has it loaded).
  if (cached && cached.digest !== digest) rmSync(outputFile(name, cached.digest), { force: true });
  return file;
}

function outputFile(name: string, digest: string): string {
  return join(CACHE, `${name}-${digest.slice(0, 16)}.mjs`);
}

function readIndex(file: string): BundleIndex | null {
  try {
    const index = JSON.parse(readFileSync(file, 'utf8')) as BundleIndex;
    return Array.isArray(index.inputs) && typeof index.digest === 'string' ? index : null;
  } catch {
    return null;
  }
}

/** The sources' bytes, with the Node version the bundle targets; a source gone gives a digest no bundle has. */
function digestOf(inputs: readonly string[]): string {
  const hash = createHash('sha256').update(process.version);
  for (const input of inputs) {
    hash.update(input).update('\0');
    try {
      hash.update(readFileSync(input));
    } catch {
      hash.update('missing');
    }
    hash.update('\0');
  }
  return hash.digest('hex');
}

/**
 * Leaves out of the bundle, as imports by absolute file address: packages
 * (resolved as Node resolves an `import` from the sources), so the bundle
 * runs from the temp folder; and whatever the sources import dynamically,
 * which is loaded only on a path the bundle is not started for (a worker
 * whose config forces TensorFlow.js starts from the sources). Built-ins
 * stay as they are.
 */
function packagesByAddress(resolvedFiles: Set<string>): import('esbuild').Plugin {
  return {
    name: 'packages-by-address',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === 'resolving' || args.kind === 'entry-point') return undefined;
        const bare = /^[^./]/.test(args.path);
        if (!bare && args.kind !== 'dynamic-import') return undefined;
        const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'resolving' });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        if (resolved.external) return { path: args.path, external: true };
        resolvedFiles.add(resolved.path);
        return { path: pathToFileURL(resolved.path).href, external: true };
      });
    },
  };
}
