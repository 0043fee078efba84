/**
 * Intellimeter records (`{"MeterParam", "TimeStamping", "value"}`) to normalized readings.
 * The API states neither a unit nor a time zone: both come from the node's configuration, and
 * `TimeStamping` (a wall time, `YYYY-MM-DD HH:MM:SS`, with no offset) is placed in that zone with
 * the offset valid at that moment, including the two hours a year where that is not one-to-one
 * (DST gaps and repeats).
 */
import type { Granularity, Reading } from '../readings';
import { toIsoWithOffset, toReadingValue } from '../readings';
import { WallTime, instantForSkippedWallTime, instantsForWallTime, offsetMinutesAt } from '../time-zone';

/** How to choose between the two instants of a repeated wall time. */
export type AmbiguityHint =
  /** A "latest reading" taken now: the newest instant that is not in the future. */
  | { kind: 'latest'; now: number }
  /** A reading in a time-ordered series: the first instant after the previous reading. */
  | { kind: 'after'; previous?: number };

/** Allowed clock difference between the logger and Node-RED when reading "latest" values. */
const CLOCK_SKEW_MS = 10 * 60_000;

/**
 * The instant of a wall time in a zone. A time in the DST gap (it never showed on the clock)
 * is read with the offset before the change, i.e. moved forward by the gap, as a clock that
 * missed the change would have meant it.
 */
export function resolveWallTime(wall: WallTime, zone: string, hint: AmbiguityHint): number {
  const instants = instantsForWallTime(wall, zone);
  if (instants.length === 0) return instantForSkippedWallTime(wall, zone);
  if (instants.length === 1) return instants[0];
  if (hint.kind === 'latest') {
    const past = instants.filter((instant) => instant <= hint.now + CLOCK_SKEW_MS);
    return past.length > 0 ? past[past.length - 1] : instants[0];
  }
  const previous = hint.previous;
  if (previous === undefined) return instants[0];
  return instants.find((instant) => instant > previous) ?? instants[0];
}

export interface NormaliseOptions {
  /** `register` for /data, `interval` for /interval; history uses the node's choice. */
  metric: string;
  unit: string;
  granularity?: Granularity;
  /** IANA zone the API's wall times are in. */
  zone: string;
  /**
   * How to place a wall time that occurs twice (the hour repeated when DST ends): `latest`
   * readings are the newest instant not in the future; a `series` (history file) is read in
   * order, each reading after the meter's previous one.
   */
  ambiguity: 'latest' | 'series';
  /** Now, for `latest`. */
  now: number;
}

export interface ParsedReadings {
  readings: Reading[];
  /** Records that could not be turned into readings, each with the reason; never dropped silently. */
  problems: string[];
}

type RecordLike = Record<string, unknown>;

