import type { Clock, TimerHandle } from '../runtime/clock';

/**
 * Request starts are planned for this share of the configured rate. A service that counts its
 * limit in a strict window (Metry: 10 requests per second, 429 beyond) sees our requests after
 * network delays that vary by some milliseconds; planned exactly at the limit, two requests
 * delayed differently land in the same window. 95 % leaves room for that jitter and costs 5 %.
 */
export const DEFAULT_RATE_MARGIN = 0.95;

/** The window the configured rate is counted in. */
export const RATE_WINDOW_MS = 1000;

export interface LimiterOptions {
  /** Requests allowed in flight at once; 0 or less means no limit. */
  maxConcurrent: number;
  /** Request starts allowed per second; 0 or less means no limit. */
  requestsPerSecond: number;
  clock: Clock;
  /** Share of `requestsPerSecond` that starts are spaced for (default DEFAULT_RATE_MARGIN). */
  rateMargin?: number;
}

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * One limiter per config node, shared by every node that uses it: a FIFO queue of callers
 * waiting for a concurrency slot, then a FIFO queue for the rate limit.
 *
 * The rate limit holds two rules, both measured from the moments requests actually started
 * (never from planned moments, so a timer that fires late or a pause is never "caught up" with
 * a burst):
 * - spacing: consecutive starts are at least 1 s / (rate × margin) apart, so a long export runs
 *   evenly just under the limit;
 * - window: no more than floor(rate) starts (at least 1) in any sliding second, the rule strict
 *   services enforce, kept even if the spacing were configured without a margin.
 */
export class RequestLimiter {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  private readonly rateWaiting: Waiter[] = [];
  /** Start times of the most recent requests, oldest first; at most one window's allowance. */
  private readonly starts: number[] = [];
  private rateTimer: TimerHandle | undefined;
  maxConcurrent: number;
  requestsPerSecond: number;
  readonly rateMargin: number;
  private readonly clock: Clock;

  constructor(options: LimiterOptions) {
    this.maxConcurrent = options.maxConcurrent;
    this.requestsPerSecond = options.requestsPerSecond;
    this.rateMargin = options.rateMargin ?? DEFAULT_RATE_MARGIN;
    this.clock = options.clock;
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length + this.rateWaiting.length;
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
    return enqueue(this.waiting, signal);
  }

  private wakeNext(): void {
    while (this.waiting.length > 0 && (this.maxConcurrent <= 0 || this.active < this.maxConcurrent)) {
      this.active += 1;
      dequeue(this.waiting).resolve();
    }
  }

  private waitForRateSlot(signal?: AbortSignal): Promise<void> {
    if (this.requestsPerSecond <= 0) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    const granted = enqueue(this.rateWaiting, signal);
    this.grantRateSlots();
    return granted;
  }

  /** Lets waiting requests start while the rules allow; otherwise sets one timer for the next. */
  private grantRateSlots(): void {
    if (this.rateTimer !== undefined) return;
    while (this.rateWaiting.length > 0) {
      const now = this.clock.now();
      const wait = this.waitBeforeStart(now);
      if (wait > 0) {
        this.rateTimer = this.clock.setTimer(() => {
          this.rateTimer = undefined;
          this.grantRateSlots();
        }, wait);
        return;
      }
      this.recordStart(now);
      dequeue(this.rateWaiting).resolve();
    }
  }

  /** How long a request must still wait at `now` under both rules; 0 when it may start. */
  waitBeforeStart(now: number): number {
    if (this.requestsPerSecond <= 0 || this.starts.length === 0) return 0;
    const spacing = RATE_WINDOW_MS / (this.requestsPerSecond * this.rateMargin);
    let earliest = this.starts[this.starts.length - 1] + spacing;
    const allowance = this.windowAllowance();
    if (this.starts.length >= allowance) earliest = Math.max(earliest, this.starts[this.starts.length - allowance] + RATE_WINDOW_MS);
    return Math.max(0, Math.ceil(earliest - now));
  }

  private windowAllowance(): number {
    return Math.max(1, Math.floor(this.requestsPerSecond));
  }

  private recordStart(now: number): void {
    this.starts.push(now);
    const keep = this.windowAllowance();
    if (this.starts.length > keep) this.starts.splice(0, this.starts.length - keep);
  }
}

/** A FIFO waiter that leaves its queue and rejects when its signal aborts. */
function enqueue(queue: Waiter[], signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const waiter: Waiter = { resolve, reject, signal };
    if (signal) {
      waiter.onAbort = () => {
        const index = queue.indexOf(waiter);
        if (index >= 0) queue.splice(index, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    queue.push(waiter);
  });
}

function dequeue(queue: Waiter[]): Waiter {
  const waiter = queue.shift()!;
  if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener('abort', waiter.onAbort);
  return waiter;
}
