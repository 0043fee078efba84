/**
 * Metry Streams on the wire. Source: Metry's API Blueprint, group "Streams" (apiary.apib in the
 * public repository metry-io/api-documentation), which links the support article "Import data
 * using Streams"; summarised in shared/docs/service-contracts.md §1.4 "Streams".
 *
 * - `POST /streams {"resource": "consumption", "granularity": null|"month"|"day"|"hour"}` creates a
 *   stream; "when a stream is created, all historical data will be pushed through the stream". A
 *   stream belongs to the account and the OAuth client that created it.
 * - `GET /streams?resource=…&granularity=…` lists them (a list envelope), `GET /streams/{id}` gives
 *   one with `last_offset`: "the last committed offset on the stream set when consuming the stream
 *   with a greater offset value. This is used to resume the reading from a stream."
 * - `POST /streams/{id}/consume {"offset": <number|null>}` answers `{offset, resource, records}`;
 *   no offset (or null) gives "the first data in the stream or from the last offset".
 *
 * Offsets are integers around 1.55e18 in Metry's examples, beyond 2^53: JSON.parse would round
 * them (and a rounded offset would re-read or skip data; how Metry treats one is not documented).
 * They are kept as digit strings here, read from the response text and written back as JSON
 * number literals with every digit.
 */
import type { HttpRequester } from '../http/client';
import { ServiceError } from '../http/errors';
import { nextSkip } from '../http/pagination';
import type { MetryGranularity } from './periods';
import type { MetryListEnvelope } from './types';

/** A stream's granularity filter: one granularity, or `null` for all of them. */
export type StreamGranularity = MetryGranularity | null;

export interface MetryStream {
  id: string;
  granularity: StreamGranularity;
  /** The offset the stream last committed, as digits; `null` when nothing was committed yet. */
  lastOffset: string | null;
}

/** One value of a consumption record, as Metry documents it (fields not yet checked). */
export interface StreamValue {
  value?: unknown;
  granularity?: unknown;
  metric?: unknown;
  updated?: unknown;
  period?: unknown;
  pushed_at?: unknown;
  [field: string]: unknown;
}

/** A consumption record: one meter and some of its values. */
export interface StreamRecord {
  meter?: { _id?: unknown; ean?: unknown; timezone?: unknown; [field: string]: unknown };
  values?: unknown;
  [field: string]: unknown;
}

export interface StreamBatch {
  /** The batch's offset as digits: sent with the next request, it commits this batch. */
  offset: string | null;
  records: StreamRecord[];
}

/** Offsets are non-negative integers; anything else is refused before it reaches a request body. */
const OFFSET_DIGITS = /^\d{1,40}$/;

export function isStreamOffset(value: unknown): value is string {
  return typeof value === 'string' && OFFSET_DIGITS.test(value);
}

/** `a > b` for two offsets (digit strings), exactly. */
export function offsetAfter(a: string, b: string): boolean {
  return BigInt(a) > BigInt(b);
}

function invalid(message: string): ServiceError {
  return new ServiceError(message, { code: 'INVALID_RESPONSE', service: 'metry' });
}

/**
 * The exact digits of a numeric field of a JSON text. `parsed` is the value JSON.parse gave for it
 * (rounded beyond 2^53); the digits are the literal in the text whose value is `parsed`, so a
 * field of the same name elsewhere cannot be taken by mistake, and an answer where that is not
 * one unambiguous integer literal is refused rather than guessed.
 */
export function exactInteger(text: string, field: string, parsed: unknown): string | null {
  if (parsed === null || parsed === undefined) return null;
  if (typeof parsed === 'string' && OFFSET_DIGITS.test(parsed)) return parsed;
  if (typeof parsed !== 'number' || !Number.isInteger(parsed) || parsed < 0) {
    throw invalid(`Metry sent a stream "${field}" that is not a whole number (${JSON.stringify(parsed)}); the stream cannot be read on safely.`);
  }
  const literal = new RegExp(`"${field}"\\s*:\\s*(-?[0-9][0-9.eE+-]*)`, 'g');
  const candidates = new Set([...text.matchAll(literal)].map((m) => m[1]).filter((digits) => Number(digits) === parsed));
  const [digits] = [...candidates];
  if (candidates.size !== 1 || !OFFSET_DIGITS.test(digits)) {
    throw invalid(`Metry sent a stream "${field}" that cannot be read exactly; the stream is not read on so that no data is skipped.`);
  }
  return digits;
}

function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object') return body as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw invalid(`Metry sent an answer that is not JSON (${what}). Check that the base URL points at the Metry API (…/api/v2).`);
}

