/**
 * A source listener for the P1 source tests: records everything a source tells, counts the
 * telegrams in the bytes as the node's pipeline would (so the source learns the meter's
 * interval), and lets a test await the exact event it expects instead of polling.
 */
import { TelegramFramer } from '../../../src/core/dsmr';
import type { Clock } from '../../../src/core/runtime/clock';
import type { ConnectionState } from '../../../src/core/p1-source/connection-state';
import type { SourceListener, SourceStateInfo } from '../../../src/core/p1-source/source';

/** A failed expectation must fail the test, not hang the suite; a busy machine only makes events later, never this late. */
const GUARD_MS = 30_000;

interface Waiter {
  condition: () => boolean;
  resolve: () => void;
}

export class Recorder implements SourceListener {
  readonly data: Buffer[] = [];
  /** Every state with its info and the clock's time when it was told. */
  readonly states: Array<{ state: ConnectionState; info: SourceStateInfo; at: number }> = [];
  readonly problems: Error[] = [];
  readonly warnings: string[] = [];
  telegrams = 0;
  private readonly framer = new TelegramFramer();
  private waiters: Waiter[] = [];

  constructor(private readonly clock?: Clock) {}

  onData(chunk: Buffer): number {
    this.data.push(chunk);
    const completed = this.framer.push(chunk).filter((event) => event.type === 'telegram').length;
    this.telegrams += completed;
    this.notify();
    return completed;
  }

  onState(state: ConnectionState, info: SourceStateInfo): void {
    this.states.push({ state, info, at: this.clock?.now() ?? Date.now() });
    this.notify();
  }

  onProblem(error: Error): void {
    this.problems.push(error);
    this.notify();
  }

  onWarning(text: string): void {
    this.warnings.push(text);
    this.notify();
  }

  get bytes(): Buffer {
    return Buffer.concat(this.data);
  }

  get state(): ConnectionState | undefined {
    return this.states.at(-1)?.state;
  }

  get info(): SourceStateInfo | undefined {
    return this.states.at(-1)?.info;
  }

  get problemCodes(): string[] {
    return this.problems.map((problem) => String((problem as { code?: unknown }).code));
  }

  /** Resolves at the event that makes `condition` true (at once if it already is). */
  when(condition: () => boolean, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error(`no event made this true: ${what}; last state ${JSON.stringify(this.states.at(-1))}`)), GUARD_MS);
      guard.unref();
      this.waiters.push({
        condition,
        resolve: () => {
          clearTimeout(guard);
          resolve();
        },
      });
    });
  }

  private notify(): void {
    const ready = this.waiters.filter((waiter) => waiter.condition());
    this.waiters = this.waiters.filter((waiter) => !ready.includes(waiter));
    for (const waiter of ready) waiter.resolve();
  }
}
