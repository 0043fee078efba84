/**
 * The normalized reading: the one shape every data node can emit, so a single storage flow
 * (one table, one upsert) serves every source. See README "The reading schema".
 */
export type ReadingSource = 'dsmr-p1' | 'dsmr-reader' | 'metry' | 'utilityapi' | 'intellimeter';

export type Granularity = 'month' | 'day' | 'hour' | '15min' | '5min' | 'interval' | 'instant';

export interface Reading {
  /** Where the value came from. */
  source: ReadingSource;
  /** The source's own id of the meter (Metry `root._id`, UtilityAPI meter uid, P1 equipment id…). */
  meterId: string;
  /** The user's own id for the meter, when a mapping gave one. */
  mappedId?: string;
  /** What was measured, in the source's vocabulary: `energy`, `flow`, `electricity_delivered_1`… */
  metric: string;
  /** Unit of `value`, as the source states it: `kWh`, `m3`, `W`, `°C`… */
  unit: string;
  /** The period one value covers; absent for meter-register snapshots. */
  granularity?: Granularity;
  /** ISO-8601 instant with offset: start of the period, or the moment of a snapshot. */
  start: string;
  /** ISO-8601 instant with offset: end of the period (exclusive), when the value covers one. */
  end?: string;
  /** The value; `null` when the source reports the slot as missing. Never 0 for missing. */
  value: number | null;
  /** Anything else worth keeping (estimated flags, quality, tariff…). */
  [extra: string]: unknown;
}

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

export function isIsoInstantWithOffset(value: unknown): value is string {
  return typeof value === 'string' && ISO_WITH_OFFSET.test(value) && !Number.isNaN(Date.parse(value));
}

/**
 * Rewrites the offsets services write without a colon (`+0000`, `-0800`) into ISO-8601 form,
 * because `Date.parse` is only required to understand the latter.
 */
export function normaliseOffset(timestamp: string): string {
  return timestamp.trim().replace(' ', 'T').replace(/([+-])(\d{2})(\d{2})$/, '$1$2:$3');
}

/** Formats an instant as ISO-8601 UTC (`…Z`), the canonical form readings use when no local offset is known. */
export function toIsoUtc(ms: number): string {
  return new Date(ms).toISOString();
}

/** Formats an instant with a fixed offset in minutes east of UTC: `2024-03-31T03:00:00+02:00`. */
export function toIsoWithOffset(ms: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60_000);
  const pad = (n: number, width = 2): string => String(Math.abs(n)).padStart(width, '0');
  const sign = offsetMinutes < 0 ? '-' : '+';
  const offset = `${sign}${pad(Math.trunc(Math.abs(offsetMinutes) / 60))}:${pad(Math.abs(offsetMinutes) % 60)}`;
  return `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}${offset}`;
}

/** Turns a service's number-ish value into a reading value: numbers stay, missing stays `null`. */
export function toReadingValue(raw: unknown): number | null {
  if (raw === null || raw === undefined || raw === '') return null;
  const value = typeof raw === 'number' ? raw : Number(raw);
  return Number.isFinite(value) ? value : null;
}

/** Checks a reading against the schema; returns the problems found (empty when valid). */
export function validateReading(reading: Partial<Reading>): string[] {
  const problems: string[] = [];
  if (!reading.source) problems.push('source is missing');
  if (!reading.meterId) problems.push('meterId is missing');
  if (!reading.metric) problems.push('metric is missing');
  if (reading.unit === undefined) problems.push('unit is missing');
  if (!isIsoInstantWithOffset(reading.start)) problems.push('start is not an ISO-8601 instant with offset');
  if (reading.end !== undefined && !isIsoInstantWithOffset(reading.end)) problems.push('end is not an ISO-8601 instant with offset');
  if (!(reading.value === null || (typeof reading.value === 'number' && Number.isFinite(reading.value)))) problems.push('value must be a finite number or null');
  return problems;
}
