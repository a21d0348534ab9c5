import { ProbewatchError } from '../errors.ts';
import type { AlertTarget } from './AlertQueue.ts';
import type { SiemAlert } from './SiemAlert.ts';

/** Environment variable holding the webhook's auth header value (e.g. `Bearer …`); never in the config file. */
export const ALERT_WEBHOOK_AUTH_ENV = 'PROBEWATCH_ALERT_WEBHOOK_AUTH';

export interface WebhookOptions {
  url: string;
  /** Header carrying `authValue`. */
  authHeader: string;
  /** From ALERT_WEBHOOK_AUTH_ENV; no header when unset. */
  authValue?: string;
  timeoutMs: number;
}

/**
 * POSTs each alert as JSON. A 2xx is delivered; a timeout, a network error,
 * 408, 429 or a 5xx is worth retrying; any other answer (a 400, a 401 for a
 * wrong token) will not change by itself, so that alert fails at once.
 */
export class WebhookAlertTarget implements AlertTarget {
  readonly name = 'webhook';

  constructor(private readonly options: WebhookOptions) {}

  /** Where alerts go, without path or query (which may hold a token), for the logs. */
  get origin(): string {
    return new URL(this.options.url).origin;
  }

  async send(alert: SiemAlert): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.authValue) headers[this.options.authHeader] = this.options.authValue;
    let res: Response;
    try {
      res = await fetch(this.options.url, { method: 'POST', headers, body: JSON.stringify(alert), signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (cause) {
      const reason = (cause as Error & { cause?: Error }).cause?.message ?? (cause as Error).message;
      throw new ProbewatchError('PW_SINK', `webhook ${this.origin} unreachable: ${reason}`, { cause, retriable: true });
    }
    // The body is not needed, but reading it frees the connection for reuse.
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return;
    const retriable = res.status === 408 || res.status === 429 || res.status >= 500;
    throw new ProbewatchError('PW_SINK', `webhook ${this.origin} answered ${res.status}`, { retriable });
  }
}
