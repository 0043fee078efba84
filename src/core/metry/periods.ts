/**
 * Metry periods: the `YYYY[MM[DD[HH]]]` strings and ranges Metry takes, and slots (one value each)
 * at month, day or hour granularity in the meter's local time. Slots are identified by the
 * instant they start, which is unambiguous even in the repeated hour of an autumn DST change.
 */
import { ServiceError } from '../http/errors';
import { instantForSkippedWallTime, instantsForWallTime, offsetMinutesAt } from '../time-zone';

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** A local calendar hour in a meter's zone: all a Metry slot needs of a wall time. */
export interface LocalTime {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
}

/** The local date and hour at instant `ms` in the zone. */
export function toLocal(ms: number, timeZone: string): LocalTime {
  const local = new Date(ms + offsetMinutesAt(ms, timeZone) * 60_000);
  return { year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate(), hour: local.getUTCHours() };
}

/**
 * The instant a local hour starts. A repeated hour (autumn) resolves to its first occurrence; a
 * skipped hour (spring) to the instant right after the gap, when the next existing hour begins.
 */
export function fromLocal(local: LocalTime, timeZone: string): number {
  const wall = { ...local, minute: 0, second: 0 };
  return instantsForWallTime(wall, timeZone)[0] ?? instantForSkippedWallTime(wall, timeZone);
}

function addMonths(local: LocalTime, months: number): LocalTime {
  const index = local.year * 12 + (local.month - 1) + months;
  return { year: Math.floor(index / 12), month: (index % 12) + 1, day: local.day, hour: local.hour };
}

function addDays(local: LocalTime, days: number): LocalTime {
  const shifted = new Date(Date.UTC(local.year, local.month - 1, local.day + days));
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate(), hour: local.hour };
}

export type MetryGranularity = 'month' | 'day' | 'hour';
/** Coarse to fine. */
export const METRY_GRANULARITIES: readonly MetryGranularity[] = ['month', 'day', 'hour'];

export function isMetryGranularity(value: unknown): value is MetryGranularity {
  return value === 'month' || value === 'day' || value === 'hour';
}

type Precision = 'year' | MetryGranularity;

/** One end of a period as written: `2024`, `202403`, `20240315` or `2024031513`. */
export interface PeriodPoint {
  precision: Precision;
  local: LocalTime;
}

export interface PeriodRange {
  from: PeriodPoint;
  /** Absent for an open range (`201601-`): up to the last complete slot. */
  to?: PeriodPoint;
}

/** Consecutive slots `[first, last]` (both are slot start instants) at one granularity. */
export interface SlotRange {
  granularity: MetryGranularity;
  first: number;
  last: number;
}

function periodError(text: string, why: string): ServiceError {
  return new ServiceError(
    `The period "${text}" is not valid: ${why}. Write it as YYYY, YYYYMM, YYYYMMDD or YYYYMMDDHH, or a range such as 20240101-20240131.`,
    { code: 'CONFIG', service: 'metry' },
  );
}

const PRECISION_BY_LENGTH: Record<number, Precision> = { 4: 'year', 6: 'month', 8: 'day', 10: 'hour' };

/** Parses one period point; also accepts numbers, as `consumption_stats` holds `201501`. */
export function parsePeriodPoint(value: string | number, original = String(value)): PeriodPoint {
  const text = String(value).trim();
  const precision = /^\d+$/.test(text) ? PRECISION_BY_LENGTH[text.length] : undefined;
  if (!precision) throw periodError(original, `"${text}" has ${text.length} characters where 4, 6, 8 or 10 digits are expected`);
  const year = Number(text.slice(0, 4));
  const month = text.length >= 6 ? Number(text.slice(4, 6)) : 1;
  const day = text.length >= 8 ? Number(text.slice(6, 8)) : 1;
  const hour = text.length >= 10 ? Number(text.slice(8, 10)) : 0;
  if (month < 1 || month > 12) throw periodError(original, `month ${month} does not exist`);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) throw periodError(original, `day ${day} does not exist in ${year}-${String(month).padStart(2, '0')}`);
  if (hour > 23) throw periodError(original, `hour ${hour} does not exist`);
  return { precision, local: { year, month, day, hour } };
}

/** Parses `201603`, `20240101-20240131`, `2015-201511`, `201601-` and `+`-joined lists of those. */
export function parsePeriodExpression(text: string): PeriodRange[] {
  const trimmed = String(text ?? '').trim();
  if (!trimmed) throw periodError(String(text ?? ''), 'it is empty');
  return trimmed.split('+').map((part) => {
    const pieces = part.trim().split('-');
    if (pieces.length > 2 || pieces[0] === '') throw periodError(trimmed, `"${part}" is not a period or a range`);
    const from = parsePeriodPoint(pieces[0], trimmed);
    const to = pieces.length === 1 ? from : pieces[1].trim() !== '' ? parsePeriodPoint(pieces[1], trimmed) : undefined;
    if (to && pointStart(to, 'UTC') < pointStart(from, 'UTC')) throw periodError(trimmed, `${pieces[0]} is after ${pieces[1]}`);
    return { from, to };
  });
}

function pointStart(point: PeriodPoint, timeZone: string): number {
  return fromLocal(point.local, timeZone);
}

