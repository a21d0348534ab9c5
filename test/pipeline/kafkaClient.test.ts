import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { KAFKA_PASSWORD_ENV, KAFKA_USERNAME_ENV, createKafka } from '../../src/pipeline/kafkaClient.ts';

describe('createKafka', () => {
  it('takes SASL credentials from the environment only, and names the missing variables', () => {
    const config = parseConfig({ kafka: { sasl: 'scram-sha-512', brokers: ['127.0.0.1:1'] } });
    expect(() => createKafka(config.kafka, {}, silentLogger())).toThrow(expect.objectContaining({ code: 'PW_CONFIG', message: expect.stringContaining(KAFKA_PASSWORD_ENV) }));
    expect(() => createKafka(config.kafka, { [KAFKA_USERNAME_ENV]: 'svc' }, silentLogger())).toThrow(expect.objectContaining({ code: 'PW_CONFIG' }));
    expect(createKafka(config.kafka, { [KAFKA_USERNAME_ENV]: 'svc', [KAFKA_PASSWORD_ENV]: 's3cret' }, silentLogger())).toBeDefined();
  });

  it('needs no credentials without SASL', () => {
    expect(createKafka(parseConfig({}).kafka, {}, silentLogger())).toBeDefined();
  });

  it('rejects credentials in the config file', () => {
    expect(() => parseConfig({ kafka: { password: 'x' } })).toThrow(expect.objectContaining({ code: 'PW_CONFIG' }));
  });
});
