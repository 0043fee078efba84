import type { Clock } from '../../src/core/http/clock';

interface Sleeper {
  until: number;
  resolve: () => void;
}

export class ManualClock implements Clock {
  private current: number;
  private sleepers: Sleeper[] = [];

  constructor(start = Date.UTC(2024, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** Sleeps currently waiting. */
  get sleeping(): number {
    return this.sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const sleeper: Sleeper = {
        until: this.current + Math.max(0, ms),
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

  /** Moves time forward and wakes every sleep that is due by then. */
  advance(ms: number): void {
    this.current += ms;
    const due = this.sleepers.filter((s) => s.until <= this.current);
    this.sleepers = this.sleepers.filter((s) => s.until > this.current);
    for (const sleeper of due) sleeper.resolve();
  }

  /** Waits (in real time, briefly) until at least `count` sleeps are pending: the poller is idle again. */
  async untilSleeping(count = 1, timeoutMs = 5000): Promise<void> {
    const started = Date.now();
    while (this.sleepers.length < count) {
      if (Date.now() - started > timeoutMs) throw new Error(`no sleeper after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => setTimeout(resolve, 2));
    }
  }
}
