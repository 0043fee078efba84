import type { HttpRequester, RetryEvent } from '../http/client';
import { cancelledError } from '../http/client';
import type { Clock } from '../runtime/clock';
import { ServiceError } from '../http/errors';
import { explainUtilityApiError, listUids } from './errors';
import { listPages } from './paging';
import { DEFAULT_BATCH_SIZE, chunk } from './request';
import type { Meter, MeterListing, MeterNote } from './types';

export interface ExplainedNote extends MeterNote {
  /** What the note means for the user, for the note types this package knows. */
  explanation?: string;
}

/** A meter whose collection is over (its status left `pending`), as one flow message. */
export interface MeterOutcome {
  uid: string;
  /** UtilityAPI's status; `not_found` when the meter no longer exists for this token. */
  status: string;
  statusMessage?: string;
  statusTs?: string;
  notes: ExplainedNote[];
  /** Explanations of the notes that need the user's attention (e.g. `access_invalid`). */
  problems: string[];
  /** The meter object as UtilityAPI sent it; null when it was not found. */
  meter: Meter | null;
}

export interface WaitOptions {
  /** Time between two status checks. */
  intervalMs: number;
  /** Give up on meters still pending after this long. */
  timeoutMs: number;
  clock: Clock;
  signal?: AbortSignal;
  /** Uids per status request. */
  batchSize?: number;
  /** After every check: how many meters have finished so far. */
  onProgress?: (finished: number, total: number) => void;
  onRetry?: (event: RetryEvent) => void;
}

/** Note types whose meaning is documented; the `msg` wording changes, so only `type` is trusted. */
const NOTE_EXPLANATIONS: Record<string, (note: MeterNote) => string> = {
  access_invalid: () => "The customer's utility login no longer works, so UtilityAPI cannot collect for this meter. Ask the customer to update the authorization's credentials, then trigger the collection again.",
  access_valid: () => "The customer's utility login works.",
  intervals_empty: () => 'The utility has no interval data for this meter (bills may still be available). Waiting longer will not change this.',
  bills_errored: () => 'UtilityAPI could not process some bills of this meter; see the note for details.',
  bills_strange: (note) => `UtilityAPI found something unusual in a bill${note.bill_uid ? ` (${String(note.bill_uid)})` : ''}; check it before relying on it.`,
  waiting: (note) => `UtilityAPI is waiting for the utility${note.eta ? ` (expected ${String(note.eta)})` : ''}.`,
  meter_full: () => 'UtilityAPI collected everything it could for this meter.',
};

/** Note types that mean the user has to do something, or that the data is incomplete. */
const PROBLEM_NOTES = new Set(['access_invalid', 'intervals_empty', 'bills_errored', 'bills_strange']);

export function explainNotes(notes: unknown): { notes: ExplainedNote[]; problems: string[] } {
  const explained: ExplainedNote[] = [];
  const problems: string[] = [];
  if (!Array.isArray(notes)) return { notes: explained, problems };
  for (const raw of notes) {
    if (!raw || typeof raw !== 'object' || typeof (raw as MeterNote).type !== 'string') continue;
    const note = raw as MeterNote;
    const explanation = NOTE_EXPLANATIONS[note.type]?.(note);
    explained.push(explanation ? { ...note, explanation } : { ...note });
    if (explanation && PROBLEM_NOTES.has(note.type) && !problems.includes(explanation)) problems.push(explanation);
  }
  return { notes: explained, problems };
}

export function meterOutcome(uid: string, meter: Meter | null): MeterOutcome {
  if (!meter) {
    return {
      uid,
      status: 'not_found',
      notes: [],
      problems: ['UtilityAPI no longer lists this meter for this API token (404); it may have been deleted or its authorization moved to another account.'],
      meter: null,
    };
  }
  const { notes, problems } = explainNotes(meter.notes);
  return {
    uid,
    status: typeof meter.status === 'string' && meter.status ? meter.status : 'unknown',
    statusMessage: meter.status_message,
    statusTs: meter.status_ts,
    notes,
    problems,
    meter,
  };
}

