/**
 * What metry-stream does, without Node-RED: find or create the account's consumption stream,
 * resume from its `last_offset`, and then, batch after batch, emit the records as readings and
 * wait until the flow confirms they were stored before the batch's offset is sent (which commits
 * it in Metry). Metry's rules (API Blueprint, "Consuming streams"): consume one batch after the
 * other, sending the offset of the last response; after a response without records wait at least
 * 60 seconds; one consumer per stream (parallel requests get 429); after a crash resume from the
 * stream's `last_offset` ("at-least-once").
 *
 * The confirmation, the Node-RED way: every readings message carries `msg.streamBatch`
 * `{streamId, offset, delivery, index, count}`; the storage node's output (or a `complete` node
 * watching it) is wired back into the node's input. When every message of the delivery came back,
 * the batch is stored and its offset goes out with the next request. A message carrying
 * `msg.error` (a Catch node on the storage node) or no confirmation within the configured time
 * means not stored: the same offset is sent again after a backoff, so Metry delivers the same
 * batch again. Nothing is skipped; a batch may be stored twice, which an upsert makes harmless.
 */
import type { HttpRequester } from '../http/client';
import { isServiceError } from '../http/errors';
import type { Reading } from '../readings';
import { Backoff, BackoffPolicy } from '../runtime/backoff';
import type { Clock } from '../runtime/clock';
import { readChoice, readNumber } from '../runtime/options';
import { StatusView, errorStatus, statusView } from '../runtime/status';
import { SlotTexts } from './convert';
import { MetryStream, MetryStreamClient, StreamBatch, StreamGranularity, offsetAfter } from './stream-client';
import { RejectedValue, StreamMeter, convertStreamRecord } from './stream-convert';

export interface StreamSettings {
  /** `null`: one stream with every granularity. */
  granularity: StreamGranularity;
  /** Readings in one message at most; a meter's readings of a batch are split beyond it. */
  maxReadings: number;
  /** How long a delivery may wait for its storage confirmation before it is delivered again. */
  confirmTimeoutMs: number;
  /** The wait after a response without records; Metry asks for at least 60 s. */
  idleMs: number;
}

/** The node's saved fields this module reads. */
export interface StreamConfig {
  granularity?: unknown;
  maxReadings?: unknown;
  confirmTimeout?: unknown;
  idleInterval?: unknown;
}

export function readStreamSettings(config: StreamConfig): StreamSettings {
  const granularity = readChoice(config.granularity, 'Granularity', ['month', 'day', 'hour', 'all'] as const, 'day');
  return {
    granularity: granularity === 'all' ? null : granularity,
    maxReadings: readNumber(config.maxReadings, { field: 'Readings per message', min: 1, max: 100_000, default: 1000, integer: true }),
    confirmTimeoutMs: readNumber(config.confirmTimeout, { field: 'Storage confirmation', min: 1, max: 86_400, default: 120, unit: 'seconds' }) * 1000,
    idleMs: readNumber(config.idleInterval, { field: 'When up to date', min: 60, max: 86_400, default: 300, unit: 'seconds' }) * 1000,
  };
}

/** What goes out with every readings message and comes back as the storage confirmation. */
export interface StreamBatchToken {
  streamId: string;
  /** The batch's offset (digits): sent with the next request once the batch is stored. */
  offset: string;
  /** This delivery of the batch; a re-delivery has a new one, so late answers are told apart. */
  delivery: string;
  index: number;
  count: number;
}

export interface StreamHost {
  /** Taken when the node starts, so a config problem is reported with a clear error. */
  requester(): HttpRequester;
  clock: Clock;
  newId(): string;
  /** Output 0: readings messages; output 1: rejected values (dead letters). */
  send(port: 0 | 1, msg: Record<string, unknown>): void;
  status(view: StatusView): void;
  /** A failure a Catch node should see. */
  error(error: Error): void;
  warn(text: string): void;
  log(text: string): void;
  random?: () => number;
}

/** Waits after a failed request or an unstored batch: 5 s doubling to 5 min, never giving up. */
export const STREAM_RETRY_BACKOFF: BackoffPolicy = { baseDelayMs: 5_000, maxDelayMs: 5 * 60_000, jitter: true };

type Outcome = { kind: 'stored' } | { kind: 'failed'; detail: string } | { kind: 'timeout' } | { kind: 'closed' };

interface Pending {
  delivery: string;
  count: number;
  confirmed: Set<number>;
  settle(outcome: Outcome): void;
}

export type Confirmation = 'stored' | 'failed' | 'stale' | 'ignored';

export class StreamController {
  private readonly lifetime = new AbortController();
  private readonly requestRetries: Backoff;
  private readonly storageRetries: Backoff;
  private pending?: Pending;
  private running?: Promise<void>;
  private reported?: string;
  private stream?: MetryStream;
  /** Readings confirmed stored since the node started. */
  stored = 0;

  constructor(
    private readonly settings: StreamSettings,
    private readonly host: StreamHost,
  ) {
    this.requestRetries = new Backoff(STREAM_RETRY_BACKOFF, host.random);
    this.storageRetries = new Backoff(STREAM_RETRY_BACKOFF, host.random);
  }

