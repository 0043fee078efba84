/**
 * A clock whose time moves only when a test says so. Sleeps wait until the time is carried past
 * their end, so a test can hold a poller or retry loop still, release it step by step and run
 * "ten minutes" of backoff in a few milliseconds of real time.
 */
import type { Clock } from '../../src/core/http/clock';

interface Sleeper {
  due: number;
  resolve: () => void;
}

export class ManualClock implements Clock {
  private current: number;
  private sleepers: Sleeper[] = [];
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[] = [];

  constructor(start = Date.UTC(2024, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** Sleeps waiting right now. */
  get pending(): number {
    return this.sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const wait = Math.max(0, ms);
      this.sleeps.push(wait);
      const sleeper: Sleeper = {
        due: this.current + wait,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sleepers.push(sleeper);
    });
  }

  /** Moves time forward and wakes, at once, every sleep that is due by then. */
  advance(ms: number): void {
    this.current += ms;
    const due = this.sleepers.filter((s) => s.due <= this.current);
    this.sleepers = this.sleepers.filter((s) => s.due > this.current);
    for (const sleeper of due) sleeper.resolve();
  }

  /**
   * Moves time forward by `ms`, waking every sleep that ends on the way in order of its end.
   * After each wake-up the woken code gets to run (real I/O included) until `quiet()` says it is
   * waiting again, e.g. "a retry loop is asleep or has nothing to do", before time moves on.
   */
  async advanceStepwise(ms: number, quiet?: () => boolean): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const next = this.sleepers.filter((s) => s.due <= target).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.sleepers = this.sleepers.filter((s) => s !== next);
      this.current = Math.max(this.current, next.due);
      next.resolve();
      await settle();
      if (quiet) await until(quiet, 'the woken code to wait again');
    }
    this.current = target;
    await settle();
  }

  /** Waits (in real time, briefly) until at least `count` sleeps are pending: the code under test is idle again. */
  untilSleeping(count = 1, timeoutMs = 5000): Promise<void> {
    return until(() => this.sleepers.length >= count, `${count} sleeping`, timeoutMs);
  }
}

/** Gives promise chains and pending I/O callbacks a turn. */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Polls a condition in real time; fails with `what` after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 2));
  }
}