function readMeterListing(body: unknown): { items: Meter[]; next?: unknown } {
  const page = body as MeterListing | null;
  if (!page || typeof page !== 'object' || !Array.isArray(page.meters)) {
    throw new ServiceError('UtilityAPI answered GET /meters without a meters list. Check that the base URL points at https://utilityapi.com/api/v2.', { code: 'INVALID_RESPONSE', service: 'utilityapi' });
  }
  return { items: page.meters, next: page.next };
}

/**
 * Looks up the current state of meters: GET /meters?uids=… per batch (following `next`), then
 * GET /meters/{uid} for any uid the listing left out, so a meter that vanished is reported as
 * `null` instead of being waited for forever.
 */
export async function fetchMeters(client: HttpRequester, uids: readonly string[], options: { batchSize?: number; signal?: AbortSignal; onRetry?: (event: RetryEvent) => void } = {}): Promise<Map<string, Meter | null>> {
  const wanted = new Set(uids);
  const found = new Map<string, Meter | null>();
  try {
    for (const batch of chunk(uids, options.batchSize ?? DEFAULT_BATCH_SIZE)) {
      const pages = listPages<Meter>(client, { path: '/meters', query: { uids: batch }, what: 'checking meter status', signal: options.signal, onRetry: options.onRetry }, readMeterListing);
      for await (const page of pages) {
        for (const meter of page.items) {
          const uid = meter && meter.uid !== undefined ? String(meter.uid) : undefined;
          if (uid && wanted.has(uid)) found.set(uid, meter);
        }
      }
    }
    for (const uid of uids) {
      if (found.has(uid)) continue;
      const response = await client.request<Meter>({
        path: `/meters/${encodeURIComponent(uid)}`,
        responseType: 'json',
        acceptStatus: [404],
        what: 'checking meter status',
        signal: options.signal,
        onRetry: options.onRetry,
      });
      found.set(uid, response.status === 404 || !response.data ? null : response.data);
    }
  } catch (error) {
    throw explainUtilityApiError(error, 'status', uids);
  }
  return found;
}

/**
 * Polls the meters until each has left `pending`, yielding every meter as soon as it finishes,
 * so a flow can store one meter's data while others are still being collected. Meters still
 * pending at the timeout end the wait with a TIMEOUT error that lists them; the meters already
 * yielded are not affected.
 */
export async function* waitForCollection(client: HttpRequester, uids: readonly string[], options: WaitOptions): AsyncGenerator<MeterOutcome, void, undefined> {
  const { clock } = options;
  const pending = [...new Set(uids)];
  const total = pending.length;
  const deadline = clock.now() + Math.max(0, options.timeoutMs);
  while (pending.length > 0) {
    const remaining = deadline - clock.now();
    try {
      await clock.sleep(Math.max(0, Math.min(options.intervalMs, remaining)), options.signal);
    } catch {
      throw cancelledError('utilityapi');
    }
    const meters = await fetchMeters(client, pending, options);
    const finished: MeterOutcome[] = [];
    for (const uid of [...pending]) {
      const meter = meters.get(uid) ?? null;
      if (meter && meter.status === 'pending') continue;
      pending.splice(pending.indexOf(uid), 1);
      finished.push(meterOutcome(uid, meter));
    }
    options.onProgress?.(total - pending.length, total);
    yield* finished;
    if (pending.length > 0 && clock.now() >= deadline) {
      const error = new ServiceError(
        `${pending.length} of ${total} meter(s) were still pending after waiting ${formatDuration(options.timeoutMs)}: ${listUids(pending)}. UtilityAPI keeps collecting; raise "Wait at most" or check these meters again later. The finished meters were sent.`,
        { code: 'TIMEOUT', service: 'utilityapi' },
      );
      (error as ServiceError & { pending: string[] }).pending = [...pending];
      throw error;
    }
  }
}

function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms >= 60_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 1000)} s`;
}