function pointEndExclusive(point: PeriodPoint, timeZone: string): number {
  const { local } = point;
  switch (point.precision) {
    case 'year':
      return fromLocal({ year: local.year + 1, month: 1, day: 1, hour: 0 }, timeZone);
    case 'month':
      return fromLocal({ ...addMonths({ ...local, day: 1 }, 1), hour: 0 }, timeZone);
    case 'day':
      return fromLocal({ ...addDays(local, 1), hour: 0 }, timeZone);
    case 'hour':
      return fromLocal(local, timeZone) + HOUR;
  }
}

/** The start of the slot containing instant `ms`. */
export function slotStart(ms: number, granularity: MetryGranularity, timeZone: string): number {
  if (granularity === 'hour') {
    const offsetMs = offsetMinutesAt(ms, timeZone) * 60_000;
    return ms - ((((ms + offsetMs) % HOUR) + HOUR) % HOUR);
  }
  const local = toLocal(ms, timeZone);
  return fromLocal({ year: local.year, month: local.month, day: granularity === 'month' ? 1 : local.day, hour: 0 }, timeZone);
}

/** The start of the slot `steps` slots after (or before, when negative) the slot starting at `ms`. */
export function stepSlot(ms: number, granularity: MetryGranularity, timeZone: string, steps = 1): number {
  if (granularity === 'hour') return ms + steps * HOUR;
  const local = toLocal(ms, timeZone);
  const next = granularity === 'month' ? addMonths({ ...local, day: 1, hour: 0 }, steps) : addDays({ ...local, hour: 0 }, steps);
  return fromLocal(next, timeZone);
}

/** How many slots `[first, last]` holds. */
export function countSlots(first: number, last: number, granularity: MetryGranularity, timeZone: string): number {
  if (last < first) return 0;
  if (granularity === 'hour') return Math.round((last - first) / HOUR) + 1;
  const a = toLocal(first, timeZone);
  const b = toLocal(last, timeZone);
  if (granularity === 'month') return (b.year - a.year) * 12 + (b.month - a.month) + 1;
  return Math.round((Date.UTC(b.year, b.month - 1, b.day) - Date.UTC(a.year, a.month - 1, a.day)) / DAY) + 1;
}

/** The Metry period id of the slot starting at `ms`: `202403`, `20240315` or `2024031513`. */
export function periodId(ms: number, granularity: MetryGranularity, timeZone: string): string {
  const local = toLocal(ms, timeZone);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const month = `${local.year}${pad(local.month)}`;
  if (granularity === 'month') return month;
  const day = `${month}${pad(local.day)}`;
  return granularity === 'day' ? day : `${day}${pad(local.hour)}`;
}

/** The Metry period string for a slot range, e.g. `202301-202312`. */
export function rangeToPeriod(range: SlotRange, timeZone: string): string {
  const first = periodId(range.first, range.granularity, timeZone);
  const last = periodId(range.last, range.granularity, timeZone);
  return first === last ? first : `${first}-${last}`;
}

/** The last slot that has fully ended at `now`: last month, yesterday or the previous hour. */
export function lastCompleteSlot(now: number, granularity: MetryGranularity, timeZone: string): number {
  return stepSlot(slotStart(now, granularity, timeZone), granularity, timeZone, -1);
}

/** The slot start of a `consumption_stats` first/last value such as `201501` or `2013090100`. */
export function statsPointToSlot(value: unknown, granularity: MetryGranularity, timeZone: string): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  try {
    return slotStart(pointStart(parsePeriodPoint(value as string | number), timeZone), granularity, timeZone);
  } catch {
    return undefined;
  }
}

/**
 * The slots a written period covers at a granularity: `201603` at hour granularity is every
 * hour of March 2016 in the meter's zone. An open range ends at `openEnd` (a slot start).
 */
export function resolveRange(range: PeriodRange, granularity: MetryGranularity, timeZone: string, openEnd: number): SlotRange {
  const first = slotStart(pointStart(range.from, timeZone), granularity, timeZone);
  const last = range.to ? slotStart(pointEndExclusive(range.to, timeZone) - 1, granularity, timeZone) : openEnd;
  return { granularity, first, last };
}

/**
 * Splits a slot range into pieces of at most `maxSlots` slots. Hour ranges are cut at local
 * midnight so a piece never starts in the repeated hour of an autumn DST change, whose period id
 * would be ambiguous.
 */
export function splitRange(range: SlotRange, maxSlots: number, timeZone: string): SlotRange[] {
  const total = countSlots(range.first, range.last, range.granularity, timeZone);
  if (total <= maxSlots) return [range];
  const pieces: SlotRange[] = [];
  if (range.granularity === 'hour') {
    const days = Math.max(1, Math.floor(maxSlots / 25));
    let first = range.first;
    while (first <= range.last) {
      let boundary = stepSlot(slotStart(first, 'day', timeZone), 'day', timeZone, days);
      if (boundary <= first) boundary = first + HOUR;
      const last = Math.min(range.last, boundary - HOUR);
      pieces.push({ granularity: 'hour', first, last });
      first = last + HOUR;
    }
    return pieces;
  }
  let first = range.first;
  while (first <= range.last) {
    const last = Math.min(range.last, stepSlot(first, range.granularity, timeZone, maxSlots - 1));
    pieces.push({ granularity: range.granularity, first, last });
    first = stepSlot(last, range.granularity, timeZone, 1);
  }
  return pieces;
}
