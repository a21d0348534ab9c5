/**
 * Kafka over mutual TLS: a private CA and client certificates made with
 * openssl here, a TLS endpoint in front of the real (plaintext) mock broker
 * (tlsKafkaProxy.ts), and probewatch's own client built from `kafka.ssl`
 * (PEM paths in the config, or PROBEWATCH_KAFKA_SSL_*_FILE).
 */
import { connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/loadConfig.ts';
import { tlsOptions } from '../../src/config/tlsOptions.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createKafka } from '../../src/pipeline/kafkaClient.ts';
import { ensureTopic, highWatermarks, keyStream, runConfig, runSetup, spawnProbewatch, testBrokers, testKafka, testProducer, uniqueName, waitFor } from './helpers.ts';
import { makePki, startTlsKafkaProxy } from './tlsKafkaProxy.ts';

/** Completes a TLS handshake with the proxy using `options`, or rejects with the reason. */
function handshake(broker: string, options: ReturnType<typeof tlsOptions>): Promise<void> {
  const [host, port] = broker.split(':');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(port), ...options }, () => {
      // A server that refuses the client certificate says so right after the handshake.
      socket.once('data', () => {});
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 200);
    });
    socket.once('error', (err) => {
      socket.destroy();
      reject(err);
    });
  });
}

describe('Kafka over TLS', () => {
  it('produces and reads metadata through mutual TLS with kafka.ssl {ca, cert, key}; the broker sees the messages', async () => {
    const pki = makePki();
    const proxy = await startTlsKafkaProxy(await testBrokers(), pki);
    const config = parseConfig({ kafka: { brokers: proxy.brokers, ssl: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } } });
    const kafka = createKafka(config.kafka, {}, silentLogger());
    const topic = uniqueName('pw-tls');
    await ensureTopic(await testKafka(), topic);
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
    const admin = kafka.admin();
    await admin.connect();
    const viaTls = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
    await admin.disconnect();
    await producer.disconnect();
    expect(viaTls).toBe(10);
    // Read without TLS, straight from the broker: the messages went through the TLS endpoint to it.
    const direct = [...(await highWatermarks(await testKafka(), topic)).values()].reduce((n, h) => n + Number(h), 0);
    expect(direct).toBe(10);
    expect(proxy.accepted).toBeGreaterThan(0);
    expect(proxy.refused).toBe(0);
  });

  it('takes the PEM paths from PROBEWATCH_KAFKA_SSL_*_FILE; without a client certificate or trusting another CA the handshake fails', async () => {
    const pki = makePki();
    const proxy = await startTlsKafkaProxy(await testBrokers(), pki);
    const env = { PROBEWATCH_KAFKA_SSL_CA_FILE: pki.ca, PROBEWATCH_KAFKA_SSL_CERT_FILE: pki.clientCert, PROBEWATCH_KAFKA_SSL_KEY_FILE: pki.clientKey };
    const config = loadConfig(undefined, { PROBEWATCH_KAFKA_BROKERS: proxy.brokers.join(',') });
    expect(config.kafka.ssl).toBe(false);
    const admin = createKafka(config.kafka, env, silentLogger()).admin();
    await admin.connect();
    expect((await admin.fetchTopicMetadata({ topics: [] })).topics).toBeDefined();
    await admin.disconnect();

    const broker = proxy.brokers[0];
    await expect(handshake(broker, tlsOptions({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, rejectUnauthorized: true }, 'kafka.ssl', 'X', {}))).resolves.toBeUndefined();
    // No client certificate: the endpoint refuses (mutual TLS).
    const refusedBefore = proxy.refused;
    await handshake(broker, tlsOptions({ ca: pki.ca, rejectUnauthorized: true }, 'kafka.ssl', 'X', {})).catch(() => {});
    await waitFor(() => proxy.refused > refusedBefore, 'the endpoint to refuse a client without a certificate', 5_000, 20);
    // A client certificate from another CA: refused too.
    await handshake(broker, tlsOptions({ ca: pki.ca, cert: pki.rogueClientCert, key: pki.rogueClientKey, rejectUnauthorized: true }, 'kafka.ssl', 'X', {})).catch(() => {});
    await waitFor(() => proxy.refused > refusedBefore + 1, 'the endpoint to refuse a certificate of another CA', 5_000, 20);
    // Trusting only another CA: the client refuses the server.
    await expect(handshake(broker, tlsOptions({ ca: pki.rogueCa, cert: pki.clientCert, key: pki.clientKey, rejectUnauthorized: true }, 'kafka.ssl', 'X', {}))).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    // Bad paths are named.
    expect(() => createKafka(parseConfig({ kafka: { ssl: { ca: '/nonexistent/ca.pem' } } }).kafka, {}, silentLogger())).toThrow('kafka.ssl.ca: cannot read /nonexistent/ca.pem: ENOENT');
    expect(() => parseConfig({ kafka: { ssl: { cert: pki.clientCert } } })).toThrow(/kafka\.ssl: cert and key go together/);
  });

  it('probewatch run consumes and publishes through mutual TLS', async () => {
    const pki = makePki();
    const proxy = await startTlsKafkaProxy(await testBrokers(), pki);
    const setup = await runSetup('tls');
    const config = runConfig(setup, { publish: { riskEveryEvents: 1 } }) as { kafka: Record<string, unknown> };
    config.kafka.brokers = proxy.brokers;
    config.kafka.ssl = { ca: pki.ca };
    const kafka = await testKafka();
    await ensureTopic(kafka, setup.topics.events);
    const pw = spawnProbewatch(config, { PROBEWATCH_KAFKA_SSL_CERT_FILE: pki.clientCert, PROBEWATCH_KAFKA_SSL_KEY_FILE: pki.clientKey });
    await pw.joined();
    const { messages } = keyStream(`${setup.id}-k`, 20, Date.now(), 1_000);
    await (await testProducer(kafka)).send({ topic: setup.topics.events, acks: -1, messages });
    await waitFor(async () => (await pw.metric('probewatch_events_processed_total')) === 20, () => `20 events through TLS\n${pw.tail()}`, 60_000);
    await waitFor(async () => [...(await highWatermarks(kafka, setup.topics.risk)).values()].some((h) => h > 0n), 'risk scores published through TLS', 30_000);
    expect(proxy.accepted).toBeGreaterThan(0);
    expect(await pw.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
