/**
 * A parsed P1 telegram as normalized readings (README "The reading schema"): the meter registers
 * and instantaneous values of one telegram, each a snapshot at the telegram's own time, so every
 * sink (SQL tables, InfluxDB, Home Assistant) stores the same thing under the same names.
 */
import type { MbusDevice, ParsedTelegram } from './dsmr/types';
import { isIsoInstantWithOffset, toIsoUtc, type Reading } from './readings';

export const P1_SOURCE = 'dsmr-p1';

export interface P1ReadingOptions {
  /**
   * When the telegram arrived (epoch ms). Used only for telegrams without a time stamp (DSMR
   * 2.2/3 have no 0-0:1.0.0); written as UTC because the meter's zone is not known then.
   */
  receivedAt?: number;
}

/** A telegram that cannot become readings: the message says what to do. */
export class P1ReadingError extends Error {
  constructor(
    message: string,
    readonly code: 'NOT_A_TELEGRAM' | 'CRC_MISMATCH' | 'NO_TIME',
  ) {
    super(message);
    this.name = 'P1ReadingError';
  }
}

const TARIFFS = [1, 2, 3, 4] as const;
const PHASES = ['l1', 'l2', 'l3'] as const;
/** M-Bus kinds with a cumulative register worth storing; `electricity` and `other` are left out. */
const MBUS_KINDS = new Set(['gas', 'water', 'heat', 'cooling']);

/** True for what `dsmr-p1-in` sends as `msg.payload`. */
export function isParsedTelegram(value: unknown): value is ParsedTelegram {
  const candidate = value as Partial<ParsedTelegram> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.header === 'string' && typeof candidate.electricity === 'object' && candidate.electricity !== null;
}

/** The id readings of this meter carry: the equipment id (0-0:96.1.1), else the header line. */
export function p1MeterId(telegram: ParsedTelegram): string {
  return telegram.electricity.equipmentId || telegram.header;
}

/**
 * The telegram's readings, in a fixed order: energy per tariff and direction (kWh), totals,
 * power (kW), per-phase voltage (V), current (A) and power (kW), then the M-Bus registers
 * (gas, water, heat, cooling) at the M-Bus device's own capture time.
 */
export function telegramToReadings(telegram: ParsedTelegram, options: P1ReadingOptions = {}): Reading[] {
  if (!isParsedTelegram(telegram)) {
    throw new P1ReadingError('msg.payload is not a parsed P1 telegram: wire the output of a dsmr-p1-in node here.', 'NOT_A_TELEGRAM');
  }
  // `crc: off` lets a damaged telegram through the parser; it must not become data.
  if (telegram.crc?.valid === false) {
    throw new P1ReadingError(`The telegram's CRC does not match (expected ${telegram.crc.expected}, computed ${telegram.crc.computed}), so its values are not stored. Check the cable or the serial settings, or set CRC check to strict in dsmr-p1-in.`, 'CRC_MISMATCH');
  }
  const at = telegramTime(telegram, options);
  const meterId = p1MeterId(telegram);
  const readings: Reading[] = [];
  const add = (metric: string, unit: string, value: number | undefined, start = at, extra: Record<string, unknown> = {}): void => {
    if (typeof value === 'number' && Number.isFinite(value)) readings.push({ source: P1_SOURCE, meterId, metric, unit, start, value, ...extra });
  };
  const e = telegram.electricity;
  for (const direction of ['delivered', 'returned'] as const) {
    for (const tariff of TARIFFS) add(`electricity_${direction}_tariff${tariff}`, 'kWh', e[`${direction}Tariff${tariff}`]);
    add(`electricity_${direction}_total`, 'kWh', e[`${direction}Total`]);
  }
  add('power_delivered', 'kW', e.currentDelivered);
  add('power_returned', 'kW', e.currentReturned);
  for (const phase of PHASES) {
    const values = e.phases?.[phase] ?? {};
    add(`voltage_${phase}`, 'V', values.voltage);
    add(`current_${phase}`, 'A', values.current);
    add(`power_delivered_${phase}`, 'kW', values.powerDelivered);
    add(`power_returned_${phase}`, 'kW', values.powerReturned);
  }
  for (const { device, metric } of mbusMetrics(telegram.mbus ?? [])) {
    // A register without its capture time is dated by the telegram: the value was current then.
    const start = device.timestamp && isIsoInstantWithOffset(device.timestamp) ? device.timestamp : at;
    add(metric, device.unit ?? '', device.value, start, { mbusChannel: device.channel, ...(device.equipmentId ? { mbusEquipmentId: device.equipmentId } : {}) });
  }
  return readings;
}

/** The telegram's own time (0-0:1.0.0), or the receive time in UTC for telegrams without one. */
export function telegramTime(telegram: ParsedTelegram, options: P1ReadingOptions = {}): string {
  if (telegram.timestamp && isIsoInstantWithOffset(telegram.timestamp)) return telegram.timestamp;
  if (options.receivedAt !== undefined && Number.isFinite(options.receivedAt)) return toIsoUtc(options.receivedAt);
  throw new P1ReadingError('The telegram has no time stamp (0-0:1.0.0) and no receive time was given.', 'NO_TIME');
}

/**
 * `gas_delivered`, `water_delivered`, … for the first device of each kind (the one DSMR-reader and
 * Home Assistant's DSMR integration take); a second device of the same kind gets its channel:
 * `water_delivered_ch3`. Channels never change on a meter, so the names are stable.
 */
function mbusMetrics(devices: MbusDevice[]): { device: MbusDevice; metric: string }[] {
  const seen = new Set<string>();
  const out: { device: MbusDevice; metric: string }[] = [];
  for (const device of devices) {
    if (!MBUS_KINDS.has(device.kind)) continue;
    const metric = seen.has(device.kind) ? `${device.kind}_delivered_ch${device.channel}` : `${device.kind}_delivered`;
    seen.add(device.kind);
    out.push({ device, metric });
  }
  return out;
}
