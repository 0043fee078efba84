/**
 * Maps a parsed telegram onto DSMR-reader's v2 reading (POST /api/v2/datalogger/dsmrreading).
 *
 * DSMR-reader names energy from the customer's side: "delivered" is what the grid delivered to
 * the home (OBIS 1.8.x, 1.7.0), "returned" what the home fed back (2.8.x, 2.7.0). The tariff
 * fields follow the OBIS tariff number, exactly as DSMR-reader's own datalogger stores
 * telegrams: `_1` = 1-0:1.8.1 / 2.8.1 and `_2` = 1-0:1.8.2 / 2.8.2. In the Netherlands tariff 1 is
 * the low (night) tariff; in Belgium (Fluvius) tariff 1 is the DAY tariff and tariff 2 the night
 * tariff. The values are not swapped for Belgium, so readings from this node and from a
 * DSMR-reader reading the meter directly line up; rename the tariffs in DSMR-reader instead.
 * Meters with only totals (1-0:1.8.0 / 2.8.0, Nordic and Luxembourg) are stored on tariff 1 with
 * tariff 2 at 0, which is what DSMR-reader itself does for single-tariff meters.
 */
import type { ParsedTelegram } from '../dsmr';
import { isIsoInstantWithOffset } from '../readings';
import { DsmrReaderError } from './errors';

export interface DsmrReaderReading {
  timestamp: string;
  electricity_currently_delivered: number;
  electricity_currently_returned: number;
  electricity_delivered_1: number;
  electricity_delivered_2: number;
  electricity_returned_1: number;
  electricity_returned_2: number;
  phase_currently_delivered_l1?: number;
  phase_currently_delivered_l2?: number;
  phase_currently_delivered_l3?: number;
  phase_currently_returned_l1?: number;
  phase_currently_returned_l2?: number;
  phase_currently_returned_l3?: number;
  phase_voltage_l1?: number;
  phase_voltage_l2?: number;
  phase_voltage_l3?: number;
  phase_power_current_l1?: number;
  phase_power_current_l2?: number;
  phase_power_current_l3?: number;
  extra_device_timestamp?: string;
  extra_device_delivered?: number;
}

export const V2_REQUIRED_FIELDS = [
  'timestamp',
  'electricity_currently_delivered',
  'electricity_currently_returned',
  'electricity_delivered_1',
  'electricity_delivered_2',
  'electricity_returned_1',
  'electricity_returned_2',
] as const;

/**
 * DSMR-reader's limits for each reading field, from its model DsmrReading
 * [DSMR-reader src dsmr_datalogger/models/reading.py]: kW, kWh and m³ are DecimalField(max_digits=9,
 * decimal_places=3), voltages DecimalField(4, 1), currents IntegerField 0–999. Its API answers a
 * value with more digits or decimals with 400 ("Ensure that there are no more than 9 digits in
 * total", observed on v5.11), so the node rounds to these decimals and refuses more whole digits.
 */
export interface FieldLimit {
  /** Digits after the decimal point DSMR-reader keeps (0 for whole amperes). */
  decimals: number;
  /** The largest value the field holds. */
  max: number;
}

const ENERGY: FieldLimit = { decimals: 3, max: 999_999.999 };
const VOLTAGE: FieldLimit = { decimals: 1, max: 999.9 };
const CURRENT: FieldLimit = { decimals: 0, max: 999 };

export function fieldLimit(field: string): FieldLimit | undefined {
  if (field.startsWith('phase_voltage_l')) return VOLTAGE;
  if (field.startsWith('phase_power_current_l')) return CURRENT;
  if (field.startsWith('electricity_') || field.startsWith('phase_currently_') || field === 'extra_device_delivered') return ENERGY;
  return undefined;
}

/** DSMR-reader refuses telegrams (v1) whose timestamps lie more than 24 hours ahead of its clock. */
export const MAX_FUTURE_MS = 24 * 3600_000;

/** DSMR-reader's datetime format: `YYYY-MM-DDThh:mm[:ss][+HH:MM|-HH:MM|Z]`. */
const DSMR_READER_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$/;

export interface MappingOptions {
  /** Used when the telegram has no timestamp (DSMR 2.2/3): when it was received, ISO with offset. */
  receivedAt?: string;
  /** The node's clock, for the 24-hour future limit; no check without it. */
  now?: number;
}

/**
 * Rounds half away from zero on the decimal digits as written: the shortest text of a number
 * (what JSON sends) is shifted as text, so 1.0005 becomes 1.001, not 1.000 as binary maths says.
 */
