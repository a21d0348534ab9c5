import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { bundledWorkerEntry, withoutLoaders, workerHeapOptions } from '../../src/parallel/workerBundle.ts';

const BOOT = new URL('./never-started.mjs', import.meta.url);

describe('bundledWorkerEntry', () => {
  it('bundles an entry and the sources it imports, reuses the bundle, and bundles afresh when a source changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-bundle-'));
    writeFileSync(join(dir, 'dep.ts'), 'export const answer: number = 41;\n');
    writeFileSync(join(dir, 'entry.ts'), "import { answer } from './dep.ts';\nexport const value = answer + 1;\nexport const lazy = () => import('./dep.ts');\n");
    const entry = pathToFileURL(join(dir, 'entry.ts'));

    const first = await bundledWorkerEntry(entry, BOOT);
    expect(first.bundled).toBe(true);
    expect(first.url.href).not.toBe(BOOT.href);
    const code = readFileSync(fileURLToPath(first.url), 'utf8');
    expect(code).toContain('41');
    // Dynamic imports stay imports by address (loaded only on paths the bundle is not started for).
    expect(code).toContain(pathToFileURL(join(dir, 'dep.ts')).href);
    expect((await import(first.url.href)).value).toBe(42);

    expect((await bundledWorkerEntry(entry, BOOT)).url.href).toBe(first.url.href);

    writeFileSync(join(dir, 'dep.ts'), 'export const answer: number = 99;\n');
    const edited = await bundledWorkerEntry(entry, BOOT);
    expect(edited.url.href).not.toBe(first.url.href);
    expect((await import(edited.url.href)).value).toBe(100);
  });

  it('falls back to the boot entry (sources through tsx) when the entry cannot be bundled', async () => {
    const missing = pathToFileURL(join(mkdtempSync(join(tmpdir(), 'pw-bundle-')), 'missing.ts'));
    expect(await bundledWorkerEntry(missing, BOOT)).toEqual({ url: BOOT, bundled: false });
  });

  it('leaves packages out as imports by absolute address, so the bundle runs from the temp folder', async () => {
    const project = fileURLToPath(new URL('../../', import.meta.url));
    // An entry inside the project (packages resolve from its node_modules), bundled into the temp folder.
    const entry = join(project, 'test/parallel', `.bundle-entry-${process.pid}.ts`);
    writeFileSync(entry, "import { z } from 'zod';\nimport { join } from 'node:path';\nexport const ok = z.number().parse(join('a', 'b').length);\n");
    try {
      const bundled = await bundledWorkerEntry(pathToFileURL(entry), BOOT);
      const code = readFileSync(fileURLToPath(bundled.url), 'utf8');
      expect(code).toMatch(/from "file:\/\/\/[^"]*\/zod\/[^"]*"/);
      expect(code).toContain('from "node:path"');
      expect((await import(bundled.url.href)).ok).toBe(3);
    } finally {
      rmSync(entry);
    }
  });
});

describe('withoutLoaders', () => {
  it('drops the options that load modules, with their values, and keeps the rest', () => {
    const argv = ['--require', '/x/preflight.cjs', '--import', 'file:///x/loader.mjs', '--cpu-prof', '--loader=tsx', '-r', 'a.cjs', '--max-old-space-size=4096', '--experimental-loader', 'b.mjs'];
    expect(withoutLoaders(argv)).toEqual(['--cpu-prof', '--max-old-space-size=4096']);
  });
});

describe('workerHeapOptions', () => {
  it('moves the heap sizes out of execArgv into resourceLimits (both spellings) and keeps the other options in order', () => {
    expect(workerHeapOptions(['--cpu-prof', '--max-old-space-size=4096', '--max_semi_space_size=64', '--enable-source-maps'])).toEqual({
      execArgv: ['--cpu-prof', '--enable-source-maps'],
      resourceLimits: { maxOldGenerationSizeMb: 4096, maxYoungGenerationSizeMb: 192 },
    });
    expect(workerHeapOptions([])).toEqual({ execArgv: [], resourceLimits: {} });
  });

  it('leaves out the V8 inlining budgets and on-stack replacement switch a worker refuses as options: it runs under the process\'s V8 flags already', () => {
    const flag = '--max-inlined-bytecode-size-cumulative=460';
    expect(() => new Worker('', { eval: true, execArgv: [flag] })).toThrow(/invalid execArgv/);
    expect(() => new Worker('', { eval: true, execArgv: ['--no-use-osr'] })).toThrow(/invalid execArgv/);
    expect(workerHeapOptions(['--enable-source-maps', flag, '--max_inlined_bytecode_size=400', '--no-use-osr', '--use_osr'])).toEqual({ execArgv: ['--enable-source-maps'], resourceLimits: {} });
  });

  it('starts a worker that the same options in execArgv would not, and the worker gets the heap its parent was given', async () => {
    const parent = ['--max-old-space-size=3072', '--max-semi-space-size=32'];
    const code = "const { parentPort } = require('node:worker_threads'); parentPort.postMessage(require('node:v8').getHeapStatistics().heap_size_limit);";
    expect(() => new Worker(code, { eval: true, execArgv: parent })).toThrow(/invalid execArgv/);
    const limit = await new Promise<number>((resolve, reject) => {
      const worker = new Worker(code, { eval: true, ...workerHeapOptions(parent) });
      worker.once('message', (m: number) => resolve(m)).once('error', reject);
    });
    // V8's heap limit is the old generation plus the young one: 3,072 MB + 3 × 32 MB.
    expect(limit / 2 ** 20).toBeGreaterThanOrEqual(3072);
    expect(limit / 2 ** 20).toBeLessThanOrEqual(3072 + 3 * 32 + 1);
  });
});
