/**
 * Opens a page in headless Chromium (Debian's `chromium`) over the DevTools
 * protocol on a pipe (`--remote-debugging-pipe`: no port, no extra
 * package) and reports what a person's browser would complain about:
 * console errors and warnings, uncaught exceptions, log entries at error
 * level, and every network request the page made.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export interface PageReport {
  /** Console messages of type error or warning, uncaught exceptions, and Log entries at error level. */
  errors: string[];
  /** URLs the page requested (the page itself included). */
  requests: string[];
  /** Values of the expressions asked for, evaluated after load. */
  values: unknown[];
}

/** The Chromium binary, or undefined when none is installed. */
export function chromiumPath(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      // try the next name
    }
  }
  return undefined;
}

type Message = { id?: number; method?: string; params?: Record<string, any>; result?: Record<string, any>; error?: { message: string }; sessionId?: string };

class Cdp {
  private nextId = 1;
  private buffer = '';
  private readonly pending = new Map<number, { resolve: (v: Record<string, any>) => void; reject: (e: Error) => void }>();
  readonly events: Message[] = [];
  private listeners: ((m: Message) => void)[] = [];

  constructor(
    private readonly input: Writable,
    output: Readable,
  ) {
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\0')) >= 0) {
        const msg = JSON.parse(this.buffer.slice(0, end)) as Message;
        this.buffer = this.buffer.slice(end + 1);
        if (msg.id !== undefined && this.pending.has(msg.id)) {
          const p = this.pending.get(msg.id)!;
          this.pending.delete(msg.id);
          if (msg.error) p.reject(new Error(msg.error.message));
          else p.resolve(msg.result ?? {});
        } else if (msg.method) {
          this.events.push(msg);
          for (const l of this.listeners) l(msg);
        }
      }
    });
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, any>> {
    const id = this.nextId++;
    this.input.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  waitFor(method: string, timeoutMs: number): Promise<Message> {
    const seen = this.events.find((e) => e.method === method);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${method} within ${timeoutMs} ms`)), timeoutMs);
      this.listeners.push((m) => {
        if (m.method === method) {
          clearTimeout(timer);
          resolve(m);
        }
      });
    });
  }
}

/** Loads `url` in a fresh headless Chromium, waits for the load event (and `settleMs`), evaluates `expressions`, and closes it. */
export async function openPage(url: string, expressions: string[] = [], settleMs = 300): Promise<PageReport> {
  const binary = chromiumPath();
  if (!binary) throw new Error('chromium is not installed (apt-get install -y chromium)');
  const profile = mkdtempSync(join(tmpdir(), 'pw-chromium-'));
  const child: ChildProcess = spawn(
    binary,
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--remote-debugging-pipe', `--user-data-dir=${profile}`, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
  );
  const cdp = new Cdp(child.stdio[3] as Writable, child.stdio[4] as Readable);
  try {
    const { targetInfos } = await cdp.send('Target.getTargets');
    const page = (targetInfos as { type: string; targetId: string }[]).find((t) => t.type === 'page');
    const targetId = page ? page.targetId : (await cdp.send('Target.createTarget', { url: 'about:blank' })).targetId;
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
    for (const domain of ['Runtime', 'Log', 'Page', 'Network']) await cdp.send(`${domain}.enable`, {}, sessionId);
    const loaded = cdp.waitFor('Page.loadEventFired', 30_000);
    await cdp.send('Page.navigate', { url }, sessionId);
    await loaded;
    await new Promise((r) => setTimeout(r, settleMs));
    const values: unknown[] = [];
    for (const expression of expressions) values.push((await cdp.send('Runtime.evaluate', { expression, returnByValue: true }, sessionId)).result?.value);
    const errors: string[] = [];
    const requests: string[] = [];
    for (const e of cdp.events) {
      const p = e.params ?? {};
      if (e.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'warning' || p.type === 'assert')) {
        errors.push(`console.${p.type}: ${(p.args ?? []).map((a: { value?: unknown; description?: string }) => a.value ?? a.description).join(' ')}`);
      } else if (e.method === 'Runtime.exceptionThrown') {
        errors.push(`exception: ${p.exceptionDetails?.exception?.description ?? p.exceptionDetails?.text}`);
      } else if (e.method === 'Log.entryAdded' && p.entry?.level === 'error') {
        errors.push(`log ${p.entry.source}: ${p.entry.text}${p.entry.url ? ` (${p.entry.url})` : ''}`);
      } else if (e.method === 'Network.requestWillBeSent') {
        requests.push(p.request?.url);
      }
    }
    await cdp.send('Browser.close').catch(() => undefined);
    return { errors, requests, values };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      // Browser.close lets Chromium flush its profile and exit; it is killed only when it does not.
      const exited = new Promise((r) => child.once('exit', r));
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    // Chromium's helper processes may still be writing into the profile as the browser exits (ENOTEMPTY): retry, and never fail a test over a temporary directory.
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    } catch {
      // Left in the temporary directory.
    }
  }
}