export function roundDecimal(value: number, decimals: number): number {
  const text = Math.abs(value).toString();
  if (/e/i.test(text)) return Math.round(value * 10 ** decimals) / 10 ** decimals;
  const [whole, fraction = ''] = text.split('.');
  const shifted = Number(`${whole}${fraction.slice(0, decimals).padEnd(decimals, '0')}.${fraction.slice(decimals) || '0'}`);
  const rounded = Number(`${Math.round(shifted)}e-${decimals}`);
  return value < 0 ? -rounded : rounded;
}

function sum(values: Array<number | undefined>): number | undefined {
  const present = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return present.length > 0 ? present.reduce((a, b) => a + b, 0) : undefined;
}

/** A value rounded to the field's decimals, or a reason why DSMR-reader cannot hold it. */
function fitField(field: string, value: unknown): number | string {
  const limit = fieldLimit(field);
  if (typeof value !== 'number' || !Number.isFinite(value)) return `${field} must be a number`;
  if (!limit) return value;
  const rounded = roundDecimal(value, limit.decimals);
  if (rounded < 0 || rounded > limit.max) {
    return `${field} is ${value}, outside what DSMR-reader's field holds (0 to ${limit.max}${limit.decimals > 0 ? ` with ${limit.decimals} decimal${limit.decimals > 1 ? 's' : ''}` : ', whole numbers'})`;
  }
  return rounded;
}

function decimal(field: string, value: number): number {
  const fitted = fitField(field, value);
  if (typeof fitted === 'string') {
    throw new DsmrReaderError(`${fitted}. Check the meter's units; the reading was not sent.`, { code: 'OUT_OF_RANGE', statusText: 'out of range' });
  }
  return fitted;
}

/** A reason when a timestamp lies more than 24 hours after `now`, as DSMR-reader's v1 API refuses. */
function futureProblem(field: string, value: string, now: number | undefined): string | undefined {
  if (now === undefined) return undefined;
  const at = Date.parse(normaliseDsmrDatetime(value));
  if (Number.isNaN(at) || at <= now + MAX_FUTURE_MS) return undefined;
  return `${field} ${value} is more than 24 hours ahead of this computer's clock, which DSMR-reader refuses for telegrams; check the meter's clock (or this computer's)`;
}

/**
 * Tariff 1/2 positions from tariff registers, or from a total when the meter has only that.
 * Undefined when the meter has neither.
 */
function tariffPair(tariff1: number | undefined, tariff2: number | undefined, total: number | undefined): [number, number] | undefined {
  if (tariff1 !== undefined || tariff2 !== undefined) return [tariff1 ?? 0, tariff2 ?? 0];
  if (total !== undefined) return [total, 0];
  return undefined;
}

