/**
 * What one message to the utilityapi-historical node does, without Node-RED: trigger the paid
 * collection, optionally wait until each meter is collected, and export each collected meter's
 * intervals page by page. The adapter only turns the handlers' calls into messages and statuses.
 *
 * Each meter is handled on its own: a meter whose intervals cannot be fetched is reported with
 * its uid while the others are still delivered and the wait goes on, because every meter's
 * collection was paid for.
 */
import type { HttpRequester, RetryEvent } from '../http/client';
import { ServiceError, isServiceError } from '../http/errors';
import type { Reading } from '../readings';
import type { Clock } from '../runtime/clock';
import { StatusView, statusView } from '../runtime/status';
import { HistoricalCollectionResult, triggerHistoricalCollection } from './collection';
import { MeterOutcome, waitForCollection } from './collection-poller';
import { IntervalWindow, intervalPages, windowOfMonths } from './intervals';
import { MAX_COLLECTION_MONTHS } from './request';
import type { HistoricalSettings } from './settings';

export interface HistoricalRequest {
  /** Unique meter uids, already validated. */
  meters: string[];
  collectionDuration?: number;
  /** The message's own interval window (`msg.start`/`msg.end`); else the collection's months. */
  window?: IntervalWindow;
}

/** How far one meter's interval export has come. */
export interface IntervalProgress {
  /** The page just delivered (1 for the first). */
  page: number;
  /** No page follows. */
  last: boolean;
  /** Readings of this meter delivered so far, this page included. */
  readings: number;
  window: IntervalWindow;
  /** Start of the newest reading delivered so far. */
  reached?: string;
}

/** A collected meter, or (with intervals) one page of its readings. */
export interface MeterDelivery {
  outcome: MeterOutcome;
  readings?: Reading[];
  intervals?: IntervalProgress;
}

/** A collected meter whose intervals could not be (completely) fetched. */
export interface MeterFailure {
  outcome: MeterOutcome;
  error: ServiceError;
  /** What was delivered of it before the failure; undefined when nothing was. */
  intervals?: IntervalProgress;
}

export interface HistoricalRunHandlers {
  status(view: StatusView): void;
  triggered(result: HistoricalCollectionResult): void;
  delivered(delivery: MeterDelivery): void;
  failed(failure: MeterFailure): void;
}

export interface RunContext {
  clock: Clock;
  signal?: AbortSignal;
}

export interface RunSummary {
  result: HistoricalCollectionResult;
  collected: number;
  withNotes: number;
  failed: number;
}

/** The status while a request waits to be retried. */
export function retryStatus(event: RetryEvent): StatusView {
  if (event.error.code === 'RATE_LIMITED') return statusView('retrying', 'rateLimited', { seconds: Math.ceil(event.delayMs / 1000) });
  return statusView('retrying', 'retrying', { code: event.error.statusText, attempt: event.attempt });
}

