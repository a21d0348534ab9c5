import { type Decision, decisionSlot } from '../contract.ts';
import { Cidr } from '../net/Cidr.ts';

/**
 * The analysts' decisions the pipeline knows of (DESIGN.md, "Responses"),
 * replaced whole whenever they are re-read from the store. The ladder reads
 * one thing from it: a manual `allow` on a key, its tenant or its network is
 * a run-time allowlist entry, so the key is held at allow while it lasts.
 * Other manual levels need nothing from the ladder: gateways let them
 * outrank its decisions.
 */
export class ManualDecisionBook {
  private keys = new Map<string, Decision>();
  private tenants = new Map<string, Decision>();
  private prefixes: { cidr: Cidr; decision: Decision }[] = [];

  /** Swaps in the decisions in force (manual ones only; others are ignored). */
  replace(decisions: readonly Decision[]): void {
    const keys = new Map<string, Decision>();
    const tenants = new Map<string, Decision>();
    const prefixes: { cidr: Cidr; decision: Decision }[] = [];
    for (const d of decisions) {
      if (!d.manual) continue;
      if (d.scope === 'tenant') tenants.set(d.api_key, d);
      else if (d.scope === 'prefix') {
        const cidr = Cidr.parse(d.api_key);
        if (cidr) prefixes.push({ cidr, decision: d });
      } else keys.set(d.api_key, d);
    }
    this.keys = keys;
    this.tenants = tenants;
    this.prefixes = prefixes;
  }

  get size(): number {
    return this.keys.size + this.tenants.size + this.prefixes.length;
  }

  /** Every manual decision that applies to a call of `key` (from `tenant`, `clientIp`) and is in force at `ts`, key first. */
  applying(key: string, tenant: string | null, clientIp: string | null, ts: number): Decision[] {
    const out: Decision[] = [];
    const add = (d: Decision | undefined) => d && ts < d.expires_at && out.push(d);
    add(this.keys.get(key));
    if (this.size === this.keys.size) return out;
    if (clientIp) for (const p of this.prefixes) if (p.cidr.contains(clientIp)) add(p.decision);
    if (tenant !== null) add(this.tenants.get(tenant));
    return out;
  }

  /** The reason to hold the key at allow (`manual <subject>: <reason>`), when a manual allow applies at `ts`. */
  allowed(key: string, tenant: string | null, clientIp: string | null, ts: number): string | undefined {
    if (this.size === 0) return undefined;
    const applying = this.applying(key, tenant, clientIp, ts);
    // An analyst's block or throttle on the key itself outranks a group's allow.
    if (applying[0]?.scope === undefined && applying[0]?.api_key === key && applying[0].level !== 'allow') return undefined;
    const allow = applying.find((d) => d.level === 'allow');
    return allow && `manual ${decisionSlot(allow).slice('manual:'.length)}: ${allow.reason}`;
  }
}
