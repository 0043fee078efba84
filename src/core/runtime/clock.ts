/**
 * Time as the whole package sees it: the current moment, cancellable timers and abortable
 * sleeps. Every wait in the package (HTTP backoff, Retry-After, rate limits, queue delivery,
 * reconnects, silence watchdogs, file replay) goes through a Clock, so tests can replace real
 * time with a manual one and run "ten minutes" of outage without waiting for it.
 */
export type TimerHandle = unknown;

export interface Clock {
  now(): number;
  /** Calls `callback` once after `ms`; the handle cancels it with `clearTimer`. */
  setTimer(callback: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle | undefined): void;
  /** Resolves after `ms`; rejects with the signal's reason if the signal aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Node's timers hold a signed 32-bit delay: anything longer fires after 1 ms. Option bounds keep
 * configured delays far below this; the clamp is the last guard.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The one sleep: a timer that an abort signal cancels. Every Clock's `sleep` is built from it. */
export function sleepWithTimers(clock: Pick<Clock, 'setTimer' | 'clearTimer'>, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimer(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (callback, ms) => setTimeout(callback, Math.min(MAX_TIMER_MS, Math.max(0, ms))),
  clearTimer: (handle) => {
    if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
  },
  sleep(ms, signal) {
    return sleepWithTimers(systemClock, ms, signal);
  },
};
