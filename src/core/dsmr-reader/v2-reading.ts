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

/** DSMR-reader stores kW, kWh and m³ as decimals of 9 digits with 3 decimals. */
const MAX_DECIMAL = 999_999.999;
/** Voltages are 4 digits with 1 decimal, currents whole amperes up to 999. */
const MAX_VOLTAGE = 999.9;
const MAX_CURRENT = 999;

/** DSMR-reader's datetime format: `YYYY-MM-DDThh:mm[:ss][+HH:MM|-HH:MM|Z]`. */
const DSMR_READER_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$/;

export interface MappingOptions {
  /** Used when the telegram has no timestamp (DSMR 2.2/3): when it was received, ISO with offset. */
  receivedAt?: string;
}

function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

function sum(values: Array<number | undefined>): number | undefined {
  const present = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return present.length > 0 ? present.reduce((a, b) => a + b, 0) : undefined;
}

function outOfRange(field: string, value: number, max: number): DsmrReaderError {
  return new DsmrReaderError(`${field} is ${value}, outside what DSMR-reader can store (0 to ${max}). Check the meter's units; the reading was not sent.`, { code: 'OUT_OF_RANGE', statusText: 'out of range' });
}

function decimal(field: string, value: number): number {
  const rounded = round(value, 3);
  if (!Number.isFinite(rounded) || rounded < 0 || rounded > MAX_DECIMAL) throw outOfRange(field, value, MAX_DECIMAL);
  return rounded;
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
    if (phase.voltage !== undefined && phase.voltage >= 0 && phase.voltage <= MAX_VOLTAGE) fields[`phase_voltage_l${n}`] = round(phase.voltage, 1);
    if (phase.current !== undefined && phase.current >= 0 && Math.round(phase.current) <= MAX_CURRENT) fields[`phase_power_current_l${n}`] = Math.round(phase.current);
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

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Checks a reading a flow built itself; returns the problems (empty when DSMR-reader can store it). */
export function validateDsmrReaderReading(reading: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const field of V2_REQUIRED_FIELDS) {
    if (reading[field] === undefined || reading[field] === null) problems.push(`${field} is missing`);
  }
  if (reading.timestamp !== undefined && (typeof reading.timestamp !== 'string' || !DSMR_READER_DATETIME.test(reading.timestamp) || !isIsoInstantWithOffset(normaliseDsmrDatetime(reading.timestamp)))) {
    problems.push('timestamp must be a date-time with offset, e.g. 2024-03-15T10:15:30+01:00');
  }
  if (reading.extra_device_timestamp !== undefined && (typeof reading.extra_device_timestamp !== 'string' || !DSMR_READER_DATETIME.test(reading.extra_device_timestamp))) {
    problems.push('extra_device_timestamp must be a date-time with offset');
  }
  for (const [field, value] of Object.entries(reading)) {
    if (field === 'timestamp' || field === 'extra_device_timestamp' || value === undefined || value === null) continue;
    const max = field.startsWith('phase_voltage_') ? MAX_VOLTAGE : field.startsWith('phase_power_current_') ? MAX_CURRENT : MAX_DECIMAL;
    if (!isFiniteNumber(value)) problems.push(`${field} must be a number`);
    else if (value < 0 || value > max) problems.push(`${field} must be between 0 and ${max}`);
    else if (field.startsWith('phase_power_current_') && !Number.isInteger(value)) problems.push(`${field} must be a whole number of amperes`);
  }
  return problems;
}

/** DSMR-reader also accepts offsets without minutes (`+01`); Date.parse does not. */
function normaliseDsmrDatetime(value: string): string {
  return value.replace(/([+-]\d{2})$/, '$1:00').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
}
