import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.ts';

describe('createLogger', () => {
  it('writes JSON and redacts secrets wherever they are logged', () => {
    let text = '';
    const sink = new Writable({ write: (c, _e, done) => ((text += c), done()) });
    const logger = createLogger('info', sink);
    logger.info({ kafka: { password: 'hunter2' }, hmacKey: 'k3y', sasl: { username: 'u', password: 'p' } }, 'connecting');
    logger.debug({ secret: 'x' }, 'below the level');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'connecting', service: 'probewatch', kafka: { password: '[redacted]' }, hmacKey: '[redacted]', sasl: '[redacted]' });
    expect(text).not.toMatch(/hunter2|k3y/);
  });
});
