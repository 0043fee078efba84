/**
 * Stream records to normalized readings. A consumption record is one meter (`_id`, `ean`,
 * `timezone`) and values `{value, granularity, metric, updated, period, pushed_at}` where `period`
 * is the meter's local period id (`2017100100`), as in consumption requests (Metry API
 * Blueprint, "Consume a consumption stream"). Slots and their texts are the export's
 * (periods.ts, convert.ts), so a value reads the same whether it came from a stream or an export.
 *
 * A value that fails a check (unknown granularity, a period that is not one, a value that is not a
 * number) is not turned into data: it is returned as rejected, with the reason, for the node's
 * dead-letter output, and the rest of the batch goes on.
 */
import { Reading, toReadingValue } from '../readings';
import { instantsForWallTime, isValidTimeZone } from '../time-zone';
import { SlotTexts } from './convert';
import { MetryGranularity, fromLocal, isMetryGranularity, parsePeriodPoint } from './periods';
import type { StreamRecord, StreamValue } from './stream-client';
import { METRY_METRIC_UNITS } from './types';

export interface StreamMeter {
  id: string;
  ean?: string;
  timezone: string;
}

export interface RejectedValue {
  /** The record's meter id, when it had one. */
  meterId?: string;
  /** The value as Metry sent it (the whole record when the record itself is unusable). */
  value: unknown;
  reason: string;
}

export interface ConvertedRecord {
  meter?: StreamMeter;
  readings: Reading[];
  rejected: RejectedValue[];
}

const METRIC_NAME = /^[a-z][a-z0-9_]*$/;

/** The slot a period id names in the meter's zone, or why there is none. */
function slotOf(period: unknown, granularity: MetryGranularity, timezone: string): number | string {
  if (typeof period !== 'string' && typeof period !== 'number') return 'it has no period';
  let point;
  try {
    point = parsePeriodPoint(period);
  } catch {
    return `its period "${String(period)}" is not a Metry period id`;
  }
  if (point.precision !== granularity) return `its period "${String(period)}" does not name one ${granularity}`;
  if (granularity !== 'hour') return fromLocal({ ...point.local, hour: 0 }, timezone);
  const instants = instantsForWallTime({ ...point.local, minute: 0, second: 0 }, timezone);
  if (instants.length === 0) return `the hour ${String(period)} does not exist in ${timezone} (daylight-saving gap)`;
  // The repeated hour of an autumn change: Metry's period id does not say which of the two.
  if (instants.length > 1) return `the hour ${String(period)} occurs twice in ${timezone} (daylight-saving change) and the period does not say which`;
  return instants[0];
}

function convertValue(item: StreamValue, meter: StreamMeter, slots: SlotTexts): Reading | string {
  if (!item || typeof item !== 'object') return 'it is not an object';
  const { granularity, metric } = item;
  if (!isMetryGranularity(granularity)) return `its granularity "${String(granularity)}" is not month, day or hour`;
  if (typeof metric !== 'string' || !METRIC_NAME.test(metric)) return `its metric "${String(metric)}" is not a metric name`;
  const raw = item.value;
  if (raw !== null && (typeof raw !== 'number' || !Number.isFinite(raw))) return `its value ${JSON.stringify(raw)} is not a number or null`;
  const slot = slotOf(item.period, granularity, meter.timezone);
  if (typeof slot === 'string') return slot;
  const info = slots.get(slot, granularity, meter.timezone);
  const reading: Reading = {
    source: 'metry',
    meterId: meter.id,
    metric,
    // Costs (`cost_…`) come without their currency: the stream does not say it.
    unit: METRY_METRIC_UNITS[metric] ?? '',
    granularity,
    start: info.start,
    end: slots.get(info.next, granularity, meter.timezone).start,
    value: toReadingValue(raw),
    period: info.id,
    // `updated: true`: Metry replaced a value it had pushed before; an upsert overwrites it.
    updated: item.updated === true,
  };
  if (typeof item.pushed_at === 'string') reading.pushedAt = item.pushed_at;
  return reading;
}

/** One record's readings, and the values that cannot be readings. */
export function convertStreamRecord(record: StreamRecord, slots: SlotTexts): ConvertedRecord {
  const meter = record?.meter;
  const meterId = typeof meter?._id === 'string' && meter._id !== '' ? meter._id : undefined;
  const values = record?.values;
  if (!meterId) return { readings: [], rejected: [{ value: record, reason: 'the record names no meter (meter._id)' }] };
  if (!Array.isArray(values)) return { readings: [], rejected: [{ meterId, value: record, reason: 'the record has no list of values' }] };
  if (!isValidTimeZone(meter!.timezone)) {
    return { readings: [], rejected: values.map((value) => ({ meterId, value, reason: `the meter's time zone "${String(meter!.timezone)}" is unknown, so its periods cannot be placed in time` })) };
  }
  const streamMeter: StreamMeter = { id: meterId, timezone: meter!.timezone as string };
  if (typeof meter!.ean === 'string' && meter!.ean !== '') streamMeter.ean = meter!.ean;
  const readings: Reading[] = [];
  const rejected: RejectedValue[] = [];
  for (const value of values as StreamValue[]) {
    const outcome = convertValue(value, streamMeter, slots);
    if (typeof outcome === 'string') rejected.push({ meterId, value, reason: outcome });
    else readings.push(outcome);
  }
  return { meter: streamMeter, readings, rejected };
}
