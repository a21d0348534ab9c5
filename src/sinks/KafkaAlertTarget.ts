import type { Producer } from 'kafkajs';
import { ProbewatchError } from '../errors.ts';
import type { AlertTarget } from './AlertQueue.ts';
import type { SiemAlert } from './SiemAlert.ts';

/**
 * Produces each alert as JSON to an alerts topic, keyed by api_key (so one
 * key's alerts stay in order on one partition), acknowledged by every
 * in-sync replica. JSON rather than Avro: SIEM connectors read it as is.
 */
export class KafkaAlertTarget implements AlertTarget {
  readonly name = 'kafka';
  private connected?: Promise<void>;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
  ) {}

  async send(alert: SiemAlert): Promise<void> {
    try {
      await (this.connected ??= this.producer.connect());
      await this.producer.send({ topic: this.topic, acks: -1, messages: [{ key: alert.api_key, value: JSON.stringify(alert) }] });
    } catch (cause) {
      this.connected = undefined;
      throw new ProbewatchError('PW_SINK', `alerts topic ${this.topic}: ${(cause as Error).message}`, { cause, retriable: true });
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}