/** Builds the v2 reading; throws NOT_STORABLE / OUT_OF_RANGE with the reason when it cannot. */
export function toDsmrReaderReading(parsed: ParsedTelegram, options: MappingOptions = {}): DsmrReaderReading {
  if (parsed.crc?.valid === false) {
    throw new DsmrReaderError('The telegram failed its CRC check, so its values may be corrupted; it was not sent. Set the P1 input to check the CRC strictly.', { code: 'CRC_MISMATCH', statusText: 'crc' });
  }
  const e = parsed.electricity;
  const timestamp = parsed.timestamp ?? options.receivedAt;
  if (!timestamp || !DSMR_READER_DATETIME.test(timestamp)) {
    throw new DsmrReaderError('The telegram has no usable timestamp (0-0:1.0.0) and no receive time was given, so DSMR-reader could not place the reading in time. It was not sent.', { code: 'NOT_STORABLE', statusText: 'no timestamp' });
  }
  const delivered = tariffPair(e.deliveredTariff1, e.deliveredTariff2, e.deliveredTotal);
  if (!delivered) {
    throw new DsmrReaderError('The telegram has no delivered-energy register (1-0:1.8.1, 1-0:1.8.2 or 1-0:1.8.0), which DSMR-reader requires for every reading. It was not sent.', { code: 'NOT_STORABLE', statusText: 'not storable' });
  }
  // A meter without export registers has returned nothing: 0 is its meter position, not a gap.
  const returned = tariffPair(e.returnedTariff1, e.returnedTariff2, e.returnedTotal) ?? [0, 0];
  const phases = [e.phases.l1, e.phases.l2, e.phases.l3];
  const currentlyDelivered = e.currentDelivered ?? sum(phases.map((p) => p.powerDelivered));
  if (currentlyDelivered === undefined) {
    throw new DsmrReaderError('The telegram has no current power (1-0:1.7.0 or per-phase 21.7.0/41.7.0/61.7.0), which DSMR-reader requires for every reading. It was not sent.', { code: 'NOT_STORABLE', statusText: 'not storable' });
  }
  const currentlyReturned = e.currentReturned ?? sum(phases.map((p) => p.powerReturned)) ?? 0;

  const future = futureProblem('The timestamp', timestamp, options.now) ?? futureProblem('The gas reading time', parsed.gas?.timestamp ?? timestamp, options.now);
  if (future) throw new DsmrReaderError(`${future}. It was not sent.`, { code: 'NOT_STORABLE', statusText: 'future' });

  const reading: DsmrReaderReading = {
    timestamp,
    electricity_currently_delivered: decimal('electricity_currently_delivered', currentlyDelivered),
    electricity_currently_returned: decimal('electricity_currently_returned', currentlyReturned),
    electricity_delivered_1: decimal('electricity_delivered_1', delivered[0]),
    electricity_delivered_2: decimal('electricity_delivered_2', delivered[1]),
    electricity_returned_1: decimal('electricity_returned_1', returned[0]),
    electricity_returned_2: decimal('electricity_returned_2', returned[1]),
  };
  const fields = reading as unknown as Record<string, number | string>;
  phases.forEach((phase, index) => {
    const n = index + 1;
    if (phase.powerDelivered !== undefined) fields[`phase_currently_delivered_l${n}`] = decimal(`phase_currently_delivered_l${n}`, phase.powerDelivered);
    if (phase.powerReturned !== undefined) fields[`phase_currently_returned_l${n}`] = decimal(`phase_currently_returned_l${n}`, phase.powerReturned);
    // Optional extras are left out rather than refused when a meter writes odd values.
    for (const [field, value] of [[`phase_voltage_l${n}`, phase.voltage], [`phase_power_current_l${n}`, phase.current]] as const) {
      const fitted = value === undefined ? undefined : fitField(field, value);
      if (typeof fitted === 'number') fields[field] = fitted;
    }
  });
  const gas = parsed.gas;
  if (gas && typeof gas.value === 'number' && Number.isFinite(gas.value)) {
    const gasTime = gas.timestamp ?? timestamp;
    if (DSMR_READER_DATETIME.test(gasTime)) {
      reading.extra_device_timestamp = gasTime;
      reading.extra_device_delivered = decimal('extra_device_delivered', gas.value);
    }
  }
  return reading;
}

export interface CheckedReading {
  /** The reading with every value rounded to DSMR-reader's decimals. */
  reading: Record<string, unknown>;
  /** Why DSMR-reader could not store it; empty when it can. */
  problems: string[];
}

/**
 * Checks a reading a flow built itself against what DSMR-reader's API checks (required fields,
 * datetimes, the fields' digits) plus the 24-hour future limit DSMR-reader applies to v1 only,
 * and rounds values with more decimals than DSMR-reader keeps.
 */
export function checkDsmrReaderReading(input: Record<string, unknown>, now?: number): CheckedReading {
  const reading: Record<string, unknown> = { ...input };
  const problems: string[] = [];
  for (const field of V2_REQUIRED_FIELDS) {
    if (reading[field] === undefined || reading[field] === null) problems.push(`${field} is missing`);
  }
  for (const field of ['timestamp', 'extra_device_timestamp']) {
    const value = reading[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || !DSMR_READER_DATETIME.test(value) || !isIsoInstantWithOffset(normaliseDsmrDatetime(value))) {
      problems.push(`${field} must be a date-time with offset, e.g. 2024-03-15T10:15:30+01:00`);
    } else {
      const future = futureProblem(field, value, now);
      if (future) problems.push(future);
    }
  }
  for (const [field, value] of Object.entries(reading)) {
    if (field === 'timestamp' || field === 'extra_device_timestamp' || value === undefined || value === null) continue;
    const fitted = fitField(field, value);
    if (typeof fitted === 'string') problems.push(fitted);
    else reading[field] = fitted;
  }
  return { reading, problems };
}

/** The problems of a hand-made reading (empty when DSMR-reader can store it, after rounding). */
export function validateDsmrReaderReading(reading: Record<string, unknown>, now?: number): string[] {
  return checkDsmrReaderReading(reading, now).problems;
}

/** DSMR-reader also accepts offsets without minutes (`+01`); Date.parse does not. */
export function normaliseDsmrDatetime(value: string): string {
  return value.replace(/([+-]\d{2})$/, '$1:00').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
}
