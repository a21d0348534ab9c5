import { ProbewatchError } from '../errors.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as `90s`, `30m`, `2h`, `7d` or `1h30m` (or plain milliseconds) in ms; `what` names the option in the error. */
export function parseDuration(text: string, what: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== t) {
    throw new ProbewatchError('PW_USAGE', `${what}: expected a duration like 90s, 30m, 2h, 7d or 1h30m, got ${JSON.stringify(text)}`);
  }
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]], 0);
  if (!(ms > 0)) throw new ProbewatchError('PW_USAGE', `${what}: must be longer than 0, got ${JSON.stringify(text)}`);
  return Math.round(ms);
}
