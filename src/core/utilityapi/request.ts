/**
 * Checks what a flow asks UtilityAPI to collect before anything is sent: collections cost money,
 * so a malformed list or duration must be refused here, with a sentence that says how to fix it.
 */

export const MIN_COLLECTION_MONTHS = 1;
export const MAX_COLLECTION_MONTHS = 36;
export const DEFAULT_BATCH_SIZE = 100;

const NOTHING_SENT = 'Nothing was sent to UtilityAPI.';

/** Bad input from the flow or the node's settings; `code` becomes the node status and `msg.errorCode`. */
export class InvalidRequestError extends Error {
  readonly code = 'INVALID_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRequestError';
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object without a "uid"';
  if (typeof value === 'string') return value.trim() === '' ? 'an empty string' : `"${value.slice(0, 40)}"`;
  return `${typeof value} ${String(value)}`;
}

/** A uid as UtilityAPI wants it (a string); whole numbers are accepted because people paste them unquoted. */
function uidOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() || undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  return undefined;
}

/**
 * Reads the meters to collect from what a flow provides: an array of uid strings, an array of
 * meter objects (anything with a `uid`, e.g. the meters of a GET /meters listing), a listing
 * `{meters: […]}`, one meter object, or a string of uids separated by commas or spaces.
 * Returns unique uids in their first-seen order, because a duplicate would blur which meters
 * UtilityAPI ignored.
 */
export function parseMeterUids(input: unknown, source = 'msg.payload'): string[] {
  const uids: string[] = [];
  const add = (uid: string): void => {
    if (!uids.includes(uid)) uids.push(uid);
  };
  if (input === undefined || input === null || (typeof input === 'string' && input.trim() === '')) {
    throw new InvalidRequestError(emptyMessage(source));
  }
  if (typeof input === 'string') {
    for (const part of input.split(/[\s,;]+/)) if (part) add(part);
  } else if (typeof input === 'number') {
    const uid = uidOf(input);
    if (!uid) throw new InvalidRequestError(`${source} is not a meter uid (${describe(input)}). Use uid strings such as "123". ${NOTHING_SENT}`);
    add(uid);
  } else if (Array.isArray(input)) {
    input.forEach((item, index) => {
      const uid = uidOf(item) ?? (item && typeof item === 'object' && !Array.isArray(item) ? uidOf((item as { uid?: unknown }).uid) : undefined);
      if (!uid) {
        throw new InvalidRequestError(`Item ${index + 1} of the meter list in ${source} is not a meter uid (${describe(item)}). Use uid strings such as "123" or meter objects with a "uid". ${NOTHING_SENT}`);
      }
      add(uid);
    });
  } else if (typeof input === 'object') {
    const record = input as { uid?: unknown; meters?: unknown };
    if (Array.isArray(record.meters)) return parseMeterUids(record.meters, `${source}.meters`);
    const uid = uidOf(record.uid);
    if (!uid) throw new InvalidRequestError(`${source} is ${describe(input)}, not a meter list. Send an array of meter uids such as ["123","234"] or meter objects with a "uid". ${NOTHING_SENT}`);
    add(uid);
  } else {
    throw new InvalidRequestError(`${source} is ${describe(input)}, not a meter list. Send an array of meter uids such as ["123","234"]. ${NOTHING_SENT}`);
  }
  if (uids.length === 0) throw new InvalidRequestError(emptyMessage(source));
  return uids;
}

function emptyMessage(source: string): string {
  return `No meters to collect: ${source} is empty. Send an array of meter uids such as ["123","234"] or meter objects with a "uid", or enter the uids in the node. ${NOTHING_SENT}`;
}

/**
 * The optional `collection_duration`: a whole number of months from 1 to 36, or `undefined`
 * (empty) to let UtilityAPI apply the plan's default.
 */
export function parseCollectionDuration(input: unknown, source = 'the collection duration'): number | undefined {
  if (input === undefined || input === null || (typeof input === 'string' && input.trim() === '')) return undefined;
  const value = typeof input === 'number' ? input : typeof input === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(input) ? Number(input) : Number.NaN;
  if (!Number.isInteger(value) || value < MIN_COLLECTION_MONTHS || value > MAX_COLLECTION_MONTHS) {
    const shown = typeof input === 'string' ? `"${input.slice(0, 20)}"` : typeof input === 'number' ? String(input) : describe(input);
    throw new InvalidRequestError(
      `${capitalise(source)} must be a whole number of months from ${MIN_COLLECTION_MONTHS} to ${MAX_COLLECTION_MONTHS} (got ${shown}). Leave it empty for UtilityAPI's default (12 months, or 36 on per-collection plans). ${NOTHING_SENT}`,
    );
  }
  return value;
}

/**
 * One end of the interval window from the message (`msg.start`, `msg.end`): a day `YYYY-MM-DD`
 * (UtilityAPI reads it in the utility's local time zone), an ISO 8601 time, a Date or epoch ms.
 * Checked before anything is sent, because the collection is paid for before intervals are read.
 */
export function parseWindowBound(input: unknown, source: string): string | undefined {
  if (input === undefined || input === null || (typeof input === 'string' && input.trim() === '')) return undefined;
  if (input instanceof Date && !Number.isNaN(input.getTime())) return input.toISOString();
  if (typeof input === 'number' && Number.isFinite(input)) return new Date(input).toISOString();
  if (typeof input === 'string') {
    const text = input.trim();
    const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    if (day) {
      const date = new Date(Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3])));
      if (date.getUTCDate() === Number(day[3]) && date.getUTCMonth() === Number(day[2]) - 1) return text;
    } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text) && !Number.isNaN(Date.parse(text))) {
      return text;
    }
  }
  const shown = typeof input === 'string' ? `"${input.slice(0, 40)}"` : input instanceof Date ? 'an invalid Date' : Array.isArray(input) ? 'an array' : typeof input === 'object' ? 'an object' : `${typeof input} ${String(input)}`;
  throw new InvalidRequestError(
    `${source} is ${shown}, not a date. Give the interval window as YYYY-MM-DD (the utility's local day), an ISO 8601 time, a Date or epoch milliseconds, or leave it out for the collected months. ${NOTHING_SENT}`,
  );
}

/** The interval window a message asks for; undefined when it sets neither end. */
export function parseWindow(start: unknown, end: unknown): { start?: string; end?: string } | undefined {
  const from = parseWindowBound(start, 'msg.start');
  const until = parseWindowBound(end, 'msg.end');
  if (from === undefined && until === undefined) return undefined;
  if (from !== undefined && until !== undefined && Date.parse(from) > Date.parse(until)) {
    throw new InvalidRequestError(`msg.start (${from}) is after msg.end (${until}): the interval window would be empty. ${NOTHING_SENT}`);
  }
  return { ...(from !== undefined ? { start: from } : {}), ...(until !== undefined ? { end: until } : {}) };
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}

/** Where a TypedInput's value came from, in the words an error text should use. */
export function sourceName(type: string, value: string, configured: string): string {
  if (type === 'msg' || type === 'flow' || type === 'global') return `${type}.${value}`;
  if (type === 'env') return `the environment variable ${value}`;
  return configured;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
