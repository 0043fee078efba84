/**
 * Deciding what to ask Metry for, with as few requests as the API allows: per meter, which
 * granularity, metrics and slots are needed (incremental from a cursor or `consumption_stats`,
 * or an explicit period), then one request per meter and range, ranges split at Metry's
 * 100,000-values limit, and meters that need the same thing batched into `/consumptions/multi`.
 */
import { ServiceError } from '../http/errors';
import {
  MetryGranularity,
  PeriodRange,
  SlotRange,
  countSlots,
  lastCompleteSlot,
  parsePeriodExpression,
  periodId,
  resolveRange,
  splitRange,
  statsPointToSlot,
  stepSlot,
} from './periods';
import { isValidTimeZone } from '../time-zone';
import { ConsumptionStats, METRY_MAX_VALUES_PER_REQUEST, MetryMeter, MetryStatsEntry, meterKey } from './types';

/** A meter as the consumption export sees it. */
export interface ConsumptionMeter {
  id: string;
  mappedId?: string;
  name?: string;
  ean?: string;
  timezone?: string;
  stats?: ConsumptionStats;
}

export type GranularityChoice = MetryGranularity | 'best';

/** Turns what a message carries (an id, a meter, or a list of either) into meters. */
export function toConsumptionMeters(input: unknown): ConsumptionMeter[] {
  const list = Array.isArray(input) ? input : input === undefined || input === null || input === '' ? [] : [input];
  return list.map((item, index) => {
    if (typeof item === 'string' && item.trim() !== '') return { id: item.trim() };
    if (item && typeof item === 'object') {
      const meter = item as MetryMeter;
      const id = meterKey(meter);
      if (typeof id === 'string' && id !== '') {
        return {
          id,
          mappedId: typeof meter.mappedId === 'string' ? meter.mappedId : undefined,
          name: typeof meter.name === 'string' ? meter.name : undefined,
          ean: typeof meter.ean === 'string' ? meter.ean : undefined,
          timezone: typeof meter.timezone === 'string' ? meter.timezone : undefined,
          stats: meter.consumption_stats && typeof meter.consumption_stats === 'object' ? meter.consumption_stats : undefined,
        };
      }
    }
    throw new ServiceError(
      `Item ${index + 1} of the input is not a Metry meter: send a meter id (root._id), a meter object as metry-meters emits it, or a list of those.`,
      { code: 'CONFIG', service: 'metry' },
    );
  });
}

function statsEntry(stats: ConsumptionStats | undefined, metric: string, granularity: MetryGranularity): MetryStatsEntry | null | undefined {
  return stats?.[metric]?.[granularity];
}

function hasData(entry: MetryStatsEntry | null | undefined): boolean {
  return !!entry && (entry.count ?? 0) > 0 && entry.first !== null && entry.first !== undefined;
}

/** The finest granularity `consumption_stats` shows data for; monthly is what Metry always has. */
export function bestGranularity(stats: ConsumptionStats | undefined, metric = 'energy'): MetryGranularity {
  for (const granularity of ['hour', 'day', 'month'] as const) {
    if (hasData(statsEntry(stats, metric, granularity))) return granularity;
  }
  return 'month';
}

export interface PlanSettings {
  granularity: GranularityChoice;
  metrics: readonly string[];
  /** Explicit period (`period` mode and forced export); absent means incremental. */
  period?: string;
  /** Current time, for "last complete period". */
  now: number;
  /** Zone used when a meter has none. */
  fallbackTimezone?: string;
  /**
   * Incremental export fetches this many stored periods again on every run, so a value Metry
   * filled in late or corrected is picked up (an upsert makes it harmless). Default: per
   * granularity, `DEFAULT_LOOK_BACK`.
   */
  lookBack?: number;
}

/** Look-back defaults: 2 months, or 3 days of day or hour values. */
export const DEFAULT_LOOK_BACK: Readonly<Record<MetryGranularity, number>> = { month: 2, day: 3, hour: 72 };

export function lookBackPeriods(setting: number | undefined, granularity: MetryGranularity): number {
  return setting ?? DEFAULT_LOOK_BACK[granularity];
}

/** One meter's need for one range: which slots to fetch, and from which slot each metric is new. */
export interface MeterNeed {
  meter: ConsumptionMeter;
  timezone: string;
  granularity: MetryGranularity;
  metrics: string[];
  range: SlotRange;
  /** Per metric, the first slot to deliver; earlier slots in a response are dropped. */
  metricStarts: Record<string, number>;
}

export interface PlanNotice {
  meter: ConsumptionMeter;
  kind: 'up-to-date' | 'unavailable' | 'no-start';
  reason: string;
}

export interface MeterPlan {
  needs: MeterNeed[];
  notices: PlanNotice[];
}

/** Where each metric of a meter should start, from the cursors the store holds (slot starts). */
export type MetricCursors = Record<string, number | undefined>;

export function meterTimezone(meter: ConsumptionMeter, fallback = 'UTC'): string {
  return isValidTimeZone(meter.timezone) ? meter.timezone : fallback;
}

