/**
 * Gathers the messages of one sequence (`msg.parts.id`) into batches, so meters that arrive one
 * message each can still share `/consumptions/multi` requests. A batch is run when it is full,
 * when the sequence's announced count has arrived, or when no message came for `idleMs`.
 */
import type { Clock, TimerHandle } from '../runtime/clock';

export interface BatcherOptions<T> {
  maxSize: number;
  idleMs: number;
  run: (items: T[]) => Promise<void>;
  /** The idle wait's timers. */
  clock: Pick<Clock, 'setTimer' | 'clearTimer'>;
}

interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Group<T> {
  pending: Pending<T>[];
  received: number;
  idle?: TimerHandle;
}

export class MessageBatcher<T> {
  private readonly groups = new Map<string, Group<T>>();

  constructor(private readonly options: BatcherOptions<T>) {}

  private stopIdle(group: Group<T>): void {
    this.options.clock.clearTimer(group.idle);
    group.idle = undefined;
  }

  /**
   * Resolves when the item's batch has run. When a batch fails, only its first item's promise
   * rejects, so one failure is reported once rather than once per meter.
   */
  add(groupId: string, item: T, expectedCount?: number): Promise<void> {
    let group = this.groups.get(groupId);
    if (!group) this.groups.set(groupId, (group = { pending: [], received: 0 }));
    const done = new Promise<void>((resolve, reject) => group!.pending.push({ item, resolve, reject }));
    group.received += 1;
    this.stopIdle(group);
    const complete = expectedCount !== undefined && group.received >= expectedCount;
    if (complete) {
      this.groups.delete(groupId);
      this.runBatch(group.pending);
    } else if (group.pending.length >= this.options.maxSize) {
      this.runBatch(group.pending.splice(0));
    } else {
      group.idle = this.options.clock.setTimer(() => this.flush(groupId), this.options.idleMs);
    }
    return done;
  }

  /** Runs what a sequence has gathered so far (idle timeout, node closing). */
  flush(groupId: string): void {
    const group = this.groups.get(groupId);
    if (!group) return;
    this.stopIdle(group);
    this.groups.delete(groupId);
    if (group.pending.length > 0) this.runBatch(group.pending);
  }

  flushAll(): void {
    for (const id of [...this.groups.keys()]) this.flush(id);
  }

  /** Ends every waiting item without running it (the node is closing); returns how many there were. */
  discardAll(): number {
    let count = 0;
    for (const group of this.groups.values()) {
      this.stopIdle(group);
      for (const pending of group.pending) pending.resolve();
      count += group.pending.length;
    }
    this.groups.clear();
    return count;
  }

  get waiting(): number {
    let count = 0;
    for (const group of this.groups.values()) count += group.pending.length;
    return count;
  }

  private runBatch(batch: Pending<T>[]): void {
    if (batch.length === 0) return;
    this.options.run(batch.map((p) => p.item)).then(
      () => batch.forEach((p) => p.resolve()),
      (error: unknown) => {
        batch[0].reject(error);
        batch.slice(1).forEach((p) => p.resolve());
      },
    );
  }
}
