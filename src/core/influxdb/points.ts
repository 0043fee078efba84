/**
 * Readings as InfluxDB points in the shape node-red-contrib-influxdb's `influxdb out` node writes
 * (its README, "Input"): `msg.payload = [fields, tags]` for one point, `[[fields, tags], …]` for
 * several; a `time` field becomes the point's time stamp. Fields hold numbers only (InfluxDB has no
 * null field: a missing value is a missing field); tags hold the identity of the series.
 *
 * Writing the same series and time stamp again overwrites the fields (InfluxDB 1.x "Duplicate
 * points", https://docs.influxdata.com/influxdb/v1/troubleshooting/frequently-asked-questions/ ),
 * so a replayed telegram or a re-exported period never doubles a point.
 */
import type { ParsedTelegram } from '../dsmr/types';
import { p1MeterId, P1_SOURCE, telegramTime, telegramToReadings, type P1ReadingOptions } from '../p1-readings';
import { validateReading, type Reading } from '../readings';

export type InfluxFields = Record<string, number | Date>;
export type InfluxTags = Record<string, string>;
export type InfluxPoint = [InfluxFields, InfluxTags];

/**
 * One point per telegram at the telegram's own time: tags `meterId` and `source`, a field per
 * reading (`electricity_delivered_tariff1`, `power_delivered`, `gas_delivered`, …). M-Bus
 * registers go in as the value the meter showed at that moment; their own capture time is not a
 * field (time stamps are not numbers), see telegramToReadings for it.
 */
export function telegramPoint(telegram: ParsedTelegram, options: P1ReadingOptions = {}): InfluxPoint {
  const readings = telegramToReadings(telegram, options);
  const fields: InfluxFields = { time: new Date(Date.parse(telegramTime(telegram, options))) };
  for (const reading of readings) if (reading.value !== null) fields[reading.metric] = reading.value;
  return [fields, { meterId: p1MeterId(telegram), source: P1_SOURCE }];
}

export interface PointsResult {
  points: InfluxPoint[];
  /** Readings left out, each with why (not a valid reading). */
  rejected: { reading: unknown; reason: string }[];
}

/**
 * Any normalized readings (Metry, UtilityAPI, Intellimeter, P1): one point per meter, period and
 * start, tags `meterId`, `source` and, when present, `mappedId` and `granularity`. Null values
 * are left out; a point left without any field is not written.
 */
export function readingsToPoints(readings: unknown[]): PointsResult {
  const groups = new Map<string, InfluxPoint>();
  const rejected: PointsResult['rejected'] = [];
  for (const item of readings) {
    const problems = validateReading((item ?? {}) as Partial<Reading>);
    if (problems.length > 0) {
      rejected.push({ reading: item, reason: problems.join('; ') });
      continue;
    }
    const reading = item as Reading;
    if (reading.metric === 'time') {
      rejected.push({ reading, reason: 'a metric named "time" would be read as the time stamp by influxdb out' });
      continue;
    }
    if (reading.value === null) continue;
    const time = Date.parse(reading.start);
    const key = JSON.stringify([reading.source, reading.meterId, reading.mappedId ?? null, reading.granularity ?? null, time]);
    let point = groups.get(key);
    if (!point) {
      const tags: InfluxTags = { meterId: reading.meterId, source: reading.source };
      if (reading.mappedId) tags.mappedId = reading.mappedId;
      if (reading.granularity) tags.granularity = reading.granularity;
      point = [{ time: new Date(time) }, tags];
      groups.set(key, point);
    }
    point[0][reading.metric] = reading.value;
  }
  return { points: [...groups.values()], rejected };
}
