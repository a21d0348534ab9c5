/**
 * The HTML reports as a person opens them: each page written by the CLI is
 * loaded in headless Chromium, which must report no console error, no
 * exception, no failed load, and no request beyond the page itself (the
 * pages are self-contained). Under CI a missing Chromium fails the test.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { chromiumPath, openPage } from '../support/headlessChromium.ts';
import { simulatedStream } from '../helpers/simulatedStream.ts';

const exec = promisify(execFile);
const bin = new URL('../../bin/probewatch', import.meta.url).pathname;
const haveChromium = chromiumPath() !== undefined;
if (!haveChromium && process.env.CI) throw new Error('chromium is not installed: .ci/run must install it (apt-get install -y chromium)');

const COUNT = ['document.querySelectorAll("svg").length', 'document.querySelectorAll("svg path, svg rect").length', 'document.title'];

describe.skipIf(!haveChromium)('HTML reports in headless Chromium', () => {
  const sim = simulatedStream(6);

  it('notices a console error, an exception and a failed load (the check can fail)', async () => {
    const page = join(mkdtempSync(join(tmpdir(), 'pw-html-')), 'broken.html');
    writeFileSync(page, '<!DOCTYPE html><title>t</title><img src="missing.png"><script>console.error("boom"); notDefined();</script>');
    const report = await openPage(pathToFileURL(page).href);
    expect(report.errors).toHaveLength(3);
    expect(report.errors.join('\n')).toMatch(/console\.error: boom/);
    expect(report.errors.join('\n')).toMatch(/ReferenceError: notDefined/);
    expect(report.errors.join('\n')).toMatch(/missing\.png/);
    expect(report.requests).toHaveLength(2);
  }, 60_000);

  it('opens explain --html with a plot and no error or outside request', async () => {
    const page = join(sim.dir, 'explain.html');
    await exec(bin, ['explain', 'attacker-grid', sim.events, '--html', page]);
    const report = await openPage(pathToFileURL(page).href, COUNT);
    expect(report.errors).toEqual([]);
    expect(report.requests).toEqual([pathToFileURL(page).href]);
    const [svgs, shapes, title] = report.values as [number, number, string];
    expect(svgs).toBe(1);
    // One line per detector plus the risk, and the legend's swatches are lines: at least the risk's path.
    expect(shapes).toBeGreaterThan(1);
    expect(title).toBe('probewatch explain attacker-grid');
  }, 90_000);

  it('opens tune --html with one histogram per detector and no error or outside request', async () => {
    const page = join(sim.dir, 'tune.html');
    const candidate = join(sim.dir, 'candidate.yaml');
    writeFileSync(candidate, 'policy:\n  thresholds:\n    throttle: 0.4\n');
    await exec(bin, ['tune', sim.events, '--candidate', candidate, '--labels', sim.labels, '--html', page]);
    const report = await openPage(pathToFileURL(page).href, COUNT);
    expect(report.errors).toEqual([]);
    expect(report.requests).toEqual([pathToFileURL(page).href]);
    const [svgs, , title] = report.values as [number, number, string];
    const enabled = Object.values(parseConfig({}).detectors as Record<string, { enabled: boolean }>).filter((d) => d.enabled).length;
    expect(svgs).toBe(enabled);
    expect(title).toBe('probewatch tune');
  }, 120_000);
});
