import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadDecisionKey, signDecision, verifyDecision } from '../../src/codec/decisionSignature.ts';
import { redactConfig } from '../../src/config/redactConfig.ts';
import { loadHmacKey } from '../../src/gateway/hmacKey.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { Writable } from 'node:stream';
import { isProbewatchError } from '../../src/errors.ts';
import { readSecret } from '../../src/readSecret.ts';

const exec = promisify(execFile);
const bin = new URL('../../bin/probewatch', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'pw-secrets-'));

describe('secrets', () => {
  it('readSecret takes the variable or the file its _FILE names (one trailing newline dropped), never both', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 's3cret-from-file\n');
    expect(readSecret({ TOKEN: 'direct' }, 'TOKEN')).toBe('direct');
    expect(readSecret({ TOKEN_FILE: file }, 'TOKEN')).toBe('s3cret-from-file');
    expect(readSecret({}, 'TOKEN')).toBeUndefined();
    expect(readSecret({ TOKEN: '' }, 'TOKEN')).toBeUndefined();
    const both = (() => {
      try {
        readSecret({ TOKEN: 'direct', TOKEN_FILE: file }, 'TOKEN');
      } catch (err) {
        return err;
      }
    })();
    expect(isProbewatchError(both, 'PW_CONFIG') && both.message).toBe('TOKEN and TOKEN_FILE are both set: set only one');
    expect(() => readSecret({ TOKEN_FILE: join(dir, 'missing') }, 'TOKEN')).toThrow(/^TOKEN_FILE: cannot read .*missing: ENOENT$/);
  });

  it('the decision key comes from the variable or a file, refuses short keys without printing them, and signs verifiably', () => {
    const file = join(dir, 'decision-key');
    writeFileSync(file, 'hex:' + '0f'.repeat(32) + '\n');
    const key = loadDecisionKey({ PROBEWATCH_DECISION_KEY_FILE: file })!;
    expect(loadDecisionKey({})).toBeUndefined();
    expect(() => loadDecisionKey({ PROBEWATCH_DECISION_KEY: 'short-secret' })).toThrow('PROBEWATCH_DECISION_KEY: expected a key of at least 32 bytes, got 12');
    try {
      loadDecisionKey({ PROBEWATCH_DECISION_KEY: 'short-secret' });
    } catch (err) {
      expect(String(err)).not.toContain('short-secret');
    }
    const d = { api_key: 'k', level: 'deceive' as const, reason: 'grid sweep', expires_at: 1_700_000_000_000, shadow: false };
    const sig = signDecision(key, d);
    expect(verifyDecision(key, d, sig)).toBe(true);
    expect(verifyDecision(key, { ...d, level: 'allow' }, sig)).toBe(false);
    expect(verifyDecision(key, { ...d, api_key: 'other' }, sig)).toBe(false);
    expect(verifyDecision(key, { ...d, expires_at: d.expires_at + 1 }, sig)).toBe(false);
    expect(verifyDecision(key, d, 'nope')).toBe(false);
  });

  it('redactConfig masks URL passwords and user names, leaves the rest', () => {
    const out = redactConfig({ redis: { url: 'redis://default:hunter2@redis:6379/0', other: 'redis://:hunter2@r:1' }, kafka: { brokers: ['a:9092'] }, n: 3 });
    expect(out).toEqual({ redis: { url: 'redis://***:***@redis:6379/0', other: 'redis://:***@r:1' }, kafka: { brokers: ['a:9092'] }, n: 3 });
  });

  it('check-config never prints a secret: a password in redis.url (file or environment) is masked', async () => {
    const file = join(dir, 'probewatch.yaml');
    writeFileSync(file, stringify({ redis: { url: 'redis://probewatch:hunter2-in-file@redis.internal:6380' } }));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PROBEWATCH_')));
    const fromFile = await exec(bin, ['check-config', file], { env });
    expect(fromFile.stdout).toContain('"url": "redis://***:***@redis.internal:6380"');
    expect(fromFile.stdout + fromFile.stderr).not.toContain('hunter2');
    const fromEnv = await exec(bin, ['check-config', file], { env: { ...env, PROBEWATCH_REDIS_URL: 'rediss://:hunter3-in-env@redis.internal:6380' } });
    expect(fromEnv.stdout).toContain('"url": "rediss://:***@redis.internal:6380"');
    expect(fromEnv.stdout + fromEnv.stderr).not.toContain('hunter3');
  });

  it('the gateway HMAC key also comes from PROBEWATCH_HMAC_KEY_FILE', () => {
    const file = join(dir, 'hmac-key');
    writeFileSync(file, 'g'.repeat(40) + '\n');
    expect(loadHmacKey({ PROBEWATCH_HMAC_KEY_FILE: file }).export()).toEqual(Buffer.from('g'.repeat(40)));
    expect(() => loadHmacKey({})).toThrow('PROBEWATCH_HMAC_KEY (or PROBEWATCH_HMAC_KEY_FILE) is not set');
  });

  it('the logger redacts tokens, passphrases and signing keys wherever they are logged', () => {
    let text = '';
    const out = new Writable({ write: (c, _e, done) => ((text += String(c)), done()) });
    createLogger('info', out).info({ token: 'tok-1', http: { token: 'tok-2' }, tls: { passphrase: 'pp-3' }, signingKey: 'sk-4' }, 'x');
    for (const secret of ['tok-1', 'tok-2', 'pp-3', 'sk-4']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
  });
});