  get streamId(): string | undefined {
    return this.stream?.id;
  }

  start(): void {
    this.running ??= this.run().catch((error: unknown) => this.host.error(error as Error));
  }

  /** A message at the node's input: the storage confirmation (or failure) of a delivery. */
  receive(msg: Record<string, unknown>): Confirmation {
    const token = msg.streamBatch as Partial<StreamBatchToken> | undefined;
    if (!token || typeof token !== 'object' || typeof token.delivery !== 'string') return 'ignored';
    const pending = this.pending;
    if (!pending || token.delivery !== pending.delivery) return 'stale';
    if (msg.error !== undefined && msg.error !== null) {
      const detail = (msg.error as { message?: unknown }).message ?? msg.error;
      pending.settle({ kind: 'failed', detail: String(detail) });
      return 'failed';
    }
    const index = token.index ?? 0;
    if (!Number.isInteger(index) || index < 0 || index >= pending.count) return 'ignored';
    pending.confirmed.add(index);
    if (pending.confirmed.size === pending.count) pending.settle({ kind: 'stored' });
    return 'stored';
  }

  /** Stops: requests in flight are aborted and nothing more is sent; nothing unconfirmed is committed. */
  async close(): Promise<void> {
    this.lifetime.abort(new Error('closed'));
    this.pending?.settle({ kind: 'closed' });
    await this.running;
  }

  private get closed(): boolean {
    return this.lifetime.signal.aborted;
  }

  private async run(): Promise<void> {
    const client = await this.attempt(async () => new MetryStreamClient(this.host.requester()));
    while (client && !this.closed) {
      const opened = await this.attempt(() => this.open(client));
      if (!opened || !(await this.read(client, opened))) return;
      // The stream is gone (deleted in Metry): find or make the account's stream again, after a
      // wait, so a stream Metry lists but will not serve is not asked for in a tight loop.
      if (!(await this.sleep(this.requestRetries.nextDelay()))) return;
    }
  }

  /** Reads a stream batch after batch; false when the node stops, true when the stream is gone. */
  private async read(client: MetryStreamClient, stream: MetryStream): Promise<boolean> {
    let offset = stream.lastOffset;
    while (!this.closed) {
      const batch = await this.attempt(() => {
        this.host.status(statusView('working', 'consuming'));
        return this.consume(client, stream.id, offset);
      });
      if (!batch) return false;
      if (batch === 'gone') return true;
      if (batch.records.length === 0) {
        // Nothing to store: a later offset from an empty answer commits nothing unconfirmed.
        if (batch.offset !== null && (offset === null || offsetAfter(batch.offset, offset))) offset = batch.offset;
        this.host.status(statusView('success', 'idle', { readings: this.stored }));
        if (!(await this.sleep(this.settings.idleMs))) return false;
        continue;
      }
      const outcome = await this.deliver(stream.id, batch as StreamBatch & { offset: string });
      if (outcome.kind === 'closed') return false;
      if (outcome.kind === 'stored') {
        offset = batch.offset;
        this.storageRetries.reset();
        continue;
      }
      if (!(await this.sleep(this.notStored(outcome, batch.offset!)))) return false;
    }
    return false;
  }

  private async open(client: MetryStreamClient): Promise<MetryStream> {
    this.host.status(statusView('connecting', 'opening'));
    const { stream, created } = await client.findOrCreate(this.settings.granularity, this.lifetime.signal);
    this.stream = stream;
    const which = this.settings.granularity ?? 'all granularities';
    this.host.log(
      created
        ? `Created Metry consumption stream ${stream.id} (${which}); Metry pushes all history into it first.`
        : `Reading Metry consumption stream ${stream.id} (${which}) from ${stream.lastOffset === null ? 'its start' : `its last committed offset ${stream.lastOffset}`}.`,
    );
    return stream;
  }

  private async consume(client: MetryStreamClient, id: string, offset: string | null): Promise<StreamBatch | 'gone'> {
    let batch: StreamBatch;
    try {
      batch = await client.consume(id, offset, this.lifetime.signal);
    } catch (error) {
      if (!isServiceError(error) || error.code !== 'NOT_FOUND') throw error;
      this.host.warn(`Metry stream ${id} no longer exists (deleted?). Looking for the account's consumption stream again, or creating one: a new stream starts with all history, which the upsert stores again harmlessly.`);
      return 'gone';
    }
    if (batch.records.length > 0 && offset !== null && !offsetAfter(batch.offset!, offset)) {
      throw Object.assign(new Error(`Metry sent a stream batch with offset ${batch.offset}, not after ${offset}: sending it would commit nothing, so the stream would never move on. Report this to Metry.`), { code: 'INVALID_RESPONSE' });
    }
    return batch;
  }

