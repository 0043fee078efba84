/**
 * Delivers a persistent queue strictly in order, one item at a time: the oldest item is sent,
 * and only a success, a confirmation that an earlier attempt was stored, or a move to the
 * dead-letter file removes it and lets the next one go.
 *
 * - Failures the server may recover from wait the runtime layer's Backoff (one RetryPolicy).
 * - A failure only the user can fix (wrong key, API off) pauses delivery and probes slowly.
 * - An attempt that may have reached the server (timeout, connection cut after sending, a 5xx)
 *   makes the item "uncertain": before it is sent again the server is asked whether it stored it
 *   (`isStored`), so a slow server never gets the same reading twice.
 * - An item the server refuses (`reject`), or answers with the same server error more than
 *   `retry.maxRetries` times while it answers the stored-check fine (so reading works and only
 *   this item fails), goes to the dead-letter file so the rest of the queue flows.
 *
 * All waiting goes through an injectable Clock, so tests can run a ten-minute outage in
 * milliseconds.
 */
import type { Clock } from '../runtime/clock';
import { Backoff, type RetryPolicy } from '../runtime/backoff';
import type { DsmrReaderError } from './errors';
import type { QueueItem } from './queue';

/** What the worker needs of the queue (PersistentQueue satisfies it). */
export interface DeliveryQueue<T> {
  readonly length: number;
  readonly bytes: number;
  readonly dropped: number;
  peek(): QueueItem<T> | undefined;
  remove(seq: number): Promise<boolean>;
}

export type DeliveryPhase = 'idle' | 'sending' | 'backoff' | 'paused' | 'stopped';

export interface DeliveryState {
  phase: DeliveryPhase;
  queued: number;
  queuedBytes: number;
  /** Dropped because the queue was full, since the node started. */
  dropped: number;
  delivered: number;
  /** Moved to the dead-letter file since the node started. */
  deadLettered: number;
  /** Found already stored by the server after an uncertain attempt, so not sent again. */
  alreadyStored: number;
  /** Failed attempts in a row on the current item (0 when the last attempt worked). */
  failedAttempts: number;
  lastError?: DsmrReaderError;
  lastDeliveredAt?: number;
  nextAttemptAt?: number;
}

export interface DeliveryListener<T> {
  delivered?(item: QueueItem<T>): void;
  /** An uncertain item turned out to be stored already; it was removed without sending it again. */
  alreadyStored?(item: QueueItem<T>): void;
  /** The first failure after a success: the start of an outage. */
  outageStarted?(error: DsmrReaderError): void;
  /** Deliveries work again after `failedAttempts` failures. */
  recovered?(failedAttempts: number): void;
  /** The item is in the dead-letter file and left the queue; told once per item. */
  deadLettered?(item: QueueItem<T>, error: DsmrReaderError, attempts: number): void;
  /** Delivery paused for something the user must fix; told once per pause. */
  paused?(error: DsmrReaderError): void;
  /** Something went wrong in the loop itself (e.g. the queue file); the loop carries on. */
  internalError?(error: unknown): void;
  changed?(state: DeliveryState): void;
}

export interface DeliveryOptions<T> {
  queue: DeliveryQueue<T>;
  /** Sends one item; resolves on success, rejects with whatever the transport threw. */
  send(item: QueueItem<T>, signal: AbortSignal): Promise<unknown>;
  /**
   * Asks the server whether it stored this item: true or false, undefined when the item cannot
   * be identified there (the answer still shows the server works). Rejects like `send`.
   */
  isStored?(item: QueueItem<T>, signal: AbortSignal): Promise<boolean | undefined>;
  /** Items that must be checked before their first attempt (e.g. dead letters sent again). */
  needsCheck?(item: QueueItem<T>): boolean;
  /** Turns a failure into an error whose `action` says retry, pause, reject or stop. */
  classify(error: unknown, item: QueueItem<T>): DsmrReaderError;
  /** Keeps the item durably in the dead-letter file; resolves once it is on disk. */
  deadLetter(item: QueueItem<T>, error: DsmrReaderError, attempts: number): Promise<void>;
  clock: Clock;
  /**
   * Backoff between attempts during an outage; `maxRetries` is how often one item may get the
   * same server error (while the server otherwise answers) before it is dead-lettered.
   */
  retry: RetryPolicy;
  /** How often a paused queue checks whether the problem is gone. */
  pauseProbeMs: number;
  random?: () => number;
  listener?: DeliveryListener<T>;
}

/** The same failure of the same item, attempt after attempt. */
interface Streak {
  seq: number;
  key: string;
  attempts: number;
}

export class DeliveryWorker<T> {
  private readonly options: DeliveryOptions<T>;
  private readonly backoff: Backoff;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private paused = false;
  private readonly counters = { delivered: 0, deadLettered: 0, alreadyStored: 0, failedAttempts: 0 };
  private phase: DeliveryPhase = 'idle';
  private lastError: DsmrReaderError | undefined;
  private lastDeliveredAt: number | undefined;
  private nextAttemptAt: number | undefined;
  /** The item whose last attempt may have reached the server. */
  private uncertainSeq: number | undefined;
  /** The item already checked once because `needsCheck` asked for it. */
  private checkedSeq: number | undefined;
  /** True when the server answered the stored-check since the item's last failure. */
  private serverAnswered = false;
  private streak: Streak | undefined;

  constructor(options: DeliveryOptions<T>) {
    this.options = options;
    this.backoff = new Backoff(options.retry, options.random);
  }

