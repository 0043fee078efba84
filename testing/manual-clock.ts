/**
 * The one test clock: time moves only when a test says so. It implements the package's Clock
 * (timers and sleeps alike are timers here), so a test can hold a poller, retry loop or
 * reconnect still, release it step by step and run "ten minutes" of backoff in milliseconds.
 *
 * Tests wait for the code under test by events, never by real-time polling: `whenTimers(n)`
 * resolves at the moment the n-th timer is set (the code is idle and waiting again).
 */
import { sleepWithTimers, type Clock, type TimerHandle } from '../src/core/runtime/clock';

interface Timer {
  id: number;
  due: number;
  callback: () => void;
}

interface TimerWaiter {
  count: number;
  resolve: () => void;
}

export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private timers: Timer[] = [];
  private waiters: TimerWaiter[] = [];
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[] = [];

  /**
   * `autoAdvance`: every timer fires on the next turn of the event loop and moves time to its
   * due moment, so code that only sleeps (HTTP backoff, Retry-After) runs at full speed while
   * the test can still assert how long it would have waited.
   */
  constructor(
    start = Date.UTC(2024, 0, 1),
    private readonly options: { autoAdvance?: boolean } = {},
  ) {
    this.current = start;
  }

  static autoAdvancing(start?: number): ManualClock {
    return new ManualClock(start, { autoAdvance: true });
  }

  now(): number {
    return this.current;
  }

  setTimer(callback: () => void, ms: number): TimerHandle {
    const timer: Timer = { id: this.nextId++, due: this.current + Math.max(0, ms), callback };
    this.timers.push(timer);
    if (this.options.autoAdvance) {
      setImmediate(() => {
        if (!this.timers.includes(timer)) return;
        this.timers = this.timers.filter((t) => t !== timer);
        this.current = Math.max(this.current, timer.due);
        timer.callback();
      });
    }
    this.wakeWaiters();
    return timer.id;
  }

  clearTimer(handle: TimerHandle | undefined): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (!signal?.aborted) this.sleeps.push(Math.max(0, ms));
    return sleepWithTimers(this, ms, signal);
  }

  /** Timers (sleeps included) waiting to fire. */
  get pending(): number {
    return this.timers.length;
  }

  /** Delays of the waiting timers from now, soonest first. */
  pendingDelays(): number[] {
    return this.timers.map((timer) => timer.due - this.current).sort((a, b) => a - b);
  }

  /** Moves time forward, firing every timer that falls due on the way, in order of its due time. */
  advance(ms: number): void {
    const end = this.current + Math.max(0, ms);
    for (;;) {
      const due = this.nextDue(end);
      if (!due) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      this.current = Math.max(this.current, due.due);
      due.callback();
    }
    this.current = end;
  }

  /**
   * Moves time forward by `ms` one timer at a time; after each, the woken code runs (real I/O
   * included) until `ready()` resolves, e.g. "the loop has set its next timer", before time moves
   * on. Without `ready`, the woken promise chains get a few turns.
   */
  async advanceStepwise(ms: number, ready?: () => Promise<unknown> | boolean): Promise<void> {
    const end = this.current + Math.max(0, ms);
    for (;;) {
      const due = this.nextDue(end);
      if (!due) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      this.current = Math.max(this.current, due.due);
      due.callback();
      if (!ready) await settle();
      else {
        const outcome = ready();
        if (typeof outcome === 'boolean') await until(ready as () => boolean, 'the woken code to wait again');
        else await outcome;
      }
    }
    this.current = end;
    await settle();
  }

  /** Resolves as soon as at least `count` timers are waiting: the code under test is idle again. */
  whenTimers(count = 1): Promise<void> {
    if (this.timers.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  private nextDue(end: number): Timer | undefined {
    return this.timers.filter((timer) => timer.due <= end).sort((a, b) => a.due - b.due || a.id - b.id)[0];
  }

  private wakeWaiters(): void {
    const ready = this.waiters.filter((waiter) => this.timers.length >= waiter.count);
    this.waiters = this.waiters.filter((waiter) => !ready.includes(waiter));
    for (const waiter of ready) waiter.resolve();
  }
}

/** Gives promise chains and pending I/O callbacks a turn. */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Waits for a condition that real I/O (a local server, a socket, the Node-RED runtime) makes
 * true. It re-checks on every turn of the event loop and fails with `what` only after a long
 * guard, so a busy machine makes it slower, never red. It is no timing assertion.
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, guardMs = 30_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
}
