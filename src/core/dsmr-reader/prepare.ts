/**
 * Turns what a flow sends into the one thing the queue stores: a ready-to-post v1 telegram or
 * v2 reading. Everything DSMR-reader would refuse is refused here, before it takes a queue slot.
 */
import { parseTelegram, isDsmrError } from '../dsmr';
import type { ParsedTelegram } from '../dsmr';
import { DsmrReaderError } from './errors';
import { DsmrReaderReading, toDsmrReaderReading, validateDsmrReaderReading } from './v2-reading';
import { checkStorableV1, normaliseTelegram } from './telegram';

export type ApiVersion = 'v1' | 'v2';

/** One queued delivery. `msgid`/`topic` let a later error point back at the message. */
export type DsmrReaderPost =
  | { api: 'v1'; telegram: string; msgid?: string; topic?: string }
  | { api: 'v2'; reading: DsmrReaderReading; msgid?: string; topic?: string };

export interface PostInput {
  /** msg.telegram: the raw telegram as dsmr-p1-in emits it. */
  telegram?: unknown;
  /** msg.payload: a raw telegram (string/Buffer), a parsed telegram, or (v2) a ready reading. */
  payload?: unknown;
  msgid?: string;
  topic?: unknown;
  /** When the message arrived, ISO with offset; the timestamp of telegrams that carry none. */
  receivedAt?: string;
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

/** Builds the post for one message, or throws a DsmrReaderError saying why DSMR-reader could not store it. */
export function preparePost(api: ApiVersion, input: PostInput): DsmrReaderPost {
  const meta = { msgid: input.msgid, topic: typeof input.topic === 'string' && input.topic !== '' ? input.topic : undefined };
  if (api === 'v1') {
    const raw = isRawTelegram(input.telegram) ? input.telegram : isRawTelegram(input.payload) ? input.payload : undefined;
    if (raw === undefined) {
      throw new DsmrReaderError('API v1 posts the raw telegram, but the message has none: put it in msg.telegram (as dsmr-p1-in does) or as a string in msg.payload, or set the node to API v2 to post a parsed telegram.', { code: 'NO_TELEGRAM', statusText: 'no telegram' });
    }
    const normalised = normaliseTelegram(raw);
    checkStorableV1(normalised);
    return { api: 'v1', telegram: normalised.telegram, ...meta };
  }
  let reading: DsmrReaderReading;
  if (isParsedTelegram(input.payload)) {
    reading = toDsmrReaderReading(input.payload, { receivedAt: input.receivedAt });
  } else if (looksLikeReading(input.payload)) {
    const problems = validateDsmrReaderReading(input.payload);
    if (problems.length > 0) {
      throw new DsmrReaderError(`The reading in msg.payload cannot be stored by DSMR-reader: ${problems.join('; ')}. It was not sent.`, { code: 'NOT_STORABLE', statusText: 'invalid reading' });
    }
    reading = { ...(input.payload as unknown as DsmrReaderReading) };
  } else if (isRawTelegram(input.payload) || isRawTelegram(input.telegram)) {
    const raw = (isRawTelegram(input.payload) ? input.payload : input.telegram) as string | Uint8Array;
    reading = toDsmrReaderReading(parseRaw(raw), { receivedAt: input.receivedAt });
  } else {
    throw new DsmrReaderError('API v2 needs a parsed telegram in msg.payload (as dsmr-p1-in sends it), a raw telegram, or a reading with DSMR-reader\'s field names; the message has none of these.', { code: 'NO_TELEGRAM', statusText: 'no telegram' });
  }
  return { api: 'v2', reading, ...meta };
}
