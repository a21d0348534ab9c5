import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { demo } from '../../src/cli/demo.ts';
import { loadConfig } from '../../src/config/loadConfig.ts';

describe('probewatch demo', () => {
  it('runs the pipeline on simulated traffic: attackers escalate, benign users stay at allow', async () => {
    let text = '';
    const out = new Writable({ write: (chunk, _enc, done) => ((text += chunk), done()) });
    const code = await demo(loadConfig(undefined), { minutes: 10, speed: 0, seed: 3, out });
    expect(code).toBe(0);
    expect(text).toMatch(/▲ attacker-grid +\(attacker\) allow → (observe|throttle|truncate|deceive)/);
    expect(text).toMatch(/malformed messages dead-lettered/);
    const finals = [...text.matchAll(/^ {2}(\S+) +(benign|heavy|attacker) +\d+ +[\d.]+ +(\w+)/gm)].map((m) => ({ key: m[1], role: m[2], level: m[3] }));
    expect(finals.length).toBeGreaterThan(10);
    for (const f of finals.filter((f) => f.role === 'benign')) expect(f.level).toBe('allow');
    expect(finals.filter((f) => f.role === 'attacker').every((f) => f.level !== 'allow')).toBe(true);
    // What the gateway answered: benign callers untouched; attackers refused, truncated or deceived from their decision on.
    const answered = [...text.matchAll(/^ {2}(\S+) +(benign|heavy|attacker) +\d+ +[\d.]+ +(\w+) .* (\d+ untouched.*)$/gm)].map((m) => ({ role: m[2], level: m[3], served: m[4] }));
    expect(answered.length).toBe(finals.length);
    for (const a of answered.filter((a) => a.role === 'benign')) expect(a.served).toMatch(/^\d+ untouched$/);
    const escalated = answered.filter((a) => a.role === 'attacker' && ['throttle', 'truncate', 'deceive', 'block'].includes(a.level));
    expect(escalated.length).toBeGreaterThan(0);
    for (const a of escalated) expect(a.served).toMatch(/refused \(429\)|truncated|deceived/);
  }, 60_000);
});
