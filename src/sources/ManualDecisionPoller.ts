import type { Decision } from '../contract.ts';
import type { Logger } from '../observability/logger.ts';
import type { ManualDecisionBook } from '../policy/ManualDecisionBook.ts';

/**
 * Keeps the pipeline's `ManualDecisionBook` in step with the analysts'
 * decisions in the store, re-read every `everyMs`. Gateways get a manual
 * decision at once through the decision channel; the ladder only needs the
 * run-time allowlist, for which a second's delay is harmless. A failed read
 * is logged and the book kept as it was.
 */
export class ManualDecisionPoller {
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(
    private readonly store: { list(): Promise<Decision[]> },
    private readonly book: ManualDecisionBook,
    private readonly logger: Logger,
    private readonly everyMs = 1_000,
  ) {}

  /** Reads once (awaited), then keeps reading in the background. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async refresh(): Promise<void> {
    try {
      const before = this.book.size;
      this.book.replace(await this.store.list());
      if (this.book.size !== before) this.logger.info({ manualDecisions: this.book.size }, 'manual decisions updated');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.logger.warn({ err: (err as Error).message }, 'cannot read manual decisions; keeping the last ones');
      this.failing = true;
    }
  }
}
