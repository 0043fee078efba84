/**
 * Time as the HTTP core sees it. Waits (backoff, Retry-After, rate limiting) go through a Clock
 * so tests can replace real time with a virtual one and assert how long the client would have
 * waited without actually waiting.
 */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if the signal aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};

/**
 * A clock whose sleeps complete at once and move virtual time forward by the amount slept.
 * Every sleep is recorded, so a test can assert "waited at least 2 s before the retry".
 */
export class VirtualClock implements Clock {
  private current: number;
  readonly sleeps: number[] = [];

  constructor(start = Date.UTC(2024, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    this.current += ms;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    const wait = Math.max(0, ms);
    this.sleeps.push(wait);
    this.current += wait;
    // Yield to the event loop so a virtual sleep still behaves like an asynchronous wait.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (signal?.aborted) throw signal.reason;
  }
}
