/**
 * Polling without duplicates: Intellimeter's "latest" routes answer with the same reading until
 * the next 5-minute update, so a poller asking more often (or a flow triggering by hand) gets
 * readings it has already emitted. The filter remembers the newest time stamp per meter and
 * metric and lets only later ones through, so a stored series has each reading once.
 */
import type { Clock } from '../runtime/clock';
import type { Reading } from '../readings';

/** Newest reading instant (ms) per metric and meter; plain data so it can live in node context. */
export type SeenState = Record<string, number>;

function keyOf(reading: Reading): string {
  return `${reading.metric}|${reading.meterId}`;
}

export class NewReadingsFilter {
  private readonly newest = new Map<string, number>();

  constructor(initial?: unknown) {
    if (initial && typeof initial === 'object') {
      for (const [key, value] of Object.entries(initial as Record<string, unknown>)) {
        if (typeof value === 'number' && Number.isFinite(value)) this.newest.set(key, value);
      }
    }
  }

  /**
   * The readings newer than anything seen before for their meter, each once, in their order.
   * Readings of one batch are compared with the state before the batch, so a batch listing a
   * meter's readings newest first still passes in full.
   */
  take(readings: readonly Reading[]): Reading[] {
    const fresh: Reading[] = [];
    const inBatch = new Set<string>();
    const updates = new Map<string, number>();
    for (const reading of readings) {
      const key = keyOf(reading);
      const instant = Date.parse(reading.start);
      if (Number.isNaN(instant)) continue;
      const seen = this.newest.get(key);
      if (seen !== undefined && instant <= seen) continue;
      const id = `${key}|${instant}`;
      if (inBatch.has(id)) continue;
      inBatch.add(id);
      fresh.push(reading);
      updates.set(key, Math.max(updates.get(key) ?? -Infinity, instant));
    }
    for (const [key, instant] of updates) this.newest.set(key, instant);
    return fresh;
  }

  snapshot(): SeenState {
    return Object.fromEntries(this.newest);
  }

  clear(): void {
    this.newest.clear();
  }
}

export interface PollerOptions {
  intervalMs: number;
  clock: Clock;
  /** One poll; its errors go to `onError`, and polling goes on. */
  poll: (signal: AbortSignal) => Promise<void>;
  onError: (error: unknown) => void;
}

/**
 * Polls at once, then every `intervalMs` after the previous poll ended (so polls never overlap),
 * until stopped. Waits go through the Clock, so tests advance time instead of sleeping.
 */
export class Poller {
  private readonly controller = new AbortController();
  private loop?: Promise<void>;

  constructor(private readonly options: PollerOptions) {
    if (!(options.intervalMs > 0)) throw new RangeError('poll interval must be positive');
  }

  start(): void {
    this.loop ??= this.run();
  }

  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  /** Stops the timer and aborts a poll in flight; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.controller.abort(new Error('poller stopped'));
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      try {
        await this.options.poll(signal);
      } catch (error) {
        if (!signal.aborted) this.report(error);
      }
      try {
        await this.options.clock.sleep(this.options.intervalMs, signal);
      } catch {
        return;
      }
    }
  }

  private report(error: unknown): void {
    try {
      this.options.onError(error);
    } catch {
      // An error handler that throws must not end polling or escape from a timer.
    }
  }
}
