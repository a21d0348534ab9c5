import { ipPrefix } from '../../src/state/ipPrefix.ts';

const prefixes = new Map<string, string | null>();
/** Past this many distinct addresses the memo starts over (bounds memory on address-spraying traffic). */
const MAX_REMEMBERED = 65_536;

/**
 * `ipPrefix`, remembered per address: a client calls from the same few
 * addresses, and parsing one (an IPv6 check is a long regular expression)
 * costs more than the rest of a volume update.
 */
export function prefixOf(ip: string | null): string | null {
  if (!ip) return null;
  let prefix = prefixes.get(ip);
  if (prefix === undefined) {
    prefix = ipPrefix(ip);
    if (prefixes.size >= MAX_REMEMBERED) prefixes.clear();
    prefixes.set(ip, prefix);
  }
  return prefix;
}
