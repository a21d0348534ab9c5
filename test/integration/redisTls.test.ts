/**
 * Redis over mutual TLS: a TLS-only redis-server of the test's own
 * (certificates made with openssl here), `probewatch run` configured with a
 * `rediss://` URL and `redis.tls` PEM paths, its password from
 * PROBEWATCH_REDIS_PASSWORD_FILE. Its state snapshots land in that Redis.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureTopic, keyStream, runConfig, runSetup, spawnProbewatch, testKafka, testProducer, waitFor } from './helpers.ts';
import { OwnRedis } from './ownRedis.ts';
import { makePki } from './tlsKafkaProxy.ts';

describe('Redis over TLS', () => {
  it('probewatch run keeps its state in a TLS-only, password-protected Redis', async () => {
    const pki = makePki();
    const own = await OwnRedis.started({ ca: pki.ca, cert: pki.serverCert, key: pki.serverKey, clientCert: pki.clientCert, clientKey: pki.clientKey });
    const password = 'redis-pass-5b2f9e';
    const admin = own.client();
    await admin.config('SET', 'requirepass', password);
    const dir = mkdtempSync(join(tmpdir(), 'pw-redis-pass-'));
    writeFileSync(join(dir, 'password'), `${password}\n`);

    const setup = await runSetup('redistls');
    const kafka = await testKafka();
    await ensureTopic(kafka, setup.topics.events);
    const config = runConfig(setup, { redis: { url: own.url, tls: { ca: pki.ca } } });
    const pw = spawnProbewatch(config, {
      PROBEWATCH_REDIS_PASSWORD_FILE: join(dir, 'password'),
      PROBEWATCH_REDIS_TLS_CERT_FILE: pki.clientCert,
      PROBEWATCH_REDIS_TLS_KEY_FILE: pki.clientKey,
    });
    await pw.joined();
    const key = `${setup.id}-k`;
    await (await testProducer(kafka)).send({ topic: setup.topics.events, acks: -1, messages: keyStream(key, 10, Date.now(), 1_000).messages });
    await waitFor(async () => (await pw.metric('probewatch_state_snapshots_written_total')) > 0, () => `a snapshot written over TLS\n${pw.tail()}`, 60_000);
    const authed = own.client({ password });
    const keys = await authed.keys(`${setup.keyPrefix}*`);
    expect(keys.some((k) => k.includes(key))).toBe(true);
    expect(pw.tail(10_000)).not.toContain(password);
    expect(await pw.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
