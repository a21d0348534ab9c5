import { isIPv4, isIPv6 } from 'node:net';

/** An address as a family and a 32- or 128-bit integer; undefined when the text is not an IP address. */
function parseAddress(ip: string): { v6: boolean; value: bigint } | undefined {
  const bare = ip.split('%')[0];
  if (isIPv4(bare)) return { v6: false, value: bare.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  if (!isIPv6(bare)) return undefined;
  const [head, tail = ''] = bare.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  let left = groups(head);
  let right = groups(tail);
  const withTail = bare.includes('::');
  const last = (withTail ? right : left).at(-1);
  if (last && isIPv4(last)) {
    // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
    const o = last.split('.').map(Number);
    const pair = [((o[0] << 8) | o[1]).toString(16), ((o[2] << 8) | o[3]).toString(16)];
    if (withTail) right = [...right.slice(0, -1), ...pair];
    else left = [...left.slice(0, -1), ...pair];
  }
  const all = [...left, ...new Array(withTail ? 8 - left.length - right.length : 0).fill('0'), ...right];
  const value = all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  // An IPv4-mapped IPv6 address is its IPv4 address.
  if (value >> 32n === 0xffffn) return { v6: false, value: value & 0xffffffffn };
  return { v6: true, value };
}

function format(v6: boolean, value: bigint): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/**
 * An IP network (`192.0.2.0/24`, `2001:db8::/32`, or a bare address as a
 * single host), for decisions on every caller in a prefix. Host bits are
 * cleared, so one network has one spelling (`toString`).
 */
export class Cidr {
  private constructor(
    readonly v6: boolean,
    private readonly network: bigint,
    readonly bits: number,
  ) {}

  /** Parses `text`; undefined when it is not an address with an optional `/bits` within the family's width. */
  static parse(text: string): Cidr | undefined {
    const [addr, len, extra] = text.trim().split('/');
    if (extra !== undefined) return undefined;
    const parsed = parseAddress(addr);
    if (!parsed) return undefined;
    const width = parsed.v6 ? 128 : 32;
    const bits = len === undefined ? width : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
    if (!(bits >= 0 && bits <= width)) return undefined;
    return new Cidr(parsed.v6, parsed.value & Cidr.mask(parsed.v6, bits), bits);
  }

  private static mask(v6: boolean, bits: number): bigint {
    const width = v6 ? 128n : 32n;
    return ((1n << width) - 1n) ^ ((1n << (width - BigInt(bits))) - 1n);
  }

  /** True when `ip` (an address, possibly IPv4-mapped IPv6) lies in this network. */
  contains(ip: string): boolean {
    const parsed = parseAddress(ip);
    return parsed !== undefined && parsed.v6 === this.v6 && (parsed.value & Cidr.mask(this.v6, this.bits)) === this.network;
  }

  toString(): string {
    return `${format(this.v6, this.network)}/${this.bits}`;
  }
}