/** Compares keys the way a human would: `MeterParam`, `meterparam` and `meter_param` are one. */
function canonical(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

const METER_KEYS = ['meterparam', 'meter', 'meterid', 'metername', 'meterpoint', 'point', 'name'];
const TIME_KEYS = ['timestamping', 'timestamp', 'datetime', 'time', 'date', 'ts'];
const VALUE_KEYS = ['value', 'reading', 'val'];

function findKey(record: RecordLike, candidates: readonly string[]): string | undefined {
  const byCanonical = new Map(Object.keys(record).map((key) => [canonical(key), key]));
  for (const candidate of candidates) {
    const key = byCanonical.get(candidate);
    if (key !== undefined) return key;
  }
  return undefined;
}

function isRecord(value: unknown): value is RecordLike {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function looksLikeReading(record: RecordLike): boolean {
  return findKey(record, TIME_KEYS) !== undefined;
}

/**
 * The records in a parsed body: a list of records (the documented shape), a single record, a
 * wrapper object with one list (`{"data": [...]}`), or records grouped by meter name.
 */
export function recordsFrom(body: unknown): { records: RecordLike[]; problems: string[] } {
  const problems: string[] = [];
  if (body === null || body === undefined || body === '') return { records: [], problems };
  if (Array.isArray(body)) {
    const records: RecordLike[] = [];
    body.forEach((item, i) => {
      if (isRecord(item)) records.push(item);
      else problems.push(`item ${i + 1} is not a record: ${JSON.stringify(item)?.slice(0, 60)}`);
    });
    return { records, problems };
  }
  if (!isRecord(body)) {
    problems.push(`the response is not a list of readings: ${JSON.stringify(body)?.slice(0, 60)}`);
    return { records: [], problems };
  }
  if (looksLikeReading(body)) return { records: [body], problems };
  const entries = Object.entries(body);
  if (entries.length === 1 && Array.isArray(entries[0][1])) return recordsFrom(entries[0][1]);
  const records: RecordLike[] = [];
  for (const [meter, value] of entries) {
    const group = Array.isArray(value) ? value : [value];
    for (const item of group) {
      if (isRecord(item) && looksLikeReading(item)) records.push(findKey(item, METER_KEYS) ? item : { MeterParam: meter, ...item });
      else problems.push(`"${meter}" is not a reading: ${JSON.stringify(item)?.slice(0, 60)}`);
    }
  }
  return { records, problems };
}

const WALL_TIME = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

export type ParsedTime = { wall: WallTime } | { instant: number; offsetMinutes: number };

/** Reads a `TimeStamping` value; `undefined` if it is not a time stamp. */
export function parseTimeStamping(raw: unknown): ParsedTime | undefined {
  if (typeof raw === 'number' && Number.isFinite(raw)) {
    // Epoch numbers are not documented but are unambiguous: seconds or milliseconds since 1970 UTC.
    return { instant: raw > 1e11 ? raw : raw * 1000, offsetMinutes: 0 };
  }
  if (typeof raw !== 'string') return undefined;
  const match = WALL_TIME.exec(raw.trim());
  if (!match) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', zone] = match;
  const wall: WallTime = { year: Number(y), month: Number(mo), day: Number(d), hour: Number(h), minute: Number(mi), second: Number(s) };
  if (wall.month < 1 || wall.month > 12 || wall.day < 1 || wall.day > 31 || wall.hour > 23 || wall.minute > 59 || wall.second > 59) return undefined;
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  if (new Date(asUtc).getUTCDate() !== wall.day) return undefined;
  if (!zone) return { wall };
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
  }
  return { instant: asUtc - offsetMinutes * 60_000, offsetMinutes };
}

/** The time stamp of a record and the keys it came from; some exports split date and time. */
function timeOf(record: RecordLike): { raw: unknown; keys: string[] } | undefined {
  const whole = findKey(record, ['timestamping', 'timestamp', 'datetime', 'ts']);
  if (whole !== undefined) return { raw: record[whole], keys: [whole] };
  const date = findKey(record, ['date']);
  const time = findKey(record, ['time']);
  if (date !== undefined && time !== undefined) return { raw: `${String(record[date])} ${String(record[time])}`, keys: [date, time] };
  const single = date ?? time;
  return single === undefined ? undefined : { raw: record[single], keys: [single] };
}

/** Turns records into readings; wide records (`{TimeStamping, meter1: 1, meter2: 2}`) give one per meter. */
export function readingsFromRecords(records: readonly RecordLike[], options: NormaliseOptions): ParsedReadings {
  const readings: Reading[] = [];
  const problems: string[] = [];
  const previous = new Map<string, number>();

  const add = (meterId: string, rawTime: unknown, rawValue: unknown, where: string): void => {
    const time = parseTimeStamping(rawTime);
    if (!time) {
      problems.push(`${where}: "${String(rawTime)}" is not a time stamp (YYYY-MM-DD HH:MM:SS)`);
      return;
    }
    const value = toReadingValue(rawValue);
    if (value === null && rawValue !== null && rawValue !== undefined && String(rawValue).trim() !== '') {
      problems.push(`${where}: value "${String(rawValue)}" is not a number`);
      return;
    }
    let instant: number;
    let offset: number;
    if ('wall' in time) {
      const hint: AmbiguityHint = options.ambiguity === 'latest' ? { kind: 'latest', now: options.now } : { kind: 'after', previous: previous.get(meterId) };
      instant = resolveWallTime(time.wall, options.zone, hint);
      offset = offsetMinutesAt(instant, options.zone);
    } else {
      instant = time.instant;
      offset = time.offsetMinutes;
    }
    previous.set(meterId, instant);
    const reading: Reading = { source: 'intellimeter', meterId, metric: options.metric, unit: options.unit, start: toIsoWithOffset(instant, offset), value, timeStamping: String(rawTime) };
    if (options.granularity) reading.granularity = options.granularity;
    readings.push(reading);
  };

  records.forEach((record, i) => {
    const where = `record ${i + 1}`;
    const time = timeOf(record);
    if (!time) {
      problems.push(`${where} has no TimeStamping: ${JSON.stringify(record).slice(0, 80)}`);
      return;
    }
    const meterKey = findKey(record, METER_KEYS);
    const valueKey = findKey(record, VALUE_KEYS);
    const others = Object.keys(record).filter((key) => !time.keys.includes(key) && key !== meterKey);
    if (meterKey !== undefined) {
      const meterId = String(record[meterKey] ?? '').trim();
      // A record with a meter but no "value" column is still readable when one column is left.
      const valueColumn = valueKey ?? (others.length === 1 ? others[0] : undefined);
      if (!meterId) problems.push(`${where} has an empty meter name`);
      else if (valueColumn === undefined) problems.push(`${where} (${meterId}) has no value: ${JSON.stringify(record).slice(0, 80)}`);
      else add(meterId, time.raw, record[valueColumn], `${where} (${meterId})`);
      return;
    }
    if (others.length === 0) {
      problems.push(`${where} has a time stamp but no meter and value: ${JSON.stringify(record).slice(0, 80)}`);
      return;
    }
    for (const column of others) add(column, time.raw, record[column], `${where} (${column})`);
  });
  return { readings, problems };
}