export function meterGranularity(meter: ConsumptionMeter, settings: Pick<PlanSettings, 'granularity' | 'metrics'>): MetryGranularity {
  return settings.granularity === 'best' ? bestGranularity(meter.stats, settings.metrics[0]) : settings.granularity;
}

/** The needs of one meter; `cursors` only matters for incremental export. */
export function planMeter(meter: ConsumptionMeter, settings: PlanSettings, cursors: MetricCursors = {}, parsedPeriod?: PeriodRange[]): MeterPlan {
  const timezone = meterTimezone(meter, settings.fallbackTimezone);
  const granularity = meterGranularity(meter, settings);
  const lastComplete = lastCompleteSlot(settings.now, granularity, timezone);
  // Stats tell which metrics exist for the meter; without stats every requested metric is tried.
  const metrics = meter.stats ? settings.metrics.filter((m) => hasData(statsEntry(meter.stats, m, granularity))) : [...settings.metrics];
  const missing = settings.metrics.filter((m) => !metrics.includes(m));
  const notices: PlanNotice[] = [];
  if (missing.length > 0) {
    notices.push({ meter, kind: 'unavailable', reason: `Metry has no ${granularity} values of ${missing.join(', ')} for this meter` });
  }
  if (metrics.length === 0) return { needs: [], notices };

  if (settings.period !== undefined) {
    const ranges = parsedPeriod ?? parsePeriodExpression(settings.period);
    const needs = ranges.map((range) => {
      const slots = resolveRange(range, granularity, timezone, lastComplete);
      return { meter, timezone, granularity, metrics, range: slots, metricStarts: Object.fromEntries(metrics.map((m) => [m, slots.first])) };
    });
    return { needs: needs.filter((need) => need.range.first <= need.range.last), notices };
  }

  const starts: Record<string, number> = {};
  let lastWithData: number | undefined;
  const noStart: string[] = [];
  const lookBack = lookBackPeriods(settings.lookBack, granularity);
  for (const metric of metrics) {
    const entry = statsEntry(meter.stats, metric, granularity);
    const cursor = cursors[metric];
    const first = statsPointToSlot(entry?.first, granularity, timezone);
    let start = first;
    if (cursor !== undefined) {
      const back = stepSlot(cursor, granularity, timezone, 1 - lookBack);
      // Looking back never reaches before the first value Metry has.
      start = first !== undefined && back < first ? Math.min(first, stepSlot(cursor, granularity, timezone)) : back;
    }
    if (start === undefined) {
      noStart.push(metric);
      continue;
    }
    starts[metric] = start;
    const last = statsPointToSlot(entry?.last, granularity, timezone);
    if (last !== undefined) lastWithData = Math.max(lastWithData ?? last, last);
    else lastWithData = lastComplete;
  }
  if (noStart.length > 0) {
    notices.push({ meter, kind: 'no-start', reason: `nothing tells where ${noStart.join(', ')} starts (no cursor and no consumption_stats); give a period once` });
  }
  const fetched = Object.keys(starts);
  if (fetched.length === 0) return { needs: [], notices };
  // Asking beyond the last value Metry reports only returns nulls, so the range ends there.
  const last = Math.min(lastComplete, lastWithData ?? lastComplete);
  const first = Math.min(...Object.values(starts));
  if (first > last) {
    notices.push({ meter, kind: 'up-to-date', reason: 'no complete period with new values yet' });
    return { needs: [], notices };
  }
  return { needs: [{ meter, timezone, granularity, metrics: fetched, range: { granularity, first, last }, metricStarts: starts }], notices };
}

export interface RequestMember {
  need: MeterNeed;
  /** The member's own share of the request's values. */
  values: number;
}

export interface PlannedRequest {
  granularity: MetryGranularity;
  metrics: string[];
  /** The Metry period string, read by Metry in each meter's own zone. */
  period: string;
  members: RequestMember[];
  values: number;
}

export interface BatchLimits {
  maxValuesPerRequest?: number;
  /** Meters in one `/consumptions/multi` request. */
  maxMetersPerRequest?: number;
  /**
   * Longest URL a request may have (default 6,144 characters): servers and proxies refuse
   * longer ones (414), and `?meters=` grows with every id.
   */
  maxUrlLength?: number;
  /** Length of the base URL in front of the paths, for the URL limit. */
  baseUrlLength?: number;
  /** `false` sends one request per meter (no `/consumptions/multi`). */
  useMulti?: boolean;
}

function firstLastIds(need: MeterNeed): [string, string] {
  return [periodId(need.range.first, need.granularity, need.timezone), periodId(need.range.last, need.granularity, need.timezone)];
}

/** Padding a batch may add to a member's range before a separate request is cheaper. */
const ALIGN_SLACK: Record<MetryGranularity, number> = { month: 12, day: 31, hour: 24 };

export const DEFAULT_MAX_URL_LENGTH = 6144;

