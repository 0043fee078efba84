/**
 * Time as the P1 sources see it: cancellable timers and a clock. Reconnect delays, the silence
 * watchdog, baud detection windows, replay intervals and rate limits all go through this, so
 * tests drive time with `ManualTimers.advance()` instead of sleeping.
 */
export interface Timers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, Math.max(0, ms)),
  clearTimeout: (handle) => {
    if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
  },
};

interface ManualTimer {
  id: number;
  due: number;
  callback: () => void;
}

/** Virtual time: nothing fires until `advance()` moves the clock past a timer's due time. */
export class ManualTimers implements Timers {
  private current: number;
  private nextId = 1;
  private timers: ManualTimer[] = [];

  constructor(start = Date.UTC(2024, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { id: this.nextId++, due: this.current + Math.max(0, ms), callback };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }

  /** Number of timers waiting to fire. */
  get pending(): number {
    return this.timers.length;
  }

  /** Delays of the waiting timers from now, soonest first. */
  pendingDelays(): number[] {
    return this.timers.map((timer) => timer.due - this.current).sort((a, b) => a - b);
  }

  /** Moves time forward, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const end = this.current + Math.max(0, ms);
    for (;;) {
      const due = this.timers.filter((timer) => timer.due <= end).sort((a, b) => a.due - b.due || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      this.current = Math.max(this.current, due.due);
      due.callback();
    }
    this.current = end;
  }
}
