/**
 * Costs as normalized readings: `GET /costs/{id}/month/{period}?metrics=…` (Metry API Blueprint,
 * "Get Costs"; service-contracts §1.4). Costs are month values parsed from invoices and are
 * planned like consumption (the same planner: periods read in the meter's own zone, split at
 * Metry's values limit), one request per meter and range, since Metry has no multi-meter costs
 * request. Each reading's metric is the name Metry's consumption Streams give the same value
 * (`cost_retail_total`), so costs fetched here and costs arriving through a Stream land in the
 * same rows; the unit is the entry's currency (e.g. `SEK`); a missing month stays `null`.
 */
import type { HttpRequester } from '../http/client';
import { ServiceError } from '../http/errors';
import type { Reading } from '../readings';
import { convertEntry } from './convert';
import { goneEvent, getEntry, isMeterGone, skippedEvent, withTimezones } from './entries';
import type { ExportEvent } from './export';
import { parsePeriodExpression } from './periods';
import { planMeter, planRequests, toConsumptionMeters } from './plan';
import type { MetryConsumptionPeriod } from './types';

/** The cost metrics Metry documents; the default is `retail_total,grid_total`. */
export const METRY_COST_METRICS = [
  'retail_subscription',
  'retail_usage',
  'retail_undefined',
  'retail_total',
  'grid_subscription',
  'grid_subscription_power',
  'grid_subscription_return_temperature',
  'grid_subscription_flow',
  'grid_usage',
  'grid_undefined',
  'grid_total',
] as const;

export const DEFAULT_COST_METRICS = ['retail_total', 'grid_total'];

/** Streams prefix cost metrics with `cost_` (Blueprint, "Group Streams"); readings use that name. */
export const COST_METRIC_PREFIX = 'cost_';

/** Reads a cost metrics setting; accepts `retail_total` or `cost_retail_total`, refuses names Metry does not document. */
export function parseCostMetrics(text: unknown): string[] {
  const list = Array.isArray(text) ? text.map(String) : String(text ?? '').split(/[\s,]+/);
  const names = [...new Set(list.map((m) => m.trim().replace(/^cost_/, '')).filter((m) => m !== ''))];
  if (names.length === 0) return [...DEFAULT_COST_METRICS];
  const unknown = names.filter((m) => !(METRY_COST_METRICS as readonly string[]).includes(m));
  if (unknown.length > 0) {
    throw new ServiceError(`Unknown cost metric ${unknown.map((m) => `"${m}"`).join(', ')}. Use one or more of ${METRY_COST_METRICS.join(', ')}.`, { code: 'CONFIG', service: 'metry' });
  }
  return names;
}

export interface CostExportOptions {
  /** Metry's names (`retail_total`); see parseCostMetrics. */
  metrics: readonly string[];
  /** The months to fetch, in Metry's period syntax (`2024`, `202401-202406`). */
  period: string;
  now: number;
  fallbackTimezone?: string;
  signal?: AbortSignal;
}

interface CostEntry {
  meter_id?: string;
  account_id?: string;
  currency?: unknown;
  periods?: MetryConsumptionPeriod[];
}

/**
 * Yields, per meter and request, the costs as readings; meters Metry refuses and answers without
 * a currency are skipped and reported; every other failure ends the run.
 */
export async function* exportCosts(requester: HttpRequester, input: Iterable<unknown>, options: CostExportOptions): AsyncGenerator<ExportEvent> {
  const metrics = [...options.metrics];
  const parsedPeriod = parsePeriodExpression(options.period);
  const unique = new Map(toConsumptionMeters([...input]).map((meter) => [meter.id, meter] as const));
  const { ready, skipped } = await withTimezones(requester, [...unique.values()], options.fallbackTimezone, options.signal);
  yield* skipped;
  for (const meter of ready) {
    // consumption_stats says nothing about costs, so the plan must not filter metrics by it.
    const plan = planMeter({ ...meter, stats: undefined }, { granularity: 'month', metrics, period: options.period, now: options.now, fallbackTimezone: meter.timezone }, {}, parsedPeriod);
    // Metry limits every request to 100,000 values; costs have no multi request.
    for (const request of planRequests(plan.needs, { useMulti: false })) {
      const need = request.members[0].need;
      let entry: CostEntry;
      try {
        const path = `/costs/${encodeURIComponent(meter.id)}/month/${request.period}`;
        entry = await getEntry<CostEntry>(requester, path, { metrics: metrics.join(',') }, 'fetching costs', options.signal);
      } catch (error) {
        if (isMeterGone(error)) {
          yield goneEvent(meter, error);
          break;
        }
        throw error;
      }
      if (typeof entry.currency !== 'string' || entry.currency.trim() === '') {
        yield skippedEvent(meter, 'INVALID_RESPONSE', 'Metry sent costs without a currency for this meter; they are not imported without their unit. It is tried again next time.');
        break;
      }
      const converted = convertEntry({ meter_id: meter.id, periods: entry.periods ?? [] }, {
        meterId: meter.id,
        mappedId: meter.mappedId,
        granularity: 'month',
        metrics,
        timezone: meter.timezone,
        metricStarts: need.metricStarts,
        lastSlot: need.range.last,
      });
      const currency = entry.currency;
      const readings: Reading[] = converted.readings.map((reading) => ({ ...reading, metric: `${COST_METRIC_PREFIX}${reading.metric}`, unit: currency }));
      yield { type: 'readings', meter, granularity: 'month', metrics: metrics.map((m) => `${COST_METRIC_PREFIX}${m}`), period: request.period, readings };
    }
  }
}