function toStream(data: unknown, text: string): MetryStream {
  const stream = data as Record<string, unknown> | null;
  if (!stream || typeof stream._id !== 'string' || stream._id === '') throw invalid('Metry sent a stream without an _id.');
  const granularity = stream.granularity ?? null;
  return {
    id: stream._id,
    granularity: granularity as StreamGranularity,
    lastOffset: exactInteger(text, 'last_offset', stream.last_offset),
  };
}

export class MetryStreamClient {
  constructor(private readonly requester: HttpRequester) {}

  /**
   * The account's consumption stream for `granularity`, made when there is none (one stream per
   * account and granularity: a second would push all history again). Metry ignores query
   * parameters it does not know, so the list is also filtered here.
   */
  async findOrCreate(granularity: StreamGranularity, signal?: AbortSignal): Promise<{ stream: MetryStream; created: boolean }> {
    const found = await this.find(granularity, signal);
    if (found) return { stream: await this.get(found, signal), created: false };
    const what = 'creating a consumption stream';
    // Sent once: a retry after an answer that was lost could make a second stream. The caller
    // tries again from the listing, which then finds the stream if it was made.
    const response = await this.requester.request<string>({ method: 'POST', path: '/streams', json: { resource: 'consumption', granularity }, what, signal, responseType: 'text', retry: false });
    const body = parseJson(response.data, what);
    return { stream: toStream(body.data, response.data), created: true };
  }

  /** The id of the first listed consumption stream with this granularity, if any. */
  private async find(granularity: StreamGranularity, signal?: AbortSignal): Promise<string | undefined> {
    const what = 'listing streams';
    const query: Record<string, string> = { resource: 'consumption' };
    if (granularity !== null) query.granularity = granularity;
    let skip: number | undefined = 0;
    for (let page = 0; skip !== undefined && page < 100; page += 1) {
      // The list's offsets may be rounded by JSON.parse; only ids are taken from it.
      const response: { data: MetryListEnvelope<Record<string, unknown>> } = await this.requester.request({ path: '/streams', query: { ...query, skip }, what, signal, responseType: 'json' });
      const items = response.data?.data;
      if (!Array.isArray(items)) throw invalid('Metry sent a stream list without a data array. Check that the base URL points at the Metry API (…/api/v2).');
      const match = items.find((s) => s && s.resource === 'consumption' && (s.granularity ?? null) === granularity && typeof s._id === 'string');
      if (match) return match._id as string;
      skip = nextSkip(skip, items.length, response.data.count);
    }
    return undefined;
  }

  /** One stream, with its `last_offset` exact: where to resume after a restart. */
  async get(id: string, signal?: AbortSignal): Promise<MetryStream> {
    const what = 'reading the stream';
    const response = await this.requester.request<string>({ path: `/streams/${encodeURIComponent(id)}`, what, signal, responseType: 'text' });
    return toStream(parseJson(response.data, what).data, response.data);
  }

  /**
   * The batch after `offset` (`null`: from the stream's last committed offset). Sending an offset
   * greater than the last one commits the batch that offset came with. A 429 is not retried here:
   * for a stream it usually means a second consumer, which the caller reports.
   */
  async consume(id: string, offset: string | null, signal?: AbortSignal): Promise<StreamBatch> {
    if (offset !== null && !isStreamOffset(offset)) throw new ServiceError(`"${offset}" is not a stream offset.`, { code: 'BAD_REQUEST', service: 'metry' });
    const what = 'consuming the stream';
    const response = await this.requester.request<string>({
      method: 'POST',
      path: `/streams/${encodeURIComponent(id)}/consume`,
      // Written by hand: JSON.stringify cannot write a number beyond 2^53 exactly.
      jsonText: `{"offset":${offset ?? 'null'}}`,
      what,
      signal,
      responseType: 'text',
      retry: { rateLimitMaxWaitMs: 0 },
    });
    const data = parseJson(response.data, what).data as Record<string, unknown> | undefined;
    if (!data || typeof data !== 'object') throw invalid('Metry answered a stream request without data.');
    const records = data.records ?? [];
    if (!Array.isArray(records)) throw invalid('Metry sent a stream batch whose records are not a list.');
    const batchOffset = exactInteger(response.data, 'offset', data.offset);
    if (records.length > 0 && batchOffset === null) throw invalid('Metry sent a stream batch without an offset; it could never be committed, so it is not delivered.');
    return { offset: batchOffset, records: records as StreamRecord[] };
  }
}
