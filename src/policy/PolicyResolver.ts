import type { Config } from '../config/configSchema.ts';
import type { Level } from '../contract.ts';

type PolicyConfig = Config['policy'];

/** The ladder settings in force for one tenant: the global policy with the tenant's overrides applied. */
export interface LevelPolicy {
  readonly thresholds: Readonly<Record<Exclude<Level, 'allow'>, number>>;
  readonly hysteresis: number;
  readonly ttlMs: Readonly<Record<Exclude<Level, 'allow'>, number>>;
  readonly maxLevel: Level;
  readonly shadow: boolean;
}

/**
 * Answers "which policy applies to this tenant" and "is this key
 * allowlisted at this event time", from the parsed config. Tenant policies
 * are merged once, at construction.
 */
export class PolicyResolver {
  private readonly global: LevelPolicy;
  private readonly tenants = new Map<string, LevelPolicy>();
  /** Key → the latest expiry among its entries, and the reason of that entry. */
  private readonly allow = new Map<string, { until: number; reason: string }>();

  constructor(config: PolicyConfig) {
    this.global = Object.freeze({
      thresholds: config.thresholds,
      hysteresis: config.hysteresis,
      ttlMs: config.ttlMs,
      maxLevel: config.maxLevel,
      shadow: config.shadow,
    });
    for (const [tenant, over] of Object.entries(config.tenants)) {
      this.tenants.set(
        tenant,
        Object.freeze({
          thresholds: Object.freeze({ ...config.thresholds, ...over.thresholds }),
          hysteresis: over.hysteresis ?? config.hysteresis,
          ttlMs: Object.freeze({ ...config.ttlMs, ...over.ttlMs }),
          maxLevel: over.maxLevel ?? config.maxLevel,
          // A global shadow mode cannot be switched off by a tenant.
          shadow: config.shadow || (over.shadow ?? false),
        }),
      );
    }
    for (const entry of config.allowlist) {
      const known = this.allow.get(entry.key);
      if (!known || entry.until > known.until) this.allow.set(entry.key, { until: entry.until, reason: entry.reason });
    }
  }

  forTenant(tenant: string | null): LevelPolicy {
    return (tenant !== null && this.tenants.get(tenant)) || this.global;
  }

  /** The entry's reason (possibly empty) when `key` is allowlisted at event time `ts`; undefined otherwise. */
  allowlisted(key: string, ts: number): string | undefined {
    const entry = this.allow.get(key);
    return entry !== undefined && ts < entry.until ? entry.reason : undefined;
  }
}
