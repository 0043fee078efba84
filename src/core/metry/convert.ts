/**
 * Consumption responses to normalized readings: one reading per slot and metric. Slot times are
 * computed from `start_date` (a UTC instant written `+0000`): hours step in UTC, so a DST day has
 * 23 or 25 of them; days and months step on the meter's local calendar. `null` stays `null`.
 */
import { Reading, normaliseOffset, toIsoWithOffset, toReadingValue } from '../readings';
import { ServiceError } from '../http/errors';
import { MetryGranularity, periodId, slotStart, stepSlot } from './periods';
import { offsetMinutesAt } from '../time-zone';
import { METRY_METRIC_UNITS, MetryConsumptionEntry } from './types';

export interface ConvertContext {
  meterId: string;
  mappedId?: string;
  granularity: MetryGranularity;
  metrics: readonly string[];
  timezone: string;
  /** Per metric, the first slot to keep (earlier slots were delivered before or padded in a batch). */
  metricStarts?: Record<string, number>;
  /** The last slot to keep. */
  lastSlot?: number;
  /** Shared by the conversions of one run. */
  slots?: SlotTexts;
}

export interface ConvertedEntry {
  readings: Reading[];
  /** Per metric, the start of the last slot that had a value. */
  lastWithValue: Record<string, number>;
}

function parseInstant(text: unknown): number {
  const ms = typeof text === 'string' ? Date.parse(normaliseOffset(text)) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new ServiceError(`Metry sent a consumption period without a readable start_date ("${String(text).slice(0, 40)}").`, { code: 'INVALID_RESPONSE', service: 'metry' });
  }
  return ms;
}

interface SlotInfo {
  start: string;
  next: number;
  id: string;
}

/**
 * The texts of slots (start with offset, next slot, period id), computed once per slot: every
 * meter of a batch has the same slots. One instance per export run; it forgets everything when
 * it grows large.
 */
export class SlotTexts {
  private readonly byZone = new Map<string, Map<number, SlotInfo>>();

  constructor(private readonly limit = 100_000) {}

  get(slot: number, granularity: MetryGranularity, timezone: string): SlotInfo {
    const key = `${timezone}|${granularity}`;
    let cache = this.byZone.get(key);
    if (!cache) this.byZone.set(key, (cache = new Map()));
    let info = cache.get(slot);
    if (!info) {
      if (cache.size >= this.limit) cache.clear();
      info = { start: toIsoWithOffset(slot, offsetMinutesAt(slot, timezone)), next: stepSlot(slot, granularity, timezone), id: periodId(slot, granularity, timezone) };
      cache.set(slot, info);
    }
    return info;
  }
}

export function convertEntry(entry: MetryConsumptionEntry, context: ConvertContext): ConvertedEntry {
  const readings: Reading[] = [];
  const lastWithValue: Record<string, number> = {};
  const { granularity, timezone, meterId, mappedId } = context;
  const lastSlot = context.lastSlot ?? Number.POSITIVE_INFINITY;
  const slots = context.slots ?? new SlotTexts();
  const slotInfo = (slot: number): SlotInfo => slots.get(slot, granularity, timezone);
  for (const period of entry.periods ?? []) {
    const series = context.metrics.map((metric) => ({
      metric,
      unit: METRY_METRIC_UNITS[metric] ?? '',
      values: Array.isArray(period[metric]) ? (period[metric] as unknown[]) : [],
      from: context.metricStarts?.[metric] ?? Number.NEGATIVE_INFINITY,
    }));
    const length = Math.max(0, ...series.map((s) => s.values.length));
    // start_date is the instant the first slot begins; snapping to the slot grid guards against
    // a start written to the second before (end_date style).
    let slot = slotStart(parseInstant(period.start_date), granularity, timezone);
    let info = slotInfo(slot);
    for (let index = 0; index < length && slot <= lastSlot; index += 1) {
      const nextInfo = slotInfo(info.next);
      for (const { metric, unit, values, from } of series) {
        if (index >= values.length || slot < from) continue;
        const value = toReadingValue(values[index]);
        const reading: Reading = { source: 'metry', meterId, metric, unit, granularity, start: info.start, end: nextInfo.start, value, period: info.id };
        if (mappedId !== undefined) reading.mappedId = mappedId;
        readings.push(reading);
        if (value !== null && !(lastWithValue[metric] >= slot)) lastWithValue[metric] = slot;
      }
      slot = info.next;
      info = nextInfo;
    }
  }
  return { readings, lastWithValue };
}
