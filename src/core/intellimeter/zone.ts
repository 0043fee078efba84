/**
 * Intellimeter writes `TimeStamping` as a wall-clock time with no offset, and does not say in
 * which zone. These helpers turn such a wall time into a real instant in a configured IANA zone,
 * including the two hours a year where that is not a one-to-one mapping (DST gaps and repeats).
 */
import { ServiceError } from '../http/errors';

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

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

/** The zone Node-RED's host runs in; the default when the node leaves the zone empty. */
export function hostTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export function isValidTimeZone(zone: string): boolean {
  try {
    formatterFor(zone);
    return true;
  } catch {
    return false;
  }
}

/** The zone to use, or a CONFIG error naming the bad value; empty means the host's zone. */
export function resolveTimeZone(zone: string | undefined): string {
  const trimmed = (zone ?? '').trim();
  if (!trimmed) return hostTimeZone();
  if (!isValidTimeZone(trimmed)) {
    throw new ServiceError(`"${trimmed}" is not a time zone this system knows. Enter an IANA zone name such as America/Toronto or Europe/Amsterdam, or leave the field empty for the Node-RED host's zone.`, { code: 'CONFIG', service: 'intellimeter' });
  }
  return trimmed;
}

/** The wall time an instant shows in a zone. */
export function wallTimeAt(ms: number, zone: string): WallTime {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(zone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  return { year: fields.year, month: fields.month, day: fields.day, hour: fields.hour % 24, minute: fields.minute, second: fields.second };
}

function wallAsUtc(wall: WallTime): number {
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
}

/** Minutes east of UTC that `zone` observes at the instant `ms`. */
export function zoneOffsetMinutes(ms: number, zone: string): number {
  const whole = Math.floor(ms / 1000) * 1000;
  return Math.round((wallAsUtc(wallTimeAt(whole, zone)) - whole) / 60_000);
}

const HALF_DAY = 12 * 3600_000;

/**
 * Every instant at which the zone's clock shows `wall`, earliest first: one normally, two in the
 * repeated hour when DST ends, none in the skipped hour when it starts.
 */
export function instantsForWallTime(wall: WallTime, zone: string): number[] {
  const asUtc = wallAsUtc(wall);
  const offsets = new Set([zoneOffsetMinutes(asUtc - HALF_DAY, zone), zoneOffsetMinutes(asUtc, zone), zoneOffsetMinutes(asUtc + HALF_DAY, zone)]);
  const instants = new Set<number>();
  for (const offset of offsets) {
    const candidate = asUtc - offset * 60_000;
    if (zoneOffsetMinutes(candidate, zone) === offset) instants.add(candidate);
  }
  return [...instants].sort((a, b) => a - b);
}

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
  if (instants.length === 0) {
    const asUtc = wallAsUtc(wall);
    return asUtc - zoneOffsetMinutes(asUtc - HALF_DAY, zone) * 60_000;
  }
  if (instants.length === 1) return instants[0];
  if (hint.kind === 'latest') {
    const past = instants.filter((instant) => instant <= hint.now + CLOCK_SKEW_MS);
    return past.length > 0 ? past[past.length - 1] : instants[0];
  }
  const previous = hint.previous;
  if (previous === undefined) return instants[0];
  return instants.find((instant) => instant > previous) ?? instants[0];
}

/** `YYYY-MM-DD` of the instant in the zone: the form `/file` wants for start and end. */
export function formatDateInZone(ms: number, zone: string): string {
  const wall = wallTimeAt(ms, zone);
  return `${String(wall.year).padStart(4, '0')}-${String(wall.month).padStart(2, '0')}-${String(wall.day).padStart(2, '0')}`;
}
