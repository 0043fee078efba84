/**
 * Readers turn the bracketed values of one OBIS line, as written, into an ObisEntry. The OBIS
 * table (obis-table.ts) names the reader of each known line; lines it does not know are read by
 * `readValues`. A reader never throws: a value it cannot read is kept as written.
 */
import { decodeHexText, decimalAt, readUnit } from './obis';
import { looksLikeTimestamp, readCaptureTime } from './timestamps';
import type { ObisEntry, ObisValue, PeakHistoryEntry, PowerFailure } from './types';

export type Reader = (values: readonly string[]) => ObisEntry;

/**
 * A power-failure duration of 2^31-1 s (68 years) or more is no real outage: meters write
 * 2147483647 (and, in a known Kaifa log, other numbers above it) in entries that hold no event.
 */
const PLACEHOLDER_DURATION = 2147483647;

function numberOrText(written: string, end = written.length): number | string {
  const number = decimalAt(written, 0, end);
  return number === number ? number : written.slice(0, end);
}

/**
 * One bracketed value: "004512.734*kWh" → { value: 4512.734, unit: 'kWh' }, "240315101530W" →
 * its time, "" → null; anything else is kept as written.
 */
export function readValue(written: string): ObisValue {
  if (written === '') return { value: null };
  const star = written.indexOf('*');
  if (star >= 0) return { value: numberOrText(written, star), unit: readUnit(written, star + 1, written.length) };
  if (looksLikeTimestamp(written, 0, written.length)) {
    const timestamp = readCaptureTime(written);
    return timestamp === undefined ? { value: written } : { value: timestamp, timestamp };
  }
  return { value: numberOrText(written) };
}

/**
 * Whatever a line holds: one value; a capture time and a value (M-Bus readings, the Belgian month
 * peak) as the value with its `timestamp`; or several values as a list.
 */
export const readValues: Reader = (values) => {
  if (values.length === 1) return readValue(values[0]);
  if (values.length === 2 && looksLikeTimestamp(values[0], 0, values[0].length)) {
    const entry: ObisEntry = readValue(values[1]);
    const timestamp = readCaptureTime(values[0]);
    if (timestamp !== undefined) entry.timestamp = timestamp;
    return entry;
  }
  const entries = values.map(readValue);
  return { value: entries.map((entry) => entry.value), values: entries };
};

/** A number with its unit, e.g. 1-0:1.8.1(001581.123*kWh). */
export const numberWithUnit: Reader = readValues;

/** A time, e.g. 0-0:1.0.0(161113205757W). */
export const timestamp: Reader = readValues;

/** An M-Bus reading: (capture time)(value*unit). */
export const mbusReading: Reader = readValues;

/** Text that stays as written (version numbers and serials, where leading zeros matter). */
export const text: Reader = (values) => ({ value: values[0] === '' ? null : values[0] });

function hexReader(identifier: boolean): Reader {
  return (values) => {
    const written = values[0];
    if (written === '') return { value: null };
    const decoded = decodeHexText(written, 0, written.length, identifier);
    return decoded === undefined ? { value: written } : { value: decoded, raw: written };
  };
}

/** Hex-encoded text (text messages), decoded when it decodes to printable ASCII. */
export const hexText: Reader = hexReader(false);

/** Hex-encoded equipment ids, decoded only to letters, digits and a few separators. */
export const hexId: Reader = hexReader(true);

/**
 * The power-failure log 1-0:99.97.0(N)(0-0:96.7.19)(end)(duration*s)...: every entry the meter
 * wrote, in order. Entries that hold no event (a placeholder time such as 000101000001W, or a
 * duration of 2147483647 s) are kept and flagged, so that nothing the meter wrote disappears.
 */
export const failureLog: Reader = (values) => {
  const log: PowerFailure[] = [];
  for (let i = 2; i + 1 < values.length; i += 2) {
    const written = values[i + 1];
    const star = written.indexOf('*');
    const durationSeconds = decimalAt(written, 0, star < 0 ? written.length : star);
    const end = readCaptureTime(values[i]);
    const entry: PowerFailure = { end: end ?? values[i], durationSeconds };
    if (end === undefined || !(durationSeconds < PLACEHOLDER_DURATION)) entry.placeholder = true;
    log.push(entry);
  }
  return { value: log };
};

/**
 * The Belgian peak history 0-0:98.1.0(N)(1-0:1.6.0)(1-0:1.6.0)(period)(peak time)(peak*kW)...
 * Other meters use the same OBIS for other profiles (Hungarian E.ON: one timestamp then register
 * values); those are read as a plain list.
 */
export const peakHistory: Reader = (values) => {
  const rows = decimalAt(values[0], 0, values[0].length);
  if (!(rows >= 0) || values.length !== 3 + 3 * rows || !values[1].includes(':')) return readValues(values);
  const history: PeakHistoryEntry[] = [];
  const entries: ObisValue[] = [];
  for (let i = 3; i + 2 < values.length; i += 3) {
    const peak = readValue(values[i + 2]);
    const row: PeakHistoryEntry = { value: typeof peak.value === 'number' ? peak.value : NaN, unit: peak.unit ?? '' };
    const entry: ObisValue = { value: row.value, unit: row.unit };
    const time = readCaptureTime(values[i + 1]);
    if (time !== undefined) {
      row.timestamp = entry.timestamp = time;
      row.month = time.slice(0, 7);
    }
    const period = readCaptureTime(values[i]);
    if (period !== undefined) row.periodTimestamp = period;
    history.push(row);
    entries.push(entry);
  }
  return { value: history, values: entries };
};

/**
 * DSMR 2.2/3 M-Bus reading 0-n:24.3.0(capture time)(00)(60)(1)(0-n:24.2.1)(m3) with the value on
 * the next line, which the scan appends to this line's values.
 */
export const legacyMbusReading: Reader = (values) => {
  const entry: ObisEntry = { value: null };
  if (values.length >= 7) {
    const number = decimalAt(values[6], 0, values[6].length);
    if (number === number) entry.value = number;
  }
  if (values.length >= 6 && values[5] !== '') entry.unit = readUnit(values[5], 0, values[5].length);
  const time = readCaptureTime(values[0]);
  if (time !== undefined) entry.timestamp = time;
  return entry;
};
