import type { HttpRequester, RetryEvent } from '../http/client';
import { ServiceError } from '../http/errors';
import { Granularity, Reading, isIsoInstantWithOffset, normaliseOffset, toReadingValue } from '../readings';
import { explainUtilityApiError } from './errors';
import { listPages } from './paging';
import type { IntervalBlock, IntervalDatapoint, IntervalListing, IntervalReading } from './types';

/** Which readings to ask for: ISO 8601 or YYYY-MM-DD (a short date is the utility's local day). */
export interface IntervalWindow {
  /** Intervals that start on or after this. */
  start?: string;
  /** Intervals that end on or before this; open (up to the newest) when absent. */
  end?: string;
}

export interface IntervalQuery {
  window?: IntervalWindow;
  /**
   * UtilityAPI normally returns only the intervals of a meter's main length (e.g. 15 minutes) and
   * leaves out periods the utility filled with other lengths (e.g. hourly); `allow_mixed=true`
   * returns them all (support.utilityapi.com "What does mixed interval data mean").
   */
  allowMixed?: boolean;
  signal?: AbortSignal;
  onRetry?: (event: RetryEvent) => void;
  /** Guard against a `next` link that never ends. */
  maxPages?: number;
}

/** One page of a meter's intervals, as readings. */
export interface IntervalPage {
  meterUid: string;
  /** 1 for the first page. */
  index: number;
  /** Nothing follows this page. */
  last: boolean;
  readings: Reading[];
  /** The start of the newest reading so far on this page: how far the export has come. */
  reached?: string;
}

/** The default window: the `months` before `now`, from the first of that day (the utility's local day). */
export function windowOfMonths(now: number, months: number): IntervalWindow {
  const date = new Date(now);
  date.setUTCMonth(date.getUTCMonth() - months);
  return { start: date.toISOString().slice(0, 10) };
}

function readIntervalListing(body: unknown): { items: IntervalBlock[]; next?: unknown } {
  if (Array.isArray(body)) return { items: body as IntervalBlock[] };
  const listing = body as IntervalListing | null;
  if (!listing || typeof listing !== 'object' || !Array.isArray(listing.intervals)) {
    throw new ServiceError('UtilityAPI answered GET /intervals without an intervals list. Check that the base URL points at https://utilityapi.com/api/v2.', { code: 'INVALID_RESPONSE', service: 'utilityapi' });
  }
  return { items: listing.intervals, next: listing.next };
}

/**
 * One meter's interval readings, page by page: GET /intervals?meters=<uid> with the window, oldest
 * first, then every `next` link. Each page is converted and handed on before the next is asked
 * for, so memory holds one page however long the history is.
 */
export async function* intervalPages(client: HttpRequester, meterUid: string, query: IntervalQuery = {}): AsyncGenerator<IntervalPage, void, undefined> {
  const pages = listPages<IntervalBlock>(
    client,
    {
      path: '/intervals',
      query: { meters: meterUid, start: query.window?.start, end: query.window?.end, order: 'earliest_first', allow_mixed: query.allowMixed ? 'true' : undefined },
      what: 'fetching interval data',
      signal: query.signal,
      onRetry: query.onRetry,
      maxPages: query.maxPages,
    },
    readIntervalListing,
  );
  try {
    for await (const page of pages) {
      const readings = page.items.flatMap((block) => intervalBlockToReadings(block, meterUid));
      // The raw Interval objects are not needed once converted: a page holds tens of thousands of readings.
      page.items.length = 0;
      yield { meterUid, index: page.index, last: page.last, readings, reached: readings.at(-1)?.start };
    }
  } catch (error) {
    throw explainUtilityApiError(error, 'intervals', [meterUid]);
  }
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The granularity a reading's length stands for; daylight-saving days (23/25 h) are still days. */
export function granularityOf(lengthMs: number): Granularity {
  if (lengthMs === 5 * MINUTE) return '5min';
  if (lengthMs === 15 * MINUTE) return '15min';
  if (lengthMs === HOUR) return 'hour';
  if (lengthMs >= 23 * HOUR && lengthMs <= 25 * HOUR) return 'day';
  if (lengthMs >= 28 * DAY - HOUR && lengthMs <= 31 * DAY + HOUR) return 'month';
  return 'interval';
}

const UNIT_NAMES: Record<string, string> = { kwh: 'kWh', wh: 'Wh', kw: 'kW', w: 'W', kvarh: 'kvarh', kvar: 'kvar', therms: 'therms', ccf: 'ccf' };

function unitName(unit: string | undefined): string {
  if (!unit) return 'kWh';
  return UNIT_NAMES[unit.toLowerCase()] ?? unit;
}

/**
 * Turns one Interval object into normalized readings:
 * - `kwh` of each reading → metric `energy`, unit `kWh` (`null` when UtilityAPI has no value);
 * - each datapoint → metric `energy_<type>` for energy units, `<type>_<unit>` otherwise, except a
 *   `net` kWh datapoint equal to `kwh`, which would only repeat `energy`.
 * Start and end keep the utility-local offset UtilityAPI gives; readings without a valid
 * start/end are skipped, as they cannot be stored under a key.
 */
export function intervalBlockToReadings(block: IntervalBlock, fallbackMeterUid?: string): Reading[] {
  const meterId = block.meter_uid !== undefined ? String(block.meter_uid) : fallbackMeterUid;
  if (!meterId || !Array.isArray(block.readings)) return [];
  const out: Reading[] = [];
  for (const raw of block.readings as IntervalReading[]) {
    if (!raw || typeof raw.start !== 'string' || typeof raw.end !== 'string') continue;
    const start = normaliseOffset(raw.start);
    const end = normaliseOffset(raw.end);
    if (!isIsoInstantWithOffset(start) || !isIsoInstantWithOffset(end)) continue;
    const granularity = granularityOf(Date.parse(end) - Date.parse(start));
    const base = { source: 'utilityapi' as const, meterId, granularity, start, end };
    const kwh = toReadingValue(raw.kwh);
    out.push({ ...base, metric: 'energy', unit: 'kWh', value: kwh });
    for (const datapoint of Array.isArray(raw.datapoints) ? (raw.datapoints as IntervalDatapoint[]) : []) {
      if (!datapoint || typeof datapoint.type !== 'string' || !datapoint.type) continue;
      const unit = unitName(datapoint.unit);
      const value = toReadingValue(datapoint.value);
      if (datapoint.type === 'net' && unit === 'kWh' && value === kwh) continue;
      const metric = unit === 'kWh' || unit === 'Wh' ? `energy_${datapoint.type}` : `${datapoint.type}_${unit.toLowerCase()}`;
      out.push({ ...base, metric, unit, value });
    }
  }
  return out;
}
