/**
 * The utilityapi-historical node's settings, checked once at deploy: a bad value is a CONFIG
 * error naming the field, before any (paid) request is made.
 */
import { readNumber } from '../runtime/options';
import { DEFAULT_BATCH_SIZE, MAX_COLLECTION_MONTHS } from './request';

/** The node's configuration as the editor saves it (older flows may lack the newer fields). */
export interface HistoricalConfig {
  batchSize?: unknown;
  wait?: unknown;
  /** Seconds between status checks. */
  pollInterval?: unknown;
  /** Minutes to wait at most. */
  waitTimeout?: unknown;
  fetchIntervals?: unknown;
  /** Months of intervals to export; empty: the months of the collection. */
  intervalMonths?: unknown;
  allowMixed?: unknown;
}

export interface HistoricalSettings {
  /** Meters per POST. */
  batchSize: number;
  /** Wait until collected, then send each meter. */
  wait: boolean;
  pollIntervalMs: number;
  waitTimeoutMs: number;
  /** Export each collected meter's intervals as readings (with `wait`). */
  fetchIntervals: boolean;
  /** Months before now to export; undefined: the months the collection covered. */
  intervalMonths?: number;
  /** Ask for intervals of every length (`allow_mixed=true`). */
  allowMixed: boolean;
}

/** The longest interval window offered: UtilityAPI collects at most 36 months, but may hold more from earlier collections. */
export const MAX_INTERVAL_MONTHS = 120;

export function readHistoricalSettings(config: HistoricalConfig): HistoricalSettings {
  const wait = config.wait === true;
  const fetchIntervals = wait && config.fetchIntervals === true;
  const emptyMonths = config.intervalMonths === undefined || config.intervalMonths === null || String(config.intervalMonths).trim() === '';
  return {
    batchSize: readNumber(config.batchSize, { field: 'Batch size', min: 1, max: 1000, default: DEFAULT_BATCH_SIZE, integer: true, unit: 'meters' }),
    wait,
    // Settings that only matter while waiting are checked only then, as the editor does.
    pollIntervalMs: wait ? readNumber(config.pollInterval, { field: 'Check every', min: 5, max: 3600, default: 60, unit: 'seconds' }) * 1000 : 60_000,
    waitTimeoutMs: wait ? readNumber(config.waitTimeout, { field: 'Wait at most', min: 1, max: 10_080, default: 60, unit: 'minutes' }) * 60_000 : 3_600_000,
    fetchIntervals,
    intervalMonths:
      fetchIntervals && !emptyMonths
        ? readNumber(config.intervalMonths, { field: 'Interval months', min: 1, max: MAX_INTERVAL_MONTHS, default: MAX_COLLECTION_MONTHS, integer: true, unit: 'months (empty: the months collected)' })
        : undefined,
    allowMixed: fetchIntervals && config.allowMixed === true,
  };
}
