/**
 * How often the meter sends, learned from the telegrams themselves, so a silent line is noticed
 * within a few of the meter's own intervals instead of after a fixed minute. DSMR 5 sends every
 * second; DSMR 2.2 to 4 and the Luxembourg Smarty every 10 s (service contracts §5.5). A serial
 * driver that misses the `close` event of an unplugged cable leaves nothing but this silence.
 */

/** A silent line is reopened after this many of the meter's intervals… */
export const SILENCE_INTERVALS = 3;
/** …but never sooner than this: a busy machine may deliver a 1 s telegram late. */
export const MIN_SILENCE_MS = 5_000;
/** Until two telegrams showed the interval: three times the slowest meters' 10 s. */
export const UNKNOWN_INTERVAL_SILENCE_MS = 30_000;
/** The status calls the next telegram late after this many intervals without one… */
const LATE_INTERVALS = 2;
/** …at least this long… */
const MIN_LATE_MS = 3_000;
/** …or, while the interval is unknown, after this long. */
const UNKNOWN_INTERVAL_LATE_MS = 15_000;
/** The longest of the last few intervals counts, so one telegram sent early does not shorten the wait. */
const KEPT_INTERVALS = 4;

export class TelegramCadence {
  private last: number | undefined;
  /** The previous telegram on the current connection; the gap across a reconnect is no interval. */
  private previousOnConnection: number | undefined;
  private readonly intervals: number[] = [];

  /** Telegrams arrived at `now` (several in one chunk count once: they are a backlog, not the rhythm). */
  telegram(now: number): void {
    const previous = this.previousOnConnection;
    if (previous !== undefined && now > previous) {
      this.intervals.push(now - previous);
      if (this.intervals.length > KEPT_INTERVALS) this.intervals.shift();
    }
    this.previousOnConnection = now;
    this.last = now;
  }

  /** A new connection opened. */
  reconnected(): void {
    this.previousOnConnection = undefined;
  }

  /** When the last telegram arrived, on this connection or an earlier one. */
  get lastTelegramAt(): number | undefined {
    return this.last;
  }

  /** The meter's interval as seen lately, or undefined before two telegrams arrived on one connection. */
  get intervalMs(): number | undefined {
    return this.intervals.length > 0 ? Math.max(...this.intervals) : undefined;
  }

  /** How long a line may stay without data before it is reopened. */
  silenceTimeoutMs(): number {
    const interval = this.intervalMs;
    return interval === undefined ? UNKNOWN_INTERVAL_SILENCE_MS : Math.max(MIN_SILENCE_MS, SILENCE_INTERVALS * interval);
  }

  /** How long after the last telegram the next one counts as late. */
  lateAfterMs(): number {
    const interval = this.intervalMs;
    return interval === undefined ? UNKNOWN_INTERVAL_LATE_MS : Math.max(MIN_LATE_MS, LATE_INTERVALS * interval);
  }
}
