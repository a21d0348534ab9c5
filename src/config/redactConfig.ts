/** What a masked secret is printed as. */
export const REDACTED = '***';

/**
 * A copy of the config safe to print: the password (and user name, which
 * may be a token) of every URL-like string is masked, e.g.
 * `redis://:***@redis:6379`. Secrets proper never sit in the config — they
 * come from the environment or `…_FILE` — but a URL may carry one.
 */
export function redactConfig<T>(config: T): T {
  return JSON.parse(JSON.stringify(config), (_key, value: unknown) => (typeof value === 'string' ? redactUrl(value) : value)) as T;
}

function redactUrl(value: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i.exec(value);
  if (!m) return value;
  const userinfo = m[2];
  const colon = userinfo.indexOf(':');
  const masked = colon < 0 ? REDACTED : `${userinfo.slice(0, colon) ? REDACTED : ''}:${REDACTED}`;
  return `${m[1]}${masked}@${value.slice(m[0].length)}`;
}
