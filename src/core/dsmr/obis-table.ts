/**
 * The OBIS references this parser knows, as the reference parsers (dsmr_parser's
 * telegram_specifications, ESPHome's dsmr fields) list them: each row names the reader of the
 * line's values and where the value goes in the friendly fields. Every line, known or not, is
 * also kept in `objects` as written; a line that is not in this table is read by `readValues`.
 *
 * A reference written with a '*F' suffix (EasyMeter: 1-0:1.8.0*255) is looked up without it.
 */
import { toKilo } from './obis';
import { failureLog, hexId, hexText, legacyMbusReading, mbusReading, numberWithUnit, peakHistory, text, timestamp, type Reader } from './readers';
import type { ElectricityValues, ObisEntry, ParsedTelegram, PeakHistoryEntry, PhaseValues, PowerFailure } from './types';

/** Facts about the lines present, from which the national variant is guessed. */
export type VariantHint = 'p1Version' | 'beVersion' | 'deviceName' | 'totals' | 'tariffs' | 'fourTariffs' | 'meterSerial' | 'starSuffix';

/** What one M-Bus channel (0-n:…) said, gathered line by line. */
export interface ChannelRecord {
  deviceType?: number;
  equipmentId?: string;
  reading?: ObisEntry;
  valve?: number;
}

/** The friendly fields, filled row by row by the apply stage. */
export interface Fields {
  electricity: ElectricityValues;
  version?: string;
  timestamp?: string;
  textMessage?: string;
  capacity?: ParsedTelegram['capacity'];
  /** Preference of the equipment id taken so far: a more specific id line replaces a less specific one. */
  idPriority: number;
  /** Indexed by channel number 1-9. */
  channels: Array<ChannelRecord | undefined>;
  hints: Set<VariantHint>;
}

export interface ObisRow {
  /**
   * The reference itself. `objects` is keyed with this constant string rather than the one cut
   * from the telegram: V8 stores a property under a constant (internalized) key several times faster.
   */
  reference: string;
  read: Reader;
  /** Where the value goes; rows without it are kept in `objects` only. */
  put?: (fields: Fields, entry: ObisEntry) => void;
  hint?: VariantHint;
}

type Phase = 'l1' | 'l2' | 'l3';
type KiloField = 'deliveredTariff1' | 'deliveredTariff2' | 'deliveredTariff3' | 'deliveredTariff4' | 'returnedTariff1' | 'returnedTariff2' | 'returnedTariff3' | 'returnedTariff4' | 'deliveredTotal' | 'returnedTotal' | 'currentDelivered' | 'currentReturned';
type CountField = 'tariffIndicator' | 'powerFailures' | 'longPowerFailures';

function numeric(entry: ObisEntry): number | undefined {
  return typeof entry.value === 'number' ? entry.value : undefined;
}

/** Energy and power in kWh and kW, converted from Wh and W where the meter writes those. */
function kilo(entry: ObisEntry): number | undefined {
  return typeof entry.value === 'number' ? toKilo(entry.value, entry.unit) : undefined;
}

function inKilo(field: KiloField): ObisRow['put'] {
  return (fields, entry) => {
    const value = kilo(entry);
    if (value !== undefined) fields.electricity[field] = value;
  };
}

function count(field: CountField): ObisRow['put'] {
  return (fields, entry) => {
    const value = numeric(entry);
    if (value !== undefined) fields.electricity[field] = value;
  };
}

function ofPhase(phase: Phase, field: keyof PhaseValues, convert: (entry: ObisEntry) => number | undefined): ObisRow['put'] {
  return (fields, entry) => {
    const value = convert(entry);
    if (value !== undefined) fields.electricity.phases[phase][field] = value;
  };
}

function phaseCount(counter: 'voltageSags' | 'voltageSwells', phase: Phase): ObisRow['put'] {
  return (fields, entry) => {
    const value = numeric(entry);
    if (value !== undefined) (fields.electricity[counter] ??= {})[phase] = value;
  };
}

