/**
 * Which keys held in memory may survive a rebalance. KafkaJS rebalances
 * eagerly (every member rejoins, every generation), so a member learns each
 * assignment it was part of. Memory of a key is still current only when no
 * other member can have processed its partitions since: the partitions stayed
 * with this member through every assignment since the memory was last
 * checked, under the same member id. A member that was dropped from the
 * group (session timeout, crash, restart) comes back under a new member id,
 * and generations it missed were not seen: everything is dropped then.
 */
export class RetainedPartitions {
  private memberId: string | undefined;
  private assigned: readonly number[] = [];
  /** Partitions lost in an assignment since the memory was last checked, or 'all'. */
  private lost: Set<number> | 'all' | undefined;

  /** A (re)join with its assignment. */
  joined(memberId: string, partitions: readonly number[]): void {
    if (memberId !== this.memberId) this.lost = 'all';
    else if (this.lost !== 'all') {
      const lost: Set<number> = this.lost ?? new Set();
      this.lost = lost;
      for (const p of this.assigned) if (!partitions.includes(p)) lost.add(p);
    }
    this.memberId = memberId;
    this.assigned = [...partitions];
  }

  /** The consumer crashed or restarted: whatever happened meanwhile was not seen. */
  forgetAll(): void {
    this.lost = 'all';
  }

  /**
   * Once, before the next batch: undefined when memory needs no change since
   * the last call, 'all' when everything must go, or the test a key's
   * partitions must pass to be kept (all of them assigned now, none lost
   * in between).
   */
  take(): 'all' | ((partitions: readonly number[]) => boolean) | undefined {
    const lost = this.lost;
    this.lost = undefined;
    if (lost === undefined || lost === 'all') return lost;
    const assigned = new Set(this.assigned);
    return (partitions) => partitions.length > 0 && partitions.every((p) => assigned.has(p) && !lost.has(p));
  }
}