/** The URL of a multi request without its meter ids: `…/consumptions/multi/hour/2024010100-2024123123?meters=&metrics=…`. */
function urlOverhead(need: MeterNeed, baseUrlLength: number): number {
  const longestPeriod = 'YYYYMMDDHH-YYYYMMDDHH'.length;
  return baseUrlLength + `/consumptions/multi/${need.granularity}/`.length + longestPeriod + '?meters=&metrics='.length + encodeURIComponent(need.metrics.join(',')).length;
}

/** What one more id adds to `?meters=`: the id and an encoded comma. */
function idUrlLength(need: MeterNeed): number {
  return encodeURIComponent(need.meter.id).length + 3;
}
/**
 * Groups needs into the fewest requests: needs that exceed the values limit are split into
 * ranges first; needs with the same granularity, metrics and end are batched, a batch starting
 * at its earliest member (later members' extra slots are dropped on arrival) as long as that
 * at most doubles any member's range, and each batch stays under the values, meters and URL
 * length limits.
 */
export function planRequests(needs: readonly MeterNeed[], limits: BatchLimits = {}): PlannedRequest[] {
  const maxValues = limits.maxValuesPerRequest ?? METRY_MAX_VALUES_PER_REQUEST;
  const maxMeters = limits.useMulti === false ? 1 : Math.max(1, limits.maxMetersPerRequest ?? 100);
  const maxUrl = limits.maxUrlLength ?? DEFAULT_MAX_URL_LENGTH;
  const baseUrlLength = limits.baseUrlLength ?? 200;
  const pieces: MeterNeed[] = [];
  for (const need of needs) {
    const maxSlots = Math.max(1, Math.floor(maxValues / need.metrics.length));
    for (const range of splitRange(need.range, maxSlots, need.timezone)) pieces.push({ ...need, range });
  }
  const groups = new Map<string, { need: MeterNeed; first: string; last: string }[]>();
  for (const need of pieces) {
    const [first, last] = firstLastIds(need);
    const key = `${need.granularity}|${need.metrics.join(',')}|${last}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push({ need, first, last });
  }
  const memo = new Map<string, number>();
  const slotsFrom = (firstId: string, need: MeterNeed): number => {
    const key = `${firstId}|${need.timezone}|${need.granularity}|${need.range.last}`;
    let slots = memo.get(key);
    if (slots === undefined) memo.set(key, (slots = slotsFromId(firstId, need)));
    return slots;
  };
  const requests: PlannedRequest[] = [];
  for (const group of groups.values()) {
    // Latest start first: the first member of a batch has the shortest range and bounds the padding.
    group.sort((a, b) => (a.first < b.first ? 1 : a.first > b.first ? -1 : 0));
    let batch: { need: MeterNeed; first: string; last: string }[] = [];
    let batchFirst = '';
    let batchValues = 0;
    let batchUrl = 0;
    const flush = (): void => {
      if (batch.length === 0) return;
      requests.push(makeRequest(batch.map((b) => b.need), batchFirst, batch[0].last, slotsFrom));
      batch = [];
    };
    const valuesFrom = (firstId: string, items: readonly { need: MeterNeed }[]): number =>
      items.reduce((sum, b) => sum + slotsFrom(firstId, b.need) * b.need.metrics.length, 0);
    for (const item of group) {
      const start = (): void => {
        batch = [item];
        batchFirst = item.first;
        batchValues = valuesFrom(batchFirst, batch);
        batchUrl = urlOverhead(item.need, baseUrlLength) + idUrlLength(item.need);
      };
      if (batch.length === 0) {
        start();
        continue;
      }
      const candidateFirst = item.first < batchFirst ? item.first : batchFirst;
      const shortest = batch[0].need;
      const own = countSlots(shortest.range.first, shortest.range.last, shortest.granularity, shortest.timezone);
      const fitsPadding = slotsFrom(candidateFirst, shortest) <= Math.max(2 * own, own + ALIGN_SLACK[shortest.granularity]);
      const values = candidateFirst === batchFirst ? batchValues + valuesFrom(batchFirst, [item]) : valuesFrom(candidateFirst, [...batch, item]);
      const url = batchUrl + idUrlLength(item.need);
      if (batch.length < maxMeters && fitsPadding && values <= maxValues && url <= maxUrl) {
        batch.push(item);
        batchFirst = candidateFirst;
        batchValues = values;
        batchUrl = url;
      } else {
        flush();
        start();
      }
    }
    flush();
  }
  return requests;
}

/** Slots from a period id (read in the need's zone) to the need's last slot. */
function slotsFromId(firstId: string, need: MeterNeed): number {
  const range = resolveRange(parsePeriodExpression(firstId)[0], need.granularity, need.timezone, need.range.last);
  return countSlots(range.first, need.range.last, need.granularity, need.timezone);
}

function makeRequest(needs: MeterNeed[], firstId: string, lastId: string, slotsFrom: (firstId: string, need: MeterNeed) => number): PlannedRequest {
  const members = needs.map((need) => ({ need, values: slotsFrom(firstId, need) * need.metrics.length }));
  return {
    granularity: needs[0].granularity,
    metrics: needs[0].metrics,
    period: firstId === lastId ? firstId : `${firstId}-${lastId}`,
    members,
    values: members.reduce((sum, m) => sum + m.values, 0),
  };
}
