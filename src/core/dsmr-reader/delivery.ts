/**
 * Delivers a persistent queue strictly in order, one item at a time: the oldest item is sent,
 * and only a success (or a permanent refusal of that item) removes it and lets the next one go.
 * Failures the server may recover from are retried with exponential backoff and jitter; a
 * failure only the user can fix pauses delivery and probes at a slow pace. All waiting goes
 * through an injectable Clock, so tests can run a ten-minute outage in milliseconds.
 */
import type { Clock } from '../runtime/clock';
import { backoffDelay } from '../runtime/backoff';
import type { DsmrReaderError } from './errors';
import type { PersistentQueue, QueueItem } from './queue';

export type DeliveryPhase = 'idle' | 'sending' | 'backoff' | 'paused' | 'stopped';

export interface DeliveryState {
  phase: DeliveryPhase;
  queued: number;
  queuedBytes: number;
  /** Dropped because the queue was full, since the node started. */
  dropped: number;
  delivered: number;
  /** Refused permanently by the server and removed. */
  rejected: number;
  /** Failed attempts in a row on the current item (0 when the last attempt worked). */
  failedAttempts: number;
  lastError?: DsmrReaderError;
  lastDeliveredAt?: number;
  nextAttemptAt?: number;
}

export interface DeliveryListener<T> {
  delivered?(item: QueueItem<T>): void;
  /** The first failure after a success: the start of an outage. */
  outageStarted?(error: DsmrReaderError): void;
  /** Deliveries work again after `failedAttempts` failures. */
  recovered?(failedAttempts: number): void;
  rejected?(item: QueueItem<T>, error: DsmrReaderError): void;
  /** Delivery paused for something the user must fix; told once per pause. */
  paused?(error: DsmrReaderError): void;
  /** Something went wrong in the loop itself (e.g. the queue file); the loop carries on. */
  internalError?(error: unknown): void;
  changed?(state: DeliveryState): void;
}

export interface DeliveryOptions<T> {
  queue: PersistentQueue<T>;
  /** Sends one item; resolves on success, rejects with whatever the transport threw. */
  send(item: QueueItem<T>, signal: AbortSignal): Promise<unknown>;
  /** Turns a failure into an error whose `action` says retry, pause, reject or stop. */
  classify(error: unknown, item: QueueItem<T>): DsmrReaderError;
  clock: Clock;
  baseDelayMs: number;
  maxDelayMs: number;
  /** How often a paused queue checks whether the problem is gone. */
  pauseProbeMs: number;
  random?: () => number;
  listener?: DeliveryListener<T>;
}

export class DeliveryWorker<T> {
  private readonly options: DeliveryOptions<T>;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private paused = false;
  private readonly counters = { delivered: 0, rejected: 0, failedAttempts: 0 };
  private phase: DeliveryPhase = 'idle';
  private lastError: DsmrReaderError | undefined;
  private lastDeliveredAt: number | undefined;
  private nextAttemptAt: number | undefined;

  constructor(options: DeliveryOptions<T>) {
    this.options = options;
  }

  get state(): DeliveryState {
    const { queue } = this.options;
    return {
      phase: this.phase,
      queued: queue.length,
      queuedBytes: queue.bytes,
      dropped: queue.dropped,
      delivered: this.counters.delivered,
      rejected: this.counters.rejected,
      failedAttempts: this.counters.failedAttempts,
      lastError: this.lastError,
      lastDeliveredAt: this.lastDeliveredAt,
      nextAttemptAt: this.nextAttemptAt,
    };
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Tells an idle worker that an item was queued. A worker in backoff or paused keeps waiting. */
  notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Stops after aborting the request in flight; the item stays queued for the next start. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.notify();
    await this.loop;
  }

  private emitChange(): void {
    this.options.listener?.changed?.(this.state);
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      try {
        await this.step(signal);
      } catch (error) {
        if (signal.aborted) break;
        this.options.listener?.internalError?.(error);
        await this.wait(this.options.maxDelayMs, signal);
      }
    }
    this.phase = 'stopped';
    this.nextAttemptAt = undefined;
  }

  private async wait(ms: number, signal: AbortSignal): Promise<void> {
    this.nextAttemptAt = this.options.clock.now() + ms;
    try {
      await this.options.clock.sleep(ms, signal);
    } catch {
      // Aborted by stop(): the loop condition ends the run.
    } finally {
      this.nextAttemptAt = undefined;
    }
  }

  private waitForItem(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async step(signal: AbortSignal): Promise<void> {
    const { queue, listener } = this.options;
    const item = queue.peek();
    if (!item) {
      if (this.phase !== 'idle') {
        this.phase = 'idle';
        this.emitChange();
      }
      await this.waitForItem(signal);
      return;
    }
    if (!this.paused && this.phase !== 'sending') {
      this.phase = 'sending';
      this.emitChange();
    }
    try {
      await this.options.send(item, signal);
    } catch (error) {
      if (signal.aborted) return;
      await this.failed(item, this.options.classify(error, item), signal);
      return;
    }
    await queue.remove(item.seq);
    this.counters.delivered += 1;
    this.lastDeliveredAt = this.options.clock.now();
    if (this.counters.failedAttempts > 0 || this.paused) {
      listener?.recovered?.(this.counters.failedAttempts);
      this.counters.failedAttempts = 0;
      this.paused = false;
      this.lastError = undefined;
      this.phase = 'sending';
    } else if (this.lastError?.action === 'reject') {
      this.lastError = undefined;
    }
    listener?.delivered?.(item);
    this.emitChange();
  }

  private async failed(item: QueueItem<T>, error: DsmrReaderError, signal: AbortSignal): Promise<void> {
    const { queue, listener } = this.options;
    if (error.action === 'stop') {
      // The client was closed under us (its config node is being redeployed): not a failure of
      // DSMR-reader, and this node is normally stopped right after. Try again quietly.
      await this.wait(this.options.baseDelayMs, signal);
      return;
    }
    this.lastError = error;
    switch (error.action) {
      case 'reject':
        // The server answered, so it is up: only this item is bad.
        await queue.remove(item.seq);
        this.counters.rejected += 1;
        this.counters.failedAttempts = 0;
        this.paused = false;
        listener?.rejected?.(item, error);
        this.emitChange();
        return;
      case 'pause':
        if (!this.paused) {
          this.paused = true;
          listener?.paused?.(error);
        }
        this.phase = 'paused';
        this.counters.failedAttempts += 1;
        this.nextAttemptAt = this.options.clock.now() + this.options.pauseProbeMs;
        this.emitChange();
        await this.wait(this.options.pauseProbeMs, signal);
        return;
      default: {
        this.counters.failedAttempts += 1;
        if (this.counters.failedAttempts === 1 && !this.paused) listener?.outageStarted?.(error);
        // A paused queue keeps its slow pace: the user's problem may still be there behind the outage.
        const delay = this.paused
          ? this.options.pauseProbeMs
          : backoffDelay(this.counters.failedAttempts, { baseDelayMs: this.options.baseDelayMs, maxDelayMs: this.options.maxDelayMs, jitter: true }, this.options.random);
        this.phase = this.paused ? 'paused' : 'backoff';
        this.nextAttemptAt = this.options.clock.now() + delay;
        this.emitChange();
        await this.wait(delay, signal);
      }
    }
  }
}
