import type { HttpRequester, RetryEvent } from '../http/client';
import { ServiceError, ServiceErrorDetails, isServiceError } from '../http/errors';
import { CollectionRefusal, explainCollectionRefusal, explainUtilityApiError, listUids } from './errors';
import { DEFAULT_BATCH_SIZE, chunk } from './request';
import type { HistoricalCollectionResponse } from './types';

export interface HistoricalCollectionRequest {
  /** Unique meter uids, already validated (see `parseMeterUids`). */
  meters: readonly string[];
  /** Months, 1–36; omitted to let UtilityAPI use the plan's default. */
  collectionDuration?: number;
  /** Meters per POST; UtilityAPI sets no limit, but one huge request is one huge failure. */
  batchSize?: number;
}

/** A batch UtilityAPI refused (400/404) while other batches went through. */
export interface RejectedBatch {
  meters: string[];
  status?: number;
  /** The 400 error type UtilityAPI gave, e.g. `expired_or_revoked`. */
  type?: string;
  reason: string;
}

export interface HistoricalCollectionResult {
  /** Meters UtilityAPI started collecting for, as it listed them. */
  triggered: string[];
  /**
   * Meters sent but not in UtilityAPI's answer: it silently drops meters whose authorization
   * is revoked or expired. Also the meters of a rejected batch.
   */
  ignored: string[];
  /** The months UtilityAPI confirmed, else the months requested, else null (plan default). */
  collectionDuration: number | null;
  requested: number;
  batches: number;
  rejected: RejectedBatch[];
}

export interface TriggerOptions {
  signal?: AbortSignal;
  /** Called before each batch is sent (1-based), for a progress status. */
  onBatch?: (batch: number, batches: number) => void;
  onRetry?: (event: RetryEvent) => void;
}

/** A failure after some batches were already triggered; `partial` says which, so nothing is lost. */
export class CollectionError extends ServiceError {
  readonly partial: HistoricalCollectionResult;
  constructor(message: string, details: ServiceErrorDetails, partial: HistoricalCollectionResult) {
    super(message, details);
    this.partial = partial;
  }
}

/**
 * POSTs /meters/historical-collection for every batch of meters, one batch at a time, and works
 * out which meters UtilityAPI ignored. A batch refused with 400 ("all meters revoked or expired")
 * or 404 ("none of these meters") only concerns its own meters, as it would have been silently
 * dropped from a single large request; the call fails only when every batch is refused. Any other
 * error (401, 402, 429 or 5xx after the client's retries) stops at once.
 */
export async function triggerHistoricalCollection(
  client: HttpRequester,
  request: HistoricalCollectionRequest,
  options: TriggerOptions = {},
): Promise<HistoricalCollectionResult> {
  const batches = chunk(request.meters, request.batchSize ?? DEFAULT_BATCH_SIZE);
  const result: HistoricalCollectionResult = {
    triggered: [],
    ignored: [],
    collectionDuration: request.collectionDuration ?? null,
    requested: request.meters.length,
    batches: batches.length,
    rejected: [],
  };
  let confirmedDuration: number | undefined;
  let firstRejection: unknown;
  for (const [index, meters] of batches.entries()) {
    options.onBatch?.(index + 1, batches.length);
    const body: { meters: string[]; collection_duration?: number } = { meters };
    if (request.collectionDuration !== undefined) body.collection_duration = request.collectionDuration;
    let data: HistoricalCollectionResponse | null;
    try {
      const response = await client.request<string>({
        method: 'POST',
        path: '/meters/historical-collection',
        json: body,
        // A 400 comes back as a response so its error type can be read from the body.
        responseType: 'text',
        acceptStatus: [400],
        what: 'triggering a historical collection',
        signal: options.signal,
        onRetry: options.onRetry,
      });
      if (response.status === 400) throw explainCollectionRefusal(response.data, meters);
      data = parseCollectionAnswer(response.data);
    } catch (error) {
      const explained = error instanceof CollectionRefusal ? error : explainUtilityApiError(error, 'trigger', meters);
      if (isServiceError(error) && (error.status === 400 || error.status === 404)) {
        firstRejection ??= explained;
        const type = error instanceof CollectionRefusal ? error.errorType : undefined;
        result.rejected.push({ meters, status: error.status, ...(type ? { type } : {}), reason: (explained as Error).message });
        result.ignored.push(...meters);
        continue;
      }
      throw withPartial(explained, result);
    }
    const returned = uidsIn(data);
    if (!returned) {
      throw withPartial(
        new ServiceError('UtilityAPI answered the historical collection without a list of meters, so it is unknown which were triggered. Check that the base URL points at https://utilityapi.com/api/v2.', {
          code: 'INVALID_RESPONSE',
          service: 'utilityapi',
        }),
        result,
      );
    }
    const returnedSet = new Set(returned);
    for (const uid of returned) if (!result.triggered.includes(uid)) result.triggered.push(uid);
    for (const uid of meters) if (!returnedSet.has(uid)) result.ignored.push(uid);
    if (typeof data?.collection_duration === 'number') confirmedDuration ??= data.collection_duration;
  }
  if (result.triggered.length === 0 && result.rejected.length === batches.length && firstRejection) {
    throw firstRejection;
  }
  if (confirmedDuration !== undefined) result.collectionDuration = confirmedDuration;
  return result;
}

/**
 * The success body. It is parsed here, not retried by the client: a cut-off answer to a paid POST
 * must not trigger the collection a second time.
 */
function parseCollectionAnswer(text: string | null): HistoricalCollectionResponse | null {
  if (!text || text.trim() === '') return null;
  try {
    return JSON.parse(text) as HistoricalCollectionResponse;
  } catch {
    throw new ServiceError('UtilityAPI\'s answer to the historical collection was not valid JSON (it may have been cut off), so it is unknown which meters were triggered. Check the meters\' status in the UtilityAPI dashboard before triggering them again.', {
      code: 'INVALID_RESPONSE',
      service: 'utilityapi',
    });
  }
}

function uidsIn(data: HistoricalCollectionResponse | null): string[] | undefined {
  if (!data || typeof data !== 'object' || !Array.isArray(data.meters)) return undefined;
  const uids: string[] = [];
  for (const entry of data.meters) {
    const uid = typeof entry === 'string' || typeof entry === 'number' ? String(entry) : entry && typeof entry === 'object' ? (entry as { uid?: unknown }).uid : undefined;
    if (typeof uid === 'string' || typeof uid === 'number') uids.push(String(uid));
  }
  return uids;
}

function withPartial(error: unknown, partial: HistoricalCollectionResult): unknown {
  if (!isServiceError(error) || (partial.triggered.length === 0 && partial.rejected.length === 0)) return error;
  const done = partial.triggered.length
    ? ` The collection was already triggered for ${partial.triggered.length} meter(s) (${listUids(partial.triggered)}); msg.payload lists them, so do not trigger those again.`
    : '';
  return new CollectionError(`${error.message}${done}`, {
    code: error.code,
    status: error.status,
    service: error.service,
    serviceMessage: error.serviceMessage,
    retryable: error.retryable,
    retryAfterMs: error.retryAfterMs,
    attempts: error.attempts,
    cause: error,
  }, partial);
}
