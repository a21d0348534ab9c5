/**
 * Collects what a stage publishes, in order. Used by replay, the demo and
 * tests alike; `onItem` lets a caller stream items as they come.
 */
export class InMemorySink<T> {
  readonly items: T[] = [];

  constructor(private readonly onItem?: (item: T) => void, private readonly keep = true) {}

  async publish(items: readonly T[]): Promise<void> {
    for (const item of items) {
      if (this.keep) this.items.push(item);
      this.onItem?.(item);
    }
  }

  clear(): void {
    this.items.length = 0;
  }
}
