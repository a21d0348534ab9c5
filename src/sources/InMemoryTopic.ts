/** A message on an in-memory topic: the same key/value bytes a Kafka record carries. */
export interface InMemoryMessage {
  key: string | null;
  value: Buffer;
  offset: number;
}

/**
 * An append-only in-memory topic with one partition and a committed offset,
 * the transport of the demo and of tests that need no broker. Consumers poll
 * batches from the committed offset and commit after processing, as with
 * Kafka.
 */
export class InMemoryTopic {
  private readonly log: InMemoryMessage[] = [];
  private committed = 0;

  constructor(readonly name: string) {}

  produce(key: string | null, value: Buffer): void {
    this.log.push({ key, value, offset: this.log.length });
  }

  /** Up to `max` messages after the committed offset. */
  poll(max: number): InMemoryMessage[] {
    return this.log.slice(this.committed, this.committed + max);
  }

  commit(nextOffset: number): void {
    this.committed = Math.max(this.committed, nextOffset);
  }

  get lag(): number {
    return this.log.length - this.committed;
  }
}
