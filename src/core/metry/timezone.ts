/**
 * Local calendar arithmetic in a meter's IANA time zone, built on the runtime's Intl data.
 * Metry interprets periods in the meter's local time while its timestamps are UTC, so every
 * conversion between the two goes through here.
 */

export interface LocalTime {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Offsets are looked up for the same hour instants again and again (every meter of a batch). */
const offsetCache = new Map<string, Map<number, number>>();
const OFFSET_CACHE_LIMIT = 50_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** True when the runtime knows the zone (`Europe/Stockholm`, `Etc/GMT-1`, `UTC`). */
export function isValidTimeZone(timeZone: unknown): timeZone is string {
  if (typeof timeZone !== 'string' || timeZone === '') return false;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

function wallClockAsUtc(ms: number, timeZone: string): number {
  const parts = formatter(timeZone).formatToParts(new Date(ms));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour') % 24, get('minute'), get('second'));
}

/** Minutes east of UTC that the zone's clocks show at instant `ms`. */
export function offsetMinutesAt(ms: number, timeZone: string): number {
  const second = Math.floor(ms / 1000) * 1000;
  let cache = offsetCache.get(timeZone);
  if (!cache) {
    cache = new Map();
    offsetCache.set(timeZone, cache);
  }
  const cached = cache.get(second);
  if (cached !== undefined) return cached;
  const offset = Math.round((wallClockAsUtc(second, timeZone) - second) / 60_000);
  if (cache.size >= OFFSET_CACHE_LIMIT) cache.clear();
  cache.set(second, offset);
  return offset;
}

/** The wall-clock date and hour at instant `ms` in the zone. */
export function toLocal(ms: number, timeZone: string): LocalTime {
  const local = new Date(ms + offsetMinutesAt(ms, timeZone) * 60_000);
  return { year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate(), hour: local.getUTCHours() };
}

/**
 * The instant a local wall-clock hour starts. A repeated hour (autumn) resolves to its first
 * occurrence; a skipped hour (spring) to the instant right after the gap, which is when the
 * following existing hour begins.
 */
export function fromLocal(local: LocalTime, timeZone: string): number {
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour);
  // A zone changes offset at most once around any given day, so the offsets a day before and
  // after are the only candidates.
  const before = offsetMinutesAt(wall - DAY, timeZone);
  const after = offsetMinutesAt(wall + DAY, timeZone);
  const candidates = [...new Set([before, after])]
    .map((offset) => wall - offset * 60_000)
    .filter((instant) => wallClockAsUtc(instant, timeZone) === wall)
    .sort((a, b) => a - b);
  if (candidates.length > 0) return candidates[0];
  return wall - before * 60_000;
}

/** Adds whole months to a local date (day-of-month 1 is all month slots use). */
export function addMonths(local: LocalTime, months: number): LocalTime {
  const index = local.year * 12 + (local.month - 1) + months;
  return { year: Math.floor(index / 12), month: (index % 12) + 1, day: local.day, hour: local.hour };
}

/** Adds calendar days to a local date. */
export function addDays(local: LocalTime, days: number): LocalTime {
  const shifted = new Date(Date.UTC(local.year, local.month - 1, local.day + days));
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate(), hour: local.hour };
}

export { HOUR, DAY };
