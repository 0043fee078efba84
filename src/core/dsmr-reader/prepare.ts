/**
 * Turns what a flow sends into the one thing the queue stores: a ready-to-post v1 telegram or
 * v2 reading. Everything DSMR-reader would refuse, or store wrongly, is refused here (or, in the
 * mode `v1-v2`, sent as a v2 reading instead) before it takes a queue slot.
 */
import { parseTelegram, isDsmrError } from '../dsmr';
import type { ParsedTelegram } from '../dsmr';
import { DsmrReaderError } from './errors';
import { DsmrReaderReading, checkDsmrReaderReading, normaliseDsmrDatetime, toDsmrReaderReading } from './v2-reading';
import { normaliseTelegram, parseForV1, v1Problems } from './telegram';

export type ApiVersion = 'v1' | 'v2';

/**
 * How the node posts: `v1` the raw telegram, `v2` a reading mapped from it, `v1-v2` the raw
 * telegram unless DSMR-reader's v1 would store it wrongly, then the v2 reading.
 */
export type ApiMode = 'v1' | 'v1-v2' | 'v2';
export const API_MODES: readonly ApiMode[] = ['v1', 'v1-v2', 'v2'];

interface PostMeta {
  msgid?: string;
  topic?: string;
  /** The reading's timestamp as DSMR-reader stores it (ISO with offset), to ask whether it was stored. */
  timestamp?: string;
  /** Why a telegram went as a v2 reading in the `v1-v2` mode. */
  via?: string;
  /** Ask DSMR-reader whether it has the reading before the first attempt (a dead letter sent again). */
  verify?: boolean;
}

/** One queued delivery. `msgid`/`topic` let a later error point back at the message. */
export type DsmrReaderPost = ({ api: 'v1'; telegram: string } | { api: 'v2'; reading: DsmrReaderReading }) & PostMeta;

export interface PostInput {
  /** msg.telegram: the raw telegram as dsmr-p1-in emits it. */
  telegram?: unknown;
  /** msg.payload: a raw telegram (string/Buffer), a parsed telegram, or (v2) a ready reading. */
  payload?: unknown;
  msgid?: string;
  topic?: unknown;
  /** When the message arrived, ISO with offset; the timestamp of telegrams that carry none. */
  receivedAt?: string;
  /** The node's clock, for the 24-hour future limit of v2 readings. */
  now?: number;
}

function isRawTelegram(value: unknown): value is string | Uint8Array {
  return typeof value === 'string' || value instanceof Uint8Array;
}

function isParsedTelegram(value: unknown): value is ParsedTelegram {
  return !!value && typeof value === 'object' && 'objects' in value && 'electricity' in value && typeof (value as { electricity: unknown }).electricity === 'object';
}

function looksLikeReading(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value) && 'electricity_delivered_1' in value;
}

function parseRaw(raw: string | Uint8Array): ParsedTelegram {
  try {
    return parseTelegram(typeof raw === 'string' ? raw : Buffer.from(raw), { crc: 'strict' });
  } catch (error) {
    if (isDsmrError(error) && error.code === 'CRC_MISMATCH') {
      throw new DsmrReaderError(`${error.message} It was not sent to DSMR-reader.`, { code: 'CRC_MISMATCH', statusText: 'crc', cause: error });
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new DsmrReaderError(`The telegram cannot be read: ${reason} It was not sent to DSMR-reader.`, { code: 'MALFORMED', cause: error });
  }
}

function rawOf(input: PostInput): string | Uint8Array | undefined {
  return isRawTelegram(input.telegram) ? input.telegram : isRawTelegram(input.payload) ? input.payload : undefined;
}

/** Builds the post for one message, or throws a DsmrReaderError saying why DSMR-reader could not store it. */
export function preparePost(mode: ApiMode, input: PostInput): DsmrReaderPost {
  const meta: PostMeta = { msgid: input.msgid, topic: typeof input.topic === 'string' && input.topic !== '' ? input.topic : undefined };
  if (mode === 'v2') return { ...prepareV2(input), ...meta };
  const raw = rawOf(input);
  if (raw === undefined) {
    if (mode === 'v1-v2' && isParsedTelegram(input.payload)) return { ...prepareV2(input), ...meta, via: 'the message has no raw telegram' };
    throw new DsmrReaderError('API v1 posts the raw telegram, but the message has none: put it in msg.telegram (as dsmr-p1-in does) or as a string in msg.payload, or set the node to API v2 to post a parsed telegram.', { code: 'NO_TELEGRAM', statusText: 'no telegram' });
  }
  const normalised = normaliseTelegram(raw);
  const parsed = parseForV1(normalised);
  const problems = v1Problems(parsed, normalised);
  if (problems.length === 0) return { api: 'v1', telegram: normalised.telegram, ...meta, timestamp: parsed.timestamp };
  if (mode === 'v1-v2') return { api: 'v2', reading: toDsmrReaderReading(parsed, { receivedAt: input.receivedAt, now: input.now }), ...meta, via: problems[0] };
  throw new DsmrReaderError(
    `DSMR-reader's v1 telegram API would not store this telegram correctly: ${problems.join('; ')}. It was not sent. Set the node's API to "v1, v2 for telegrams v1 would store wrongly" (or "v2 readings"): the v2 reading is mapped by the node, in kWh, kW and m³ from the right lines.`,
    { code: 'NOT_STORABLE', statusText: 'not storable' },
  );
}

function prepareV2(input: PostInput): { api: 'v2'; reading: DsmrReaderReading } {
  const options = { receivedAt: input.receivedAt, now: input.now };
  if (isParsedTelegram(input.payload)) return { api: 'v2', reading: toDsmrReaderReading(input.payload, options) };
  if (looksLikeReading(input.payload)) {
    const { reading, problems } = checkDsmrReaderReading(input.payload, input.now);
    if (problems.length > 0) {
      throw new DsmrReaderError(`The reading in msg.payload cannot be stored by DSMR-reader: ${problems.join('; ')}. It was not sent.`, { code: 'NOT_STORABLE', statusText: 'invalid reading' });
    }
    return { api: 'v2', reading: reading as unknown as DsmrReaderReading };
  }
  const raw = isRawTelegram(input.payload) ? input.payload : isRawTelegram(input.telegram) ? input.telegram : undefined;
  if (raw !== undefined) return { api: 'v2', reading: toDsmrReaderReading(parseRaw(raw), options) };
  throw new DsmrReaderError('API v2 needs a parsed telegram in msg.payload (as dsmr-p1-in sends it), a raw telegram, or a reading with DSMR-reader\'s field names; the message has none of these.', { code: 'NO_TELEGRAM', statusText: 'no telegram' });
}

/**
 * The timestamp DSMR-reader stores for a post, ISO with offset: the reading's, or the telegram's
 * 0-0:1.0.0 (DSMR-reader reads it with the same S/W offset). Undefined for a telegram without one
 * (DSMR-reader then stores its own receive time, so such a post cannot be found again).
 */
export function postTimestamp(post: DsmrReaderPost): string | undefined {
  if (post.api === 'v2') return normaliseDsmrDatetime(post.reading.timestamp);
  if (post.timestamp) return post.timestamp;
  try {
    // Items queued by an earlier version carry no timestamp of their own.
    return parseTelegram(post.telegram, { crc: 'off' }).timestamp;
  } catch {
    return undefined;
  }
}