export async function runHistoricalCollection(client: HttpRequester, settings: HistoricalSettings, request: HistoricalRequest, handlers: HistoricalRunHandlers, context: RunContext): Promise<RunSummary> {
  const onRetry = (event: RetryEvent): void => handlers.status(retryStatus(event));
  handlers.status(statusView('working', 'triggering'));
  const result = await triggerHistoricalCollection(client, { meters: request.meters, collectionDuration: request.collectionDuration, batchSize: settings.batchSize }, {
    signal: context.signal,
    onRetry,
    onBatch: (batch, batches) => batches > 1 && handlers.status(statusView('working', 'batches', { batch, batches })),
  });
  handlers.triggered(result);
  const summary: RunSummary = { result, collected: 0, withNotes: 0, failed: 0 };
  if (!settings.wait || result.triggered.length === 0) {
    const counts = { triggered: result.triggered.length, ignored: result.ignored.length };
    handlers.status(result.ignored.length ? statusView('warning', 'triggeredIgnored', counts) : statusView('success', 'triggered', counts));
    return summary;
  }

  const total = result.triggered.length;
  handlers.status(statusView('working', 'waiting', { finished: 0, total }));
  const window = request.window ?? windowOfMonths(context.clock.now(), settings.intervalMonths ?? result.collectionDuration ?? MAX_COLLECTION_MONTHS);
  const outcomes = waitForCollection(client, result.triggered, {
    intervalMs: settings.pollIntervalMs,
    timeoutMs: settings.waitTimeoutMs,
    clock: context.clock,
    signal: context.signal,
    batchSize: settings.batchSize,
    onRetry,
    onProgress: (finished) => handlers.status(statusView('working', 'waiting', { finished, total })),
  });
  for await (const outcome of outcomes) {
    summary.collected += 1;
    if (outcome.problems.length) summary.withNotes += 1;
    if (!settings.fetchIntervals || !outcome.meter) handlers.delivered({ outcome });
    else if (!(await exportIntervals(client, outcome, window, settings, handlers, { signal: context.signal, onRetry }))) summary.failed += 1;
  }
  handlers.status(finalStatus(summary));
  return summary;
}

function finalStatus(summary: RunSummary): StatusView {
  const { collected, withNotes: notes, failed } = summary;
  if (failed) return statusView('warning', 'collectedFailed', { collected, failed });
  if (notes) return statusView('warning', 'collectedNotes', { collected, notes });
  return statusView('success', 'collected', { collected });
}

/**
 * Delivers one meter's readings page by page. Returns false when the export failed; the failure
 * is reported with the meter's uid and what was delivered, and the other meters go on. Only a
 * closing node (CANCELLED) ends everything.
 */
async function exportIntervals(
  client: HttpRequester,
  outcome: MeterOutcome,
  window: IntervalWindow,
  settings: HistoricalSettings,
  handlers: HistoricalRunHandlers,
  options: { signal?: AbortSignal; onRetry: (event: RetryEvent) => void },
): Promise<boolean> {
  let progress: IntervalProgress | undefined;
  handlers.status(statusView('working', 'intervals', { uid: outcome.uid, page: 1, reached: window.start ?? '' }));
  try {
    for await (const page of intervalPages(client, outcome.uid, { window, allowMixed: settings.allowMixed, signal: options.signal, onRetry: options.onRetry })) {
      progress = { page: page.index, last: page.last, readings: (progress?.readings ?? 0) + page.readings.length, window, reached: page.reached ?? progress?.reached };
      handlers.delivered({ outcome, readings: page.readings, intervals: progress });
      handlers.status(statusView('working', 'intervals', { uid: outcome.uid, page: page.index + 1, reached: (progress.reached ?? window.start ?? '').slice(0, 10) }));
    }
    return true;
  } catch (error) {
    if (isServiceError(error) && error.code === 'CANCELLED') throw error;
    handlers.failed({ outcome, error: meterError(error, outcome.uid, progress), ...(progress ? { intervals: progress } : {}) });
    return false;
  }
}

/** The export failure in the words of one meter: which one, what was sent already, how to resume. */
function meterError(error: unknown, uid: string, progress: IntervalProgress | undefined): ServiceError {
  const cause = isServiceError(error) ? error : undefined;
  const text = error instanceof Error ? error.message : String(error);
  const delivered = progress
    ? ` ${progress.page} page(s) with ${progress.readings} reading(s)${progress.reached ? ` up to ${progress.reached}` : ''} of this meter were sent before; to fetch the rest, send the meter again with msg.start = "${progress.reached ?? progress.window.start ?? ''}".`
    : ' None of its readings were sent.';
  return new ServiceError(`Meter ${uid}: the interval export failed. ${text}${delivered} The other meters were not affected.`, {
    code: cause?.code ?? 'HTTP_ERROR',
    status: cause?.status,
    service: 'utilityapi',
    serviceMessage: cause?.serviceMessage,
    attempts: cause?.attempts,
    cause: error,
  });
}
