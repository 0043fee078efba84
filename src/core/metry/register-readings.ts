/**
 * Register readings as normalized readings: `GET /readings/{meter_id}/{period}?metrics=…`
 * (Metry API Blueprint, "Group Readings"; service-contracts §1.4). A register reading is the
 * meter's counter at an instant, so the reading has no granularity and `start` is the reading
 * time, written with the meter's own offset. Metry's `status` (`recorded`, `interpolated`,
 * `meter_change`) is carried on every reading: a `meter_change` value starts a new counter, so
 * differences across it are not consumption.
 *
 * When Metry flags `readings_blocked` (it found an anomaly, stops deriving consumption and
 * interpolating until the user resolves it, and advises not to import), nothing of that meter is
 * delivered, also not from other requests of the same run, and the meter is reported.
 */
import type { HttpRequester } from '../http/client';
import { ServiceError } from '../http/errors';
import { Reading, normaliseOffset, toIsoWithOffset, toReadingValue } from '../readings';
import { ZonedMeter, goneEvent, getEntry, isMeterGone, skippedEvent, withTimezones } from './entries';
import type { ExportEvent } from './export';
import { lastCompleteSlot, parsePeriodExpression, rangeToPeriod, resolveRange, splitRange } from './periods';
import { toConsumptionMeters } from './plan';
import { offsetMinutesAt } from '../time-zone';
import { METRY_METRIC_UNITS } from './types';

export const READING_STATUSES = ['recorded', 'interpolated', 'meter_change'] as const;

/** Days asked for in one request; Metry documents no limit for readings, so responses stay small. */
export const READING_DAYS_PER_REQUEST = 31;

export interface RegisterReadingsOptions {
  metrics: readonly string[];
  /** In Metry's period syntax, read in each meter's zone; an open end (`20240301-`) runs to yesterday. */
  period: string;
  now: number;
  fallbackTimezone?: string;
  signal?: AbortSignal;
}

interface RawReading {
  time?: unknown;
  value?: unknown;
  status?: unknown;
  counter?: unknown;
}

interface ReadingsEntry {
  meter_id?: string;
  readings_blocked?: unknown;
  periods?: Record<string, unknown>[];
}

/** `2016-01-01T15:13:00+0100` (Metry's form), `…+01:00` or `…Z` as an instant; NaN otherwise. */
function readingTime(raw: unknown): number {
  if (typeof raw !== 'string' || !/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(raw.trim())) return Number.NaN;
  return Date.parse(normaliseOffset(raw));
}

function convertReadings(entry: ReadingsEntry, meter: ZonedMeter, metrics: readonly string[], seen: Set<string>): Reading[] {
  const readings: Reading[] = [];
  for (const period of entry.periods ?? []) {
    for (const metric of metrics) {
      const values = Array.isArray(period[metric]) ? (period[metric] as RawReading[]) : [];
      for (const raw of values) {
        const at = readingTime(raw?.time);
        if (Number.isNaN(at)) {
          // An unreadable time would put a counter value at a wrong instant: refuse the meter's answer.
          throw new ServiceError(`Metry sent a ${metric} reading without a readable time ("${String(raw?.time).slice(0, 40)}").`, { code: 'INVALID_RESPONSE', service: 'metry' });
        }
        // Neighbouring requests meet at midnight; a reading there is delivered once.
        const key = `${metric}|${at}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const reading: Reading = {
          source: 'metry',
          meterId: meter.id,
          metric,
          unit: METRY_METRIC_UNITS[metric] ?? '',
          start: toIsoWithOffset(at, offsetMinutesAt(at, meter.timezone)),
          value: toReadingValue(raw.value),
          status: typeof raw.status === 'string' ? raw.status : null,
        };
        if (meter.mappedId !== undefined) reading.mappedId = meter.mappedId;
        if (raw.counter !== null && raw.counter !== undefined) reading.counter = raw.counter;
        readings.push(reading);
      }
    }
  }
  return readings;
}

/** One meter: every request of the period, then its readings at once (or nothing when blocked). */
async function meterReadings(requester: HttpRequester, meter: ZonedMeter, options: RegisterReadingsOptions): Promise<ExportEvent> {
  const metrics = [...options.metrics];
  const openEnd = lastCompleteSlot(options.now, 'day', meter.timezone);
  const periods = parsePeriodExpression(options.period)
    .map((range) => resolveRange(range, 'day', meter.timezone, openEnd))
    .filter((range) => range.first <= range.last)
    .flatMap((range) => splitRange(range, READING_DAYS_PER_REQUEST, meter.timezone))
    .map((range) => rangeToPeriod(range, meter.timezone));
  const readings: Reading[] = [];
  const seen = new Set<string>();
  let blocked = false;
  for (const period of periods) {
    const path = `/readings/${encodeURIComponent(meter.id)}/${period}`;
    const entry = await getEntry<ReadingsEntry>(requester, path, { metrics: metrics.join(',') }, 'fetching register readings', options.signal);
    if (entry.readings_blocked === true) blocked = true;
    if (!blocked) readings.push(...convertReadings(entry, meter, metrics, seen));
  }
  if (blocked) {
    return skippedEvent(
      meter,
      'READINGS_BLOCKED',
      'Metry found an anomaly in this meter\'s readings and blocked them (readings_blocked); nothing of this meter was imported. Ask the user to resolve the anomaly in Metry; the readings are fetched again on the next run.',
    );
  }
  return { type: 'readings', meter, granularity: 'instant', metrics, period: options.period, readings };
}

/** Yields one event per meter: its register readings, or why it was skipped. */
export async function* exportRegisterReadings(requester: HttpRequester, input: Iterable<unknown>, options: RegisterReadingsOptions): AsyncGenerator<ExportEvent> {
  parsePeriodExpression(options.period);
  const unique = new Map(toConsumptionMeters([...input]).map((meter) => [meter.id, meter] as const));
  const { ready, skipped } = await withTimezones(requester, [...unique.values()], options.fallbackTimezone, options.signal);
  yield* skipped;
  for (const meter of ready) {
    try {
      yield await meterReadings(requester, meter, options);
    } catch (error) {
      if (isMeterGone(error)) yield goneEvent(meter, error);
      else if (error instanceof ServiceError && error.code === 'INVALID_RESPONSE') yield skippedEvent(meter, error.code, `${error.message} Nothing of this meter was imported; it is tried again next time.`);
      else throw error;
    }
  }
}