  /** Emits a batch and waits for its storage confirmation; rejected values go to output 1. */
  private deliver(streamId: string, batch: StreamBatch & { offset: string }): Promise<Outcome> {
    const slots = new SlotTexts();
    const parts: { meter: StreamMeter; readings: Reading[] }[] = [];
    const rejected: RejectedValue[] = [];
    for (const record of batch.records) {
      const converted = convertStreamRecord(record, slots);
      rejected.push(...converted.rejected);
      for (let i = 0; converted.meter && i < converted.readings.length; i += this.settings.maxReadings) {
        parts.push({ meter: converted.meter, readings: converted.readings.slice(i, i + this.settings.maxReadings) });
      }
    }
    if (rejected.length > 0) {
      this.host.warn(`${rejected.length} value(s) of stream batch ${batch.offset} failed a check and were sent to the second output instead of becoming readings; first: ${rejected[0].reason}.`);
      this.host.send(1, { payload: rejected, stream: { id: streamId, offset: batch.offset } });
    }
    // A batch without a value to store is done; its offset goes out with the next request.
    if (parts.length === 0) return Promise.resolve({ kind: 'stored' });
    const delivery = this.host.newId();
    const readings = parts.reduce((sum, part) => sum + part.readings.length, 0);
    const confirmation = this.awaitConfirmation(delivery, parts.length, readings);
    this.host.status(statusView('working', 'storing', { readings }));
    parts.forEach((part, index) => {
      const token: StreamBatchToken = { streamId, offset: batch.offset, delivery, index, count: parts.length };
      this.host.send(0, { payload: part.readings, meter: part.meter, streamBatch: token, parts: { id: delivery, index, count: parts.length, type: 'array' } });
    });
    return confirmation;
  }

  private awaitConfirmation(delivery: string, count: number, readings: number): Promise<Outcome> {
    return new Promise((resolve) => {
      const timer = this.host.clock.setTimer(() => pending.settle({ kind: 'timeout' }), this.settings.confirmTimeoutMs);
      const pending: Pending = {
        delivery,
        count,
        confirmed: new Set(),
        settle: (outcome) => {
          if (this.pending !== pending) return;
          this.pending = undefined;
          this.host.clock.clearTimer(timer);
          if (outcome.kind === 'stored') this.stored += readings;
          resolve(outcome);
        },
      };
      this.pending = pending;
    });
  }

  /** Reports a batch that was not stored; returns the wait before it is delivered again. */
  private notStored(outcome: Outcome, offset: string): number {
    const delay = this.storageRetries.nextDelay();
    const seconds = Math.round(delay / 1000);
    const why =
      outcome.kind === 'timeout'
        ? `no storage confirmation came within ${this.settings.confirmTimeoutMs / 1000} s. Wire the storage node's output (or a complete node watching it) back into this node's input, keeping msg.streamBatch`
        : `the storage reported: ${(outcome as { detail: string }).detail}`;
    this.host.warn(`Stream batch ${offset} was not stored: ${why}. Its offset is not committed; the batch is delivered again in ${seconds} s.`);
    this.host.status(statusView('retrying', 'notStored', { seconds }));
    return delay;
  }

  /** Runs a request until it succeeds; undefined when the node closed or cannot work (config). */
  private async attempt<T>(request: () => Promise<T>): Promise<T | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      try {
        const result = await request();
        this.requestRetries.reset();
        this.reported = undefined;
        return result;
      } catch (error) {
        const code = (error as { code?: unknown })?.code;
        if (this.closed || code === 'CANCELLED') return undefined;
        if (code === 'CONFIG') {
          this.host.error(error as Error);
          this.host.status(errorStatus('config'));
          return undefined;
        }
        if (!(await this.sleep(this.requestFailed(error as Error)))) return undefined;
      }
    }
  }

  /** Reports a failed request, once per series of the same failure; returns the wait. */
  private requestFailed(error: Error): number {
    const delay = this.requestRetries.nextDelay();
    const seconds = Math.round(delay / 1000);
    const rateLimited = isServiceError(error) && error.code === 'RATE_LIMITED';
    const code = isServiceError(error) ? error.statusText : String((error as { code?: unknown }).code ?? 'error').toLowerCase();
    if (this.reported !== code) {
      this.reported = code;
      const text = rateLimited
        ? `Metry answered 429 (too many requests) while consuming stream ${this.stream?.id ?? ''}. Only one consumer may read a stream at a time: check that no other metry-stream node, flow, Node-RED instance or program consumes this account's ${this.settings.granularity ?? 'all-granularities'} consumption stream. Trying again in ${seconds} s, longer each time.`
        : `${error.message} Trying again in ${seconds} s.`;
      this.host.error(Object.assign(new Error(text), { code: isServiceError(error) ? error.code : code, status: isServiceError(error) ? error.status : undefined }));
    }
    this.host.status(rateLimited ? statusView('retrying', 'conflict', { seconds }) : statusView('retrying', 'retrying', { code, seconds }));
    return delay;
  }

  private async sleep(ms: number): Promise<boolean> {
    try {
      await this.host.clock.sleep(ms, this.lifetime.signal);
      return true;
    } catch {
      return false;
    }
  }
}
