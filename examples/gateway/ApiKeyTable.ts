import { createHash } from 'node:crypto';
import { ProbewatchError } from '../../src/errors.ts';

/** Environment variable holding the API key secrets: `id=secret,id=secret`. */
export const API_KEYS_ENV = 'GATEWAY_API_KEYS';

/** Shortest secret accepted: API keys are random tokens, not passwords. */
export const MIN_SECRET_CHARS = 24;

/** Who is calling, as events and probewatch know it: the key id, never the secret. */
export interface KeyIdentity {
  readonly id: string;
  readonly tenant: string | null;
}

function digest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * The gateway's API keys. The table (ids, tenants) is configuration; each
 * id's secret comes from the environment and only its SHA-256 is kept, so a
 * presented key is looked up by its digest (no comparison leaks how much of
 * a secret matched, and no secret stays in memory or reaches a log).
 */
export class ApiKeyTable {
  private constructor(private readonly byDigest: ReadonlyMap<string, KeyIdentity>) {}

  /**
   * Pairs each configured key with its secret from `GATEWAY_API_KEYS`
   * (`id=secret` pairs, comma separated). Every configured id needs a
   * secret and every secret a configured id; errors name the variable and
   * the id, never a secret.
   */
  static fromEnv(table: readonly KeyIdentity[], env: Record<string, string | undefined>, name = API_KEYS_ENV): ApiKeyTable {
    const raw = env[name];
    if (!raw) throw new ProbewatchError('PW_CONFIG', `${name} is not set: expected id=secret pairs for the configured keys ${table.map((k) => k.id).join(', ')}`);
    const known = new Map(table.map((k) => [k.id, k]));
    const byDigest = new Map<string, KeyIdentity>();
    const seen = new Set<string>();
    for (const pair of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      const eq = pair.indexOf('=');
      const id = eq < 0 ? '' : pair.slice(0, eq).trim();
      const secret = eq < 0 ? '' : pair.slice(eq + 1).trim();
      if (!id) throw new ProbewatchError('PW_CONFIG', `${name}: expected id=secret pairs separated by commas`);
      const identity = known.get(id);
      if (!identity) throw new ProbewatchError('PW_CONFIG', `${name}: key id '${id}' is not in the gateway's key table`);
      if (seen.has(id)) throw new ProbewatchError('PW_CONFIG', `${name}: key id '${id}' appears twice`);
      if (secret.length < MIN_SECRET_CHARS) throw new ProbewatchError('PW_CONFIG', `${name}: the secret of '${id}' must have at least ${MIN_SECRET_CHARS} characters`);
      const d = digest(secret);
      if (byDigest.has(d)) throw new ProbewatchError('PW_CONFIG', `${name}: '${id}' reuses the secret of '${byDigest.get(d)!.id}'`);
      byDigest.set(d, identity);
      seen.add(id);
    }
    const missing = table.filter((k) => !seen.has(k.id)).map((k) => k.id);
    if (missing.length > 0) throw new ProbewatchError('PW_CONFIG', `${name}: no secret for key id${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    return new ApiKeyTable(byDigest);
  }

  /** The identity behind a presented key, or undefined when it is missing or unknown. */
  authenticate(presented: string | undefined): KeyIdentity | undefined {
    return presented ? this.byDigest.get(digest(presented)) : undefined;
  }

  get size(): number {
    return this.byDigest.size;
  }
}