const version: ObisRow['put'] = (fields, entry) => {
  if (fields.version === undefined && typeof entry.value === 'string') fields.version = entry.value;
};

/** The electricity equipment id: of the id lines present, the one with the highest priority. */
function equipmentId(priority: number): ObisRow['put'] {
  return (fields, entry) => {
    if (priority > fields.idPriority && typeof entry.value === 'string') {
      fields.electricity.equipmentId = entry.value;
      fields.idPriority = priority;
    }
  };
}

function ofChannel(n: number, put: (record: ChannelRecord, entry: ObisEntry) => unknown): ObisRow['put'] {
  return (fields, entry) => {
    put((fields.channels[n] ??= {}), entry);
  };
}

function telegramTime(fields: Fields, entry: ObisEntry): void {
  if (entry.timestamp !== undefined) fields.timestamp = entry.timestamp;
}

function textMessage(fields: Fields, entry: ObisEntry): void {
  if (typeof entry.value === 'string' && entry.value !== '') fields.textMessage = entry.value;
}

function powerFailureLog(fields: Fields, entry: ObisEntry): void {
  if (Array.isArray(entry.value)) fields.electricity.powerFailureLog = entry.value as PowerFailure[];
}

function averageDemand(fields: Fields, entry: ObisEntry): void {
  if (typeof entry.value === 'number') (fields.capacity ??= {}).currentAverageDemand = { value: entry.value, unit: entry.unit ?? '' };
}

