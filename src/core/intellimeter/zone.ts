/**
 * Intellimeter writes `TimeStamping` as a wall-clock time with no offset, and does not say in
 * which zone. These helpers turn such a wall time into a real instant in a configured IANA zone,
 * including the two hours a year where that is not a one-to-one mapping (DST gaps and repeats).
 */
import { ServiceError } from '../http/errors';
import { WallTime, hostTimeZone, instantForSkippedWallTime, instantsForWallTime, isValidTimeZone, offsetMinutesAt, wallTimeAt } from '../time-zone';

export type { WallTime };
export { hostTimeZone, instantsForWallTime, isValidTimeZone, wallTimeAt, offsetMinutesAt as zoneOffsetMinutes };

/** The zone to use, or a CONFIG error naming the bad value; empty means the host's zone. */
export function resolveTimeZone(zone: string | undefined): string {
  const trimmed = (zone ?? '').trim();
  if (!trimmed) return hostTimeZone();
  if (!isValidTimeZone(trimmed)) {
    throw new ServiceError(`"${trimmed}" is not a time zone this system knows. Enter an IANA zone name such as America/Toronto or Europe/Amsterdam, or leave the field empty for the Node-RED host's zone.`, { code: 'CONFIG', service: 'intellimeter' });
  }
  return trimmed;
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

/** `YYYY-MM-DD` of the instant in the zone: the form `/file` wants for start and end. */
export function formatDateInZone(ms: number, zone: string): string {
  const wall = wallTimeAt(ms, zone);
  return `${String(wall.year).padStart(4, '0')}-${String(wall.month).padStart(2, '0')}-${String(wall.day).padStart(2, '0')}`;
}
