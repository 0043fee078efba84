import type { HttpRequester, RetryEvent } from '../http/client';
import { ServiceError } from '../http/errors';
import { paginate } from '../http/pagination';
import { Granularity, Reading, isIsoInstantWithOffset, normaliseOffset, toReadingValue } from '../readings';
import { explainUtilityApiError } from './errors';
import type { IntervalBlock, IntervalDatapoint, IntervalListing, IntervalReading } from './types';

export interface IntervalQuery {
  /** ISO 8601 or YYYY-MM-DD (a short date is read in the utility's local time zone). */
  start?: string;
  end?: string;
  signal?: AbortSignal;
  onRetry?: (event: RetryEvent) => void;
  /** Guard against a `next` link that never ends. */
  maxPages?: number;
}

/**
 * Every Interval object of one meter: GET /intervals?meters=<uid>, then each `next` URL verbatim
 * until it is null. Oldest first, so readings arrive in time order.
 */
export function fetchIntervalBlocks(client: HttpRequester, meterUid: string, query: IntervalQuery = {}): AsyncGenerator<IntervalBlock, void, undefined> {
  return paginate<IntervalBlock, string>(
    async (next) => {
      let page: IntervalListing | IntervalBlock[] | null;
      try {
        const response = await client.request<IntervalListing | IntervalBlock[] | null>({
          path: next ?? '/intervals',
          query: next ? undefined : { meters: meterUid, start: query.start, end: query.end, order: 'earliest_first' },
          responseType: 'json',
          what: 'fetching interval data',
          signal: query.signal,
          onRetry: query.onRetry,
        });
        page = response.data;
      } catch (error) {
        throw explainUtilityApiError(error, 'intervals', [meterUid]);
      }
      if (Array.isArray(page)) return { items: page };
      if (!page || !Array.isArray(page.intervals)) {
        throw new ServiceError('UtilityAPI answered GET /intervals without an intervals list. Check that the base URL points at https://utilityapi.com/api/v2.', { code: 'INVALID_RESPONSE', service: 'utilityapi' });
      }
      return { items: page.intervals, next: typeof page.next === 'string' && page.next ? page.next : undefined };
    },
    { maxPages: query.maxPages },
  );
}

/** All readings of one meter's intervals, normalized. */
export async function fetchMeterReadings(client: HttpRequester, meterUid: string, query: IntervalQuery = {}): Promise<Reading[]> {
  const readings: Reading[] = [];
  for await (const block of fetchIntervalBlocks(client, meterUid, query)) {
    for (const reading of intervalBlockToReadings(block, meterUid)) readings.push(reading);
  }
  return readings;
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
