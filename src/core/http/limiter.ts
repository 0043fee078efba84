import type { Clock } from '../runtime/clock';

export interface LimiterOptions {
  /** Requests allowed in flight at once; 0 or less means no limit. */
  maxConcurrent: number;
  /** Request starts allowed per second; 0 or less means no limit. */
  requestsPerSecond: number;
  clock: Clock;
}

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * One limiter per config node, shared by every node that uses it: a FIFO queue of callers
 * waiting for a concurrency slot, then spaced start times for the rate limit. Spacing (rather
 * than a burst bucket) keeps a long export exactly at the configured rate, which is what the
 * services' limits are about.
 */
export class RequestLimiter {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  private nextStart = 0;
  maxConcurrent: number;
  requestsPerSecond: number;
  private readonly clock: Clock;

  constructor(options: LimiterOptions) {
    this.maxConcurrent = options.maxConcurrent;
    this.requestsPerSecond = options.requestsPerSecond;
    this.clock = options.clock;
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Waits for a slot; the returned function gives it back and must be called exactly once. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    await this.waitForConcurrencySlot(signal);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.active -= 1;
      this.wakeNext();
    };
    try {
      await this.waitForRateSlot(signal);
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }

  private waitForConcurrencySlot(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.maxConcurrent <= 0 || (this.active < this.maxConcurrent && this.waiting.length === 0)) {
      this.active += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiting.push(waiter);
    });
  }

  private wakeNext(): void {
    while (this.waiting.length > 0 && (this.maxConcurrent <= 0 || this.active < this.maxConcurrent)) {
      const next = this.waiting.shift()!;
      if (next.signal && next.onAbort) next.signal.removeEventListener('abort', next.onAbort);
      this.active += 1;
      next.resolve();
    }
  }

  private async waitForRateSlot(signal?: AbortSignal): Promise<void> {
    if (this.requestsPerSecond <= 0) return;
    const interval = 1000 / this.requestsPerSecond;
    const now = this.clock.now();
    const start = Math.max(now, this.nextStart);
    this.nextStart = start + interval;
    if (start > now) await this.clock.sleep(start - now, signal);
  }
}
