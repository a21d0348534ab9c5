import { describe, expect, it } from 'vitest';
import { Cidr } from '../../src/net/Cidr.ts';

describe('Cidr', () => {
  it('normalises a network and tells which addresses lie in it', () => {
    const net = Cidr.parse('192.0.2.77/24')!;
    expect(net.toString()).toBe('192.0.2.0/24');
    expect(net.contains('192.0.2.1')).toBe(true);
    expect(net.contains('::ffff:192.0.2.200')).toBe(true);
    expect(net.contains('192.0.3.1')).toBe(false);
    expect(net.contains('2001:db8::1')).toBe(false);
    expect(net.contains('not an ip')).toBe(false);
    expect(Cidr.parse('10.1.2.3')!.toString()).toBe('10.1.2.3/32');
    expect(Cidr.parse('0.0.0.0/0')!.contains('8.8.8.8')).toBe(true);
  });

  it('handles IPv6 prefixes', () => {
    const net = Cidr.parse('2001:db8:abcd:12::5/48')!;
    expect(net.toString()).toBe('2001:db8:abcd::/48');
    expect(net.contains('2001:db8:abcd:ffff::1')).toBe(true);
    expect(net.contains('2001:db8:abce::1')).toBe(false);
  });

  it('rejects what is not a network', () => {
    for (const bad of ['1.2.3', '1.2.3.4/33', '1.2.3.4/-1', '1.2.3.4/8/8', '::1/129', 'acme', '1.2.3.4/x']) expect(Cidr.parse(bad), bad).toBeUndefined();
  });
});
