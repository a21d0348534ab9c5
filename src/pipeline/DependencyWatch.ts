import type { Logger } from '../observability/logger.ts';

/** A dependency waited on for longer than the watch allows. */
export interface StuckDependency {
  dependency: string;
  /** How long its oldest call in flight has been waiting. */
  waitingMs: number;
}

export interface DependencyWatchOptions {
  /** A call in flight this long makes its dependency stuck (config `health.stuckAfterMs`). */
  stuckAfterMs: number;
  logger: Logger;
  /** Called when a dependency becomes stuck (true) and when it answers again (false). */
  onChange?: (dependency: string, stuck: boolean) => void;
}

/**
 * Times the calls made to each named dependency (redis, kafka). A call that
 * hangs — a frozen Redis answers nothing and raises no error — makes its
 * dependency stuck: logged once, with its name, when the wait passes
 * `stuckAfterMs`, and once more when a call succeeds again, however long
 * the wait and however many calls queue or fail behind it.
 */
export class DependencyWatch {
  private readonly inFlight = new Map<string, Map<number, number>>();
  private readonly stuckSince = new Map<string, number>();
  private nextId = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: DependencyWatchOptions) {}

  /** Checks every quarter of `stuckAfterMs` until `stop()`. */
  start(): void {
    this.timer = setInterval(() => this.check(), Math.max(50, Math.floor(this.opts.stuckAfterMs / 4)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Runs `fn`, timing it as a call to `dependency`. */
  async track<T>(dependency: string, fn: () => Promise<T>): Promise<T> {
    const id = this.nextId++;
    let calls = this.inFlight.get(dependency);
    if (!calls) this.inFlight.set(dependency, (calls = new Map()));
    calls.set(id, performance.now());
    try {
      const result = await fn();
      calls.delete(id);
      this.answered(dependency);
      return result;
    } catch (err) {
      // A timeout or a refused connection is no recovery: the next call is still waited on.
      calls.delete(id);
      throw err;
    }
  }

  /** A proxy of `target` whose promise-returning methods are timed as calls to `dependency`. */
  wrap<T extends object>(dependency: string, target: T): T {
    return new Proxy(target, {
      get: (obj, prop, receiver) => {
        const value = Reflect.get(obj, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const result = (value as (...a: unknown[]) => unknown).apply(obj, args);
          return result instanceof Promise ? this.track(dependency, () => result) : result;
        };
      },
    });
  }

  /** The dependencies stuck now, longest first. */
  stuck(): StuckDependency[] {
    const now = performance.now();
    const out: StuckDependency[] = [];
    for (const [dependency, calls] of this.inFlight) {
      let oldest = Infinity;
      for (const started of calls.values()) oldest = Math.min(oldest, started);
      if (now - oldest >= this.opts.stuckAfterMs) out.push({ dependency, waitingMs: Math.round(now - oldest) });
    }
    return out.sort((a, b) => b.waitingMs - a.waitingMs);
  }

  private check(): void {
    for (const { dependency, waitingMs } of this.stuck()) {
      if (this.stuckSince.has(dependency)) continue;
      this.stuckSince.set(dependency, performance.now() - waitingMs);
      this.opts.logger.warn({ dependency, waitingMs }, `${dependency} is not answering`);
      this.opts.onChange?.(dependency, true);
    }
  }

  private answered(dependency: string): void {
    const since = this.stuckSince.get(dependency);
    if (since === undefined) return;
    // Recovered once the calls that hung have all answered, not at the first quick one.
    const oldest = Math.min(...this.inFlight.get(dependency)!.values());
    if (performance.now() - oldest >= this.opts.stuckAfterMs) return;
    this.stuckSince.delete(dependency);
    this.opts.logger.info({ dependency, stuckForMs: Math.round(performance.now() - since) }, `${dependency} is answering again`);
    this.opts.onChange?.(dependency, false);
  }
}
