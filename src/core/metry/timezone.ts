/**
 * Local calendar arithmetic in a meter's IANA time zone, built on the runtime's Intl data.
 * Metry interprets periods in the meter's local time while its timestamps are UTC, so every
 * conversion between the two goes through here.
 */
import { instantForSkippedWallTime, instantsForWallTime, isValidTimeZone, offsetMinutesAt } from '../time-zone';

export interface LocalTime {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

export { isValidTimeZone, offsetMinutesAt };

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
  const wall = { ...local, minute: 0, second: 0 };
  return instantsForWallTime(wall, timeZone)[0] ?? instantForSkippedWallTime(wall, timeZone);
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