  get state(): DeliveryState {
    const { queue } = this.options;
    return {
      phase: this.phase,
      queued: queue.length,
      queuedBytes: queue.bytes,
      dropped: queue.dropped,
      delivered: this.counters.delivered,
      deadLettered: this.counters.deadLettered,
      alreadyStored: this.counters.alreadyStored,
      failedAttempts: this.counters.failedAttempts,
      lastError: this.lastError,
      lastDeliveredAt: this.lastDeliveredAt,
      nextAttemptAt: this.nextAttemptAt,
    };
  }

  start(): void {
    // The oldest item may have been in flight when the node last stopped: check before resending.
    this.uncertainSeq ??= this.options.queue.peek()?.seq;
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
        await this.wait(this.options.retry.maxDelayMs, signal);
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
    const item = this.options.queue.peek();
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
      if (await this.storedEarlier(item, signal)) {
        await this.succeeded(item, true);
        return;
      }
      await this.options.send(item, signal);
    } catch (error) {
      if (signal.aborted) return;
      const verdict = this.options.classify(error, item);
      if (verdict.maybeStored) this.uncertainSeq = item.seq;
      await this.failed(item, verdict, signal);
      return;
    }
    await this.succeeded(item, false);
  }

  /** Asks the server about an item whose earlier attempt may have been stored. */
  private async storedEarlier(item: QueueItem<T>, signal: AbortSignal): Promise<boolean> {
    const { isStored, needsCheck } = this.options;
    const uncertain = this.uncertainSeq === item.seq || (this.checkedSeq !== item.seq && needsCheck?.(item) === true);
    if (!isStored || !uncertain) return false;
    const stored = await isStored(item, signal);
    this.serverAnswered = true;
    this.uncertainSeq = undefined;
    this.checkedSeq = item.seq;
    return stored === true;
  }

  private async succeeded(item: QueueItem<T>, alreadyStored: boolean): Promise<void> {
    const { queue, listener } = this.options;
    await queue.remove(item.seq);
    if (alreadyStored) this.counters.alreadyStored += 1;
    else this.counters.delivered += 1;
    this.lastDeliveredAt = this.options.clock.now();
    this.uncertainSeq = undefined;
    this.streak = undefined;
    this.backoff.reset();
    if (this.counters.failedAttempts > 0 || this.paused) {
      listener?.recovered?.(this.counters.failedAttempts);
      this.counters.failedAttempts = 0;
      this.paused = false;
      this.phase = 'sending';
    }
    this.lastError = undefined;
    if (alreadyStored) listener?.alreadyStored?.(item);
    else listener?.delivered?.(item);
    this.emitChange();
  }

  private async failed(item: QueueItem<T>, error: DsmrReaderError, signal: AbortSignal): Promise<void> {
    if (error.action === 'stop') {
      // The client was closed under us (its config node is being redeployed): not a failure of
      // DSMR-reader, and this node is normally stopped right after. Try again quietly.
      await this.wait(this.options.retry.baseDelayMs, signal);
      return;
    }
    this.lastError = error;
    if (error.action === 'reject') {
      // The server answered, so it is up: only this item is bad.
      await this.toDeadLetters(item, error, 1);
      return;
    }
    if (error.action === 'pause') {
      await this.pause(error, signal);
      return;
    }
    const attempts = this.countStreak(item, error);
    if (attempts > this.options.retry.maxRetries) {
      await this.toDeadLetters(item, error, attempts);
      return;
    }
    await this.retryLater(error, signal);
  }

  /**
   * Counts attempts of this item that failed with the same server answer while the server
   * answered the stored-check in between, i.e. failures that belong to the item.
   */
  private countStreak(item: QueueItem<T>, error: DsmrReaderError): number {
    const key = error.failureKey;
    const answered = this.serverAnswered || !this.options.isStored;
    this.serverAnswered = false;
    if (!key) {
      this.streak = undefined;
      return 0;
    }
    if (this.streak && this.streak.seq === item.seq && this.streak.key === key) {
      if (answered) this.streak.attempts += 1;
    } else {
      this.streak = { seq: item.seq, key, attempts: 1 };
    }
    return this.streak.attempts;
  }

  private async toDeadLetters(item: QueueItem<T>, error: DsmrReaderError, attempts: number): Promise<void> {
    const { queue, listener } = this.options;
    // On disk in the dead-letter file first: a crash in between keeps the item in both, never in neither.
    await this.options.deadLetter(item, error, attempts);
    await queue.remove(item.seq);
    this.counters.deadLettered += 1;
    this.counters.failedAttempts = 0;
    this.paused = false;
    this.uncertainSeq = undefined;
    this.streak = undefined;
    this.backoff.reset();
    listener?.deadLettered?.(item, error, attempts);
    this.emitChange();
  }

  private async pause(error: DsmrReaderError, signal: AbortSignal): Promise<void> {
    if (!this.paused) {
      this.paused = true;
      this.options.listener?.paused?.(error);
    }
    this.phase = 'paused';
    this.counters.failedAttempts += 1;
    this.nextAttemptAt = this.options.clock.now() + this.options.pauseProbeMs;
    this.emitChange();
    await this.wait(this.options.pauseProbeMs, signal);
  }

  private async retryLater(error: DsmrReaderError, signal: AbortSignal): Promise<void> {
    const { retry, listener } = this.options;
    this.counters.failedAttempts += 1;
    if (this.counters.failedAttempts === 1 && !this.paused) listener?.outageStarted?.(error);
    let delay = this.backoff.nextDelay();
    // A paused queue keeps its slow pace: the user's problem may still be there behind the outage.
    if (this.paused) delay = this.options.pauseProbeMs;
    else if (error.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(error.retryAfterMs, retry.maxRetryAfterMs));
    this.phase = this.paused ? 'paused' : 'backoff';
    this.nextAttemptAt = this.options.clock.now() + delay;
    this.emitChange();
    await this.wait(delay, signal);
  }
}
