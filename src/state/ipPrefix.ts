import { isIPv4, isIPv6 } from 'node:net';

function expandIPv6(ip: string): number[] {
  const [head, tail = ''] = ip.split('::');
  const parse = (s: string) => (s ? s.split(':') : []);
  let left = parse(head);
  let right = parse(tail);
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const last = (ip.includes('::') ? right : left).at(-1);
  if (last && isIPv4(last)) {
    const o = last.split('.').map(Number);
    const groups = [((o[0] << 8) | o[1]).toString(16), ((o[2] << 8) | o[3]).toString(16)];
    if (ip.includes('::')) right = [...right.slice(0, -1), ...groups];
    else left = [...left.slice(0, -1), ...groups];
  }
  const missing = ip.includes('::') ? 8 - left.length - right.length : 0;
  return [...left, ...new Array(missing).fill('0'), ...right].map((g) => parseInt(g, 16));
}

/**
 * The network a client address belongs to, for aggregate views: /24 for
 * IPv4, /64 for IPv6, or null when the address is missing or not an IP.
 */
export function ipPrefix(ip: string | null): string | null {
  if (!ip) return null;
  if (isIPv4(ip)) {
    const o = ip.split('.');
    return `${o[0]}.${o[1]}.${o[2]}.0/24`;
  }
  if (isIPv6(ip)) {
    const g = expandIPv6(ip.split('%')[0]);
    if (g.length === 8 && g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
      return `${g[6] >> 8}.${g[6] & 0xff}.${g[7] >> 8}.0/24`;
    }
    return `${g.slice(0, 4).map((x) => x.toString(16)).join(':')}::/64`;
  }
  return null;
}