function buildTable(): ReadonlyMap<string, ObisRow> {
  const table = new Map<string, ObisRow>();
  const row = (references: string | string[], value: Omit<ObisRow, 'reference'>): void => {
    for (const reference of typeof references === 'string' ? [references] : references) table.set(reference, { reference, ...value });
  };

  // Identification: version (NL/LU, BE), telegram time, ids, text messages.
  row('1-3:0.2.8', { read: text, put: version, hint: 'p1Version' });
  row('0-0:96.1.4', { read: text, put: version, hint: 'beVersion' });
  row('0-0:1.0.0', { read: timestamp, put: telegramTime });
  row('0-0:96.1.1', { read: hexId, put: equipmentId(4) });
  row('0-0:96.1.0', { read: hexId, put: equipmentId(3) });
  row('0-0:42.0.0', { read: hexId, put: equipmentId(2), hint: 'deviceName' }); // Luxembourg, Hungary: device name
  row('0-0:96.1.255', { read: text, put: equipmentId(1) }); // EasyMeter serial
  row('1-0:0.0.0', { read: text, hint: 'meterSerial' }); // Irish meters
  row('0-0:0.0.0', { read: text });
  row('0-0:96.1.2', { read: hexId });
  row('0-0:96.13.1', { read: hexText });
  row('0-0:96.13.0', { read: hexText, put: textMessage });

  // Energy registers and power. Some meters (Sagemcom XT211) number the electricity channel 1 instead of 0.
  for (const b of ['0', '1']) {
    for (const tariff of [1, 2, 3, 4] as const) {
      const hint = tariff > 2 ? 'fourTariffs' : 'tariffs';
      row(`1-${b}:1.8.${tariff}`, { read: numberWithUnit, put: inKilo(`deliveredTariff${tariff}`), hint });
      row(`1-${b}:2.8.${tariff}`, { read: numberWithUnit, put: inKilo(`returnedTariff${tariff}`), hint });
    }
    row(`1-${b}:1.8.0`, { read: numberWithUnit, put: inKilo('deliveredTotal'), hint: 'totals' });
    row(`1-${b}:2.8.0`, { read: numberWithUnit, put: inKilo('returnedTotal'), hint: 'totals' });
    row(`1-${b}:1.7.0`, { read: numberWithUnit, put: inKilo('currentDelivered') });
    row(`1-${b}:2.7.0`, { read: numberWithUnit, put: inKilo('currentReturned') });
  }
  row('0-0:96.14.0', { read: numberWithUnit, put: count('tariffIndicator') });

  // Per phase: voltage (C = 32/52/72, also the C of sags and swells), current, power delivered and returned.
  const phases: Array<[Phase, number, number, number, number]> = [
    ['l1', 32, 31, 21, 22],
    ['l2', 52, 51, 41, 42],
    ['l3', 72, 71, 61, 62],
  ];
  for (const [phase, voltage, current, delivered, returned] of phases) {
    row(`1-0:${voltage}.7.0`, { read: numberWithUnit, put: ofPhase(phase, 'voltage', numeric) });
    row(`1-0:${current}.7.0`, { read: numberWithUnit, put: ofPhase(phase, 'current', numeric) });
    row(`1-0:${delivered}.7.0`, { read: numberWithUnit, put: ofPhase(phase, 'powerDelivered', kilo) });
    row(`1-0:${returned}.7.0`, { read: numberWithUnit, put: ofPhase(phase, 'powerReturned', kilo) });
    row(`1-0:${voltage}.32.0`, { read: numberWithUnit, put: phaseCount('voltageSags', phase) });
    row(`1-0:${voltage}.36.0`, { read: numberWithUnit, put: phaseCount('voltageSwells', phase) });
  }

  // Power failures.
  row('0-0:96.7.21', { read: numberWithUnit, put: count('powerFailures') });
  row('0-0:96.7.9', { read: numberWithUnit, put: count('longPowerFailures') });
  row('1-0:99.97.0', { read: failureLog, put: powerFailureLog });

  // Belgian capacity tariff.
  row('1-0:1.4.0', { read: numberWithUnit, put: averageDemand });
  row('1-0:1.6.0', { read: mbusReading, put: monthPeak });
  row('0-0:98.1.0', { read: peakHistory, put: peakHistoryRows });

  // M-Bus devices (gas, heat, water) on channels 1-9, found by device type, not by channel.
  for (let n = 1; n <= 9; n++) {
    row(`0-${n}:24.1.0`, { read: numberWithUnit, put: ofChannel(n, (record, entry) => (record.deviceType = numeric(entry))) });
    row([`0-${n}:96.1.0`, `0-${n}:96.1.1`], { read: hexId, put: ofChannel(n, (record, entry) => (record.equipmentId = typeof entry.value === 'string' ? entry.value : undefined)) });
    row(`0-${n}:96.1.2`, { read: hexId });
    row([`0-${n}:24.2.1`, `0-${n}:24.2.3`], { read: mbusReading, put: ofChannel(n, (record, entry) => (record.reading = entry)) });
    row(`0-${n}:24.3.0`, { read: legacyMbusReading, put: ofChannel(n, (record, entry) => (record.reading = entry)) }); // DSMR 2.2/3
    row(`0-${n}:24.4.0`, { read: numberWithUnit, put: ofChannel(n, (record, entry) => (record.valve = numeric(entry))) });
  }
  return table;
}

function monthPeak(fields: Fields, entry: ObisEntry): void {
  if (typeof entry.value !== 'number') return;
  const peak: { value: number; unit: string; timestamp?: string } = { value: entry.value, unit: entry.unit ?? '' };
  if (entry.timestamp !== undefined) peak.timestamp = entry.timestamp;
  (fields.capacity ??= {}).monthPeak = peak;
}

/** Only the Belgian layout is a peak history; other profiles under this OBIS stay in `objects`. */
function peakHistoryRows(fields: Fields, entry: ObisEntry): void {
  if (Array.isArray(entry.value) && entry.value.every((row) => typeof row === 'object' && row !== null)) {
    (fields.capacity ??= {}).peakHistory = entry.value as PeakHistoryEntry[];
  }
}

export const OBIS_TABLE: ReadonlyMap<string, ObisRow> = buildTable();
