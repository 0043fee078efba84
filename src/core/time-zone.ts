/**
 * Wall-clock arithmetic in IANA time zones, built on the runtime's Intl data. Services write
 * local times (Metry periods, Intellimeter time stamps) while readings carry instants, so every
 * conversion between the two goes through here; the two DST hours a year are the reason it is
 * shared rather than redone per service.
 */

export interface WallTime {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Offsets are looked up for the same instants again and again (every meter of a batch). */
const offsetCache = new Map<string, Map<number, number>>();
const OFFSET_CACHE_LIMIT = 50_000;
const HALF_DAY = 12 * 3_600_000;

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/** True when the runtime knows the zone (`Europe/Stockholm`, `Etc/GMT-1`, `UTC`). */
export function isValidTimeZone(zone: unknown): zone is string {
  if (typeof zone !== 'string' || zone === '') return false;
  try {
    formatterFor(zone);
    return true;
  } catch {
    return false;
  }
}

/** The zone Node-RED's host runs in. */
export function hostTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** The wall time an instant shows in a zone. */
export function wallTimeAt(ms: number, zone: string): WallTime {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(zone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  return { year: fields.year, month: fields.month, day: fields.day, hour: fields.hour % 24, minute: fields.minute, second: fields.second };
}

/** A wall time read as if it were UTC: the arithmetic form of a local time. */
export function wallAsUtc(wall: WallTime): number {
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
}

/** Minutes east of UTC that the zone's clocks show at instant `ms`. */
export function offsetMinutesAt(ms: number, zone: string): number {
  const second = Math.floor(ms / 1000) * 1000;
  let cache = offsetCache.get(zone);
  if (!cache) {
    cache = new Map();
    offsetCache.set(zone, cache);
  }
  const cached = cache.get(second);
  if (cached !== undefined) return cached;
  const offset = Math.round((wallAsUtc(wallTimeAt(second, zone)) - second) / 60_000);
  if (cache.size >= OFFSET_CACHE_LIMIT) cache.clear();
  cache.set(second, offset);
  return offset;
}

/**
 * Every instant at which the zone's clock shows `wall`, earliest first: one normally, two in the
 * repeated hour when DST ends, none in the skipped hour when it starts.
 */
export function instantsForWallTime(wall: WallTime, zone: string): number[] {
  const asUtc = wallAsUtc(wall);
  // A zone changes offset at most once around any given day, so the offsets half a day either
  // side are the only candidates.
  const offsets = new Set([offsetMinutesAt(asUtc - HALF_DAY, zone), offsetMinutesAt(asUtc, zone), offsetMinutesAt(asUtc + HALF_DAY, zone)]);
  const instants = new Set<number>();
  for (const offset of offsets) {
    const candidate = asUtc - offset * 60_000;
    if (offsetMinutesAt(candidate, zone) === offset) instants.add(candidate);
  }
  return [...instants].sort((a, b) => a - b);
}

/**
 * The instant of a wall time that fell in a DST gap (it never showed on the clock): read with
 * the offset before the change, i.e. moved forward by the gap, as a clock that missed the
 * change would have meant it.
 */
export function instantForSkippedWallTime(wall: WallTime, zone: string): number {
  const asUtc = wallAsUtc(wall);
  return asUtc - offsetMinutesAt(asUtc - HALF_DAY, zone) * 60_000;
}
