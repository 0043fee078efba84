/**
 * Parses one P1 telegram into every OBIS line as written (`objects`) plus friendly grouped
 * fields. The text is scanned once with index arithmetic; each line is looked up in a table
 * that says how to read its values and which friendly field it feeds. Lines the table does not
 * know are read generically and kept: an unknown line is never fatal.
 */
import { crc16arc, crc16arcCrlf, formatCrc } from './crc';
import { decryptFrame, isEncryptedFrame } from './decrypt';
import { DsmrError } from './errors';
import { decodeHexText, readNumber, readUnit, toKilo } from './obis';
import { looksLikeTimestamp, parseTimestamp } from './timestamps';
import type {
  DsmrVariant,
  ElectricityValues,
  MbusDevice,
  MbusKind,
  ObisEntry,
  ObisValue,
  ParseOptions,
  ParsedTelegram,
  PeakHistoryEntry,
  PowerFailure,
} from './types';

// How the bracketed values of a line are read.
const GENERIC = 0;
const HEX_TEXT = 1; // text messages: hex-encoded ASCII
const HEX_ID = 6; // equipment ids: hex-encoded letters and digits
const AS_WRITTEN = 2; // version and serial fields where leading zeros matter
const FAILURE_LOG = 3;
const PEAK_HISTORY = 4;
const LEGACY_GAS = 5;

// Which friendly field a line feeds.
const enum F {
  None,
  Version,
  Timestamp,
  EquipmentId,
  Delivered,
  Returned,
  DeliveredTotal,
  ReturnedTotal,
  CurrentDelivered,
  CurrentReturned,
  Tariff,
  Voltage,
  Current,
  PhaseDelivered,
  PhaseReturned,
  Failures,
  LongFailures,
  FailureLog,
  Sags,
  Swells,
  Text,
  AverageDemand,
  MonthPeak,
  PeakHistory,
  MbusType,
  MbusId,
  MbusReading,
  MbusValve,
}

// Facts used to guess the national variant.
const HAS_P1_VERSION = 1;
const HAS_BE_VERSION = 2;
const HAS_DEVICE_NAME = 4;
const HAS_STAR_SUFFIX = 8;
const HAS_TOTALS = 16;
const HAS_FOUR_TARIFFS = 32;
const HAS_TARIFFS = 64;
const HAS_METER_SERIAL = 128;

interface LineSpec {
  readonly read: number;
  readonly field: F;
  /** tariff number, phase (1-3), channel, or id priority, depending on the field */
  readonly arg: number;
  readonly fact: number;
}

const SPECS = new Map<string, LineSpec>();

function define(keys: string | string[], read: number, field: F, arg = 0, fact = 0): void {
  for (const key of Array.isArray(keys) ? keys : [keys]) SPECS.set(key, { read, field, arg, fact });
}

interface KeyInfo {
  /** The key string reused for every telegram, so V8 stores `objects[key]` without re-hashing a new string. */
  readonly key: string;
  readonly spec: LineSpec | undefined;
  /** Written with a '*F' suffix (EasyMeter: 1-0:1.8.0*255). */
  readonly starred: boolean;
  /**
   * The last text read for this line and what it gave (a decoded id, a capture time). Ids and
   * M-Bus capture times repeat from telegram to telegram; strings are immutable, so sharing is safe.
   */
  lastText?: string;
  lastResult?: string;
}

/** text[start, end) read through the line's one-entry cache. */
function cached(info: KeyInfo, text: string, start: number, end: number, read: (text: string, start: number, end: number) => string | undefined): string | undefined {
  const written = text.slice(start, end);
  if (written === info.lastText) return info.lastResult;
  const result = read(text, start, end);
  info.lastText = written;
  info.lastResult = result;
  return result;
}

/** A line keyed "__proto__" is kept in unparsedLines: as a property key it would replace the prototype. */
const PROTO_KEY: KeyInfo = { key: '__proto__', spec: undefined, starred: false, lastText: undefined, lastResult: undefined };

/** Every OBIS reference seen so far (bounded), with its line spec resolved once. */
const KEYS = new Map<string, KeyInfo>();
const MAX_KEYS = 4096;

/**
 * What was learnt about the telegrams of one meter (by header line). A meter sends the same
 * lines in the same order every time, so:
 * - line n is first compared with line n of the previous telegram: one memcmp instead of a new
 *   string and a hash lookup;
 * - once the same sequence of lines has been seen twice, `objects` is built by a function
 *   compiled for that sequence (one object literal) instead of ~40 property stores with varying
 *   keys, which V8 handles through its slowest (megamorphic) path.
 */
interface Layout {
  length: number;
  lines: KeyInfo[];
  candidate?: KeyInfo[];
  builder?: ObjectsBuilder;
  builderLines?: KeyInfo[];
}

type ObjectsBuilder = (entries: ObisEntry[]) => Record<string, ObisEntry>;

const LAYOUTS = new Map<string, Layout[]>();
const MAX_BUILDER_LINES = 256;
let codeGenerationAllowed = true;

function keyInfoAt(layout: Layout, line: number, text: string, start: number, end: number): KeyInfo {
  // slice + === is a memcmp on a fresh flat string: in V8 about twice as fast as startsWith.
  const written = text.slice(start, end);
  const previous = layout.lines[line];
  if (previous !== undefined && previous.key === written) return previous;
  const info = keyInfo(written);
  if (line < 512) layout.lines[line] = info;
  return info;
}

/**
 * The layout for a header; a few per header, told apart by telegram length, since two meter
 * models can share a header (Kaifa) and fixed-width fields keep one meter's length constant.
 */
function layoutFor(header: string, length: number): Layout {
  let layouts = LAYOUTS.get(header);
  if (layouts === undefined) {
    if (LAYOUTS.size >= 64) LAYOUTS.clear();
    layouts = [];
    LAYOUTS.set(header, layouts);
  }
  for (let i = 0; i < layouts.length; i++) if (layouts[i].length === length) return layouts[i];
  const layout: Layout = { length, lines: [] };
  if (layouts.length >= 4) layouts.shift();
  layouts.push(layout);
  return layout;
}

function sameLines(a: KeyInfo[] | undefined, infos: KeyInfo[], count: number): boolean {
  if (a === undefined || a.length !== count) return false;
  for (let i = 0; i < count; i++) if (a[i] !== infos[i]) return false;
  return true;
}

/**
 * Compiles `(e) => ({ "<key 0>": e[0], "<key 1>": e[1], ... })` for a line sequence. Keys are
 * meter data, so each is written with JSON.stringify, which always yields a valid string
 * literal; '__proto__' never gets here (see keyInfo). Where code generation is disabled
 * (--disallow-code-generation-from-strings) the property stores are used instead.
 */
function compileBuilder(infos: KeyInfo[], count: number): ObjectsBuilder | undefined {
  if (!codeGenerationAllowed || count === 0 || count > MAX_BUILDER_LINES) return undefined;
  const fields: string[] = [];
  for (let i = 0; i < count; i++) fields.push(`${JSON.stringify(infos[i].key)}: e[${i}]`);
  try {
    return new Function('e', `"use strict"; return { ${fields.join(', ')} };`) as ObjectsBuilder;
  } catch {
    codeGenerationAllowed = false;
    return undefined;
  }
}

/** Line entries and their keys of the telegram being parsed (reused: parsing is synchronous). */
const lineEntries: ObisEntry[] = [];
const lineInfos: KeyInfo[] = [];

function buildObjects(layout: Layout, count: number): Record<string, ObisEntry> {
  if (layout.builder !== undefined && sameLines(layout.builderLines, lineInfos, count)) return layout.builder(lineEntries);
  const objects: Record<string, ObisEntry> = {};
  for (let i = 0; i < count; i++) objects[lineInfos[i].key] = lineEntries[i];
  if (sameLines(layout.candidate, lineInfos, count)) {
    const builder = compileBuilder(lineInfos, count);
    if (builder !== undefined) {
      layout.builder = builder;
      layout.builderLines = layout.candidate;
    }
    layout.candidate = undefined;
  } else {
    layout.candidate = lineInfos.slice(0, count);
  }
  return objects;
}

/** The internalized copy of a string, so property stores with it skip the string-table lookup. */
function internalized(key: string): string {
  return Object.keys({ [key]: 0 })[0];
}

function keyInfo(written: string): KeyInfo {
  let info = KEYS.get(written);
  if (info === undefined) {
    if (written === '__proto__') return PROTO_KEY;
    const star = written.indexOf('*');
    const spec = SPECS.get(star > 0 ? written.slice(0, star) : written);
    info = { key: internalized(written), spec, starred: star > 0, lastText: undefined, lastResult: undefined };
    if (KEYS.size >= MAX_KEYS) {
      KEYS.clear();
      LAYOUTS.clear();
    }
    KEYS.set(written, info);
  }
  return info;
}

function defineTables(): void {
  define('1-3:0.2.8', AS_WRITTEN, F.Version, 0, HAS_P1_VERSION);
  define('0-0:96.1.4', AS_WRITTEN, F.Version, 0, HAS_BE_VERSION);
  define('0-0:1.0.0', GENERIC, F.Timestamp);
  // Electricity equipment id: the first one present in this order of preference.
  define('0-0:96.1.1', HEX_ID, F.EquipmentId, 4);
  define('0-0:96.1.0', HEX_ID, F.EquipmentId, 3);
  define('0-0:42.0.0', HEX_ID, F.EquipmentId, 2, HAS_DEVICE_NAME);
  define('0-0:96.1.255', AS_WRITTEN, F.EquipmentId, 1);
  define('1-0:0.0.0', AS_WRITTEN, F.None, 0, HAS_METER_SERIAL);
  define('0-0:0.0.0', AS_WRITTEN, F.None);
  define('0-0:96.1.2', HEX_ID, F.None);
  define('0-0:96.13.1', HEX_TEXT, F.None);
  define('0-0:96.13.0', HEX_TEXT, F.Text);
  // Some meters (Sagemcom XT211) number the electricity channel 1 instead of 0.
  for (const b of ['0', '1']) {
    for (let tariff = 1; tariff <= 4; tariff++) {
      define(`1-${b}:1.8.${tariff}`, GENERIC, F.Delivered, tariff, tariff > 2 ? HAS_FOUR_TARIFFS : HAS_TARIFFS);
      define(`1-${b}:2.8.${tariff}`, GENERIC, F.Returned, tariff, tariff > 2 ? HAS_FOUR_TARIFFS : HAS_TARIFFS);
    }
    define(`1-${b}:1.8.0`, GENERIC, F.DeliveredTotal, 0, HAS_TOTALS);
    define(`1-${b}:2.8.0`, GENERIC, F.ReturnedTotal, 0, HAS_TOTALS);
    define(`1-${b}:1.7.0`, GENERIC, F.CurrentDelivered);
    define(`1-${b}:2.7.0`, GENERIC, F.CurrentReturned);
  }
  define('0-0:96.14.0', GENERIC, F.Tariff);
  const phases: Array<[number, number, number, number, number, number, number]> = [
    // phase, voltage C, current C, +P C, -P C, sags C, swells C
    [1, 32, 31, 21, 22, 32, 32],
    [2, 52, 51, 41, 42, 52, 52],
    [3, 72, 71, 61, 62, 72, 72],
  ];
  for (const [phase, voltage, current, plus, minus, sags, swells] of phases) {
    define(`1-0:${voltage}.7.0`, GENERIC, F.Voltage, phase);
    define(`1-0:${current}.7.0`, GENERIC, F.Current, phase);
    define(`1-0:${plus}.7.0`, GENERIC, F.PhaseDelivered, phase);
    define(`1-0:${minus}.7.0`, GENERIC, F.PhaseReturned, phase);
    define(`1-0:${sags}.32.0`, GENERIC, F.Sags, phase);
    define(`1-0:${swells}.36.0`, GENERIC, F.Swells, phase);
  }
  define('0-0:96.7.21', GENERIC, F.Failures);
  define('0-0:96.7.9', GENERIC, F.LongFailures);
  define('1-0:99.97.0', FAILURE_LOG, F.FailureLog);
  define('1-0:1.4.0', GENERIC, F.AverageDemand);
  define('1-0:1.6.0', GENERIC, F.MonthPeak);
  define('0-0:98.1.0', PEAK_HISTORY, F.PeakHistory);
  for (let channel = 1; channel <= 9; channel++) {
    define(`0-${channel}:24.1.0`, GENERIC, F.MbusType, channel);
    define([`0-${channel}:96.1.0`, `0-${channel}:96.1.1`], HEX_ID, F.MbusId, channel);
    define(`0-${channel}:96.1.2`, HEX_ID, F.None);
    define([`0-${channel}:24.2.1`, `0-${channel}:24.2.3`], GENERIC, F.MbusReading, channel);
    define(`0-${channel}:24.3.0`, LEGACY_GAS, F.MbusReading, channel);
    define(`0-${channel}:24.4.0`, GENERIC, F.MbusValve, channel);
  }
}
defineTables();

/** Start/end offsets of the bracketed groups of the current line, reused across lines. */
let bounds = new Int32Array(64);

interface ChannelRecord {
  deviceType?: number;
  equipmentId?: string;
  reading?: ObisEntry;
  valve?: number;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * One bracketed value: "004512.734*kWh" → { value: 4512.734, unit: 'kWh' }. The common case, a
 * decimal number with an optional unit, is read in a single pass; timestamps, text and odd forms
 * take the slower general path.
 */
function entryOf(text: string, start: number, end: number): ObisEntry {
  if (start === end) return { value: null };
  let i = start;
  let c = text.charCodeAt(i);
  let negative = false;
  if (c === 45 /* - */ || c === 43 /* + */) {
    negative = c === 45;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let decimals = -1;
  for (; i < end; i++) {
    c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      if (decimals >= 0) decimals++;
    } else if (c === 46 /* . */ && decimals < 0) {
      decimals = 0;
    } else {
      break;
    }
  }
  if (digits > 0 && digits <= 15 && (i === end || (c === 42 /* * */ && i + 1 < end))) {
    let value = decimals > 0 ? mantissa / POW10[decimals] : mantissa;
    if (negative) value = -value;
    return i === end ? { value } : { value, unit: readUnit(text, i + 1, end) };
  }
  return generalEntry(text, start, end);
}

function generalEntry(text: string, start: number, end: number): ObisEntry {
  const star = text.indexOf('*', start);
  if (star >= 0 && star < end) {
    const number = readNumber(text, start, star);
    return { value: number === number ? number : text.slice(start, star), unit: readUnit(text, star + 1, end) };
  }
  if (end - start === 13 && looksLikeTimestamp(text, start, end)) {
    const timestamp = parseTimestamp(text, start, end);
    return timestamp === undefined ? { value: text.slice(start, end) } : { value: timestamp, timestamp };
  }
  const number = readNumber(text, start, end);
  return { value: number === number ? number : text.slice(start, end) };
}

function multiEntry(text: string, first: number, count: number): ObisEntry {
  const values: ObisValue[] = [];
  const plain: Array<number | string | null> = [];
  for (let g = first; g < count; g++) {
    const entry = entryOf(text, bounds[2 * g], bounds[2 * g + 1]) as ObisValue;
    values.push(entry);
    plain.push(entry.value);
  }
  return { value: plain, values };
}

function genericEntry(text: string, count: number, info?: KeyInfo): ObisEntry {
  if (count === 1) return entryOf(text, bounds[0], bounds[1]);
  if (count === 2 && looksLikeTimestamp(text, bounds[0], bounds[1])) {
    // (capture time)(value*unit): M-Bus readings, month peak
    const entry = entryOf(text, bounds[2], bounds[3]);
    const timestamp = info === undefined ? parseTimestamp(text, bounds[0], bounds[1]) : cached(info, text, bounds[0], bounds[1], parseTimestamp);
    if (timestamp !== undefined) entry.timestamp = timestamp;
    return entry;
  }
  return multiEntry(text, 0, count);
}

function hexTextEntry(text: string, start: number, end: number, identifier: boolean, info: KeyInfo): ObisEntry {
  if (start === end) return { value: null };
  const decoded = cached(info, text, start, end, identifier ? decodeHexId : decodeHexMessage);
  const written = info.lastText as string;
  return decoded === undefined ? { value: written } : { value: decoded, raw: written };
}

function decodeHexId(text: string, start: number, end: number): string | undefined {
  return decodeHexText(text, start, end, true);
}

function decodeHexMessage(text: string, start: number, end: number): string | undefined {
  return decodeHexText(text, start, end, false);
}

/** 1-0:99.97.0(N)(0-0:96.7.19)(end)(duration*s)...: the dummy entry (2000-01-01, 2^31-1 s) means "no event". */
function failureLogEntry(text: string, count: number): ObisEntry {
  const events: PowerFailure[] = [];
  for (let g = 2; g + 1 < count; g += 2) {
    const durationSeconds = readNumber(text, bounds[2 * g + 2], starOrEnd(text, bounds[2 * g + 2], bounds[2 * g + 3]));
    const end = parseTimestamp(text, bounds[2 * g], bounds[2 * g + 1]);
    if (durationSeconds === 2147483647 || (end !== undefined && end.startsWith('2000-01-01T00:00:01'))) continue;
    events.push({ end: end ?? text.slice(bounds[2 * g], bounds[2 * g + 1]), durationSeconds });
  }
  return { value: events };
}

function starOrEnd(text: string, start: number, end: number): number {
  for (let i = start; i < end; i++) if (text.charCodeAt(i) === 42) return i;
  return end;
}

/**
 * Belgian 0-0:98.1.0(N)(1-0:1.6.0)(1-0:1.6.0)(period)(peak time)(peak*kW)... Other meters use
 * the same OBIS for other profiles (Hungarian E.ON: one timestamp then register values); those
 * are read generically.
 */
function peakHistoryEntry(text: string, count: number): ObisEntry {
  const rows = readNumber(text, bounds[0], bounds[1]);
  if (
    count < 3 ||
    !(rows >= 0) ||
    count !== 3 + 3 * rows ||
    text.indexOf(':', bounds[2]) >= bounds[3] ||
    text.indexOf(':', bounds[2]) < 0
  ) {
    return genericEntry(text, count);
  }
  const history: PeakHistoryEntry[] = [];
  const values: ObisValue[] = [];
  for (let g = 3; g + 2 < count; g += 3) {
    const peak = entryOf(text, bounds[2 * g + 4], bounds[2 * g + 5]);
    const row: PeakHistoryEntry = { value: typeof peak.value === 'number' ? peak.value : NaN, unit: peak.unit ?? '' };
    const timestamp = parseTimestamp(text, bounds[2 * g + 2], bounds[2 * g + 3]);
    if (timestamp !== undefined) {
      row.timestamp = timestamp;
      row.month = timestamp.slice(0, 7);
    }
    const period = parseTimestamp(text, bounds[2 * g], bounds[2 * g + 1]);
    if (period !== undefined) row.periodTimestamp = period;
    history.push(row);
    const value: ObisValue = { value: row.value, unit: row.unit };
    if (timestamp !== undefined) value.timestamp = timestamp;
    values.push(value);
  }
  return { value: history, values };
}

/** DSMR 2.2/3 gas: 0-n:24.3.0(capture)(00)(60)(1)(0-n:24.2.1)(m3) with the value on the next line. */
function legacyGasEntry(text: string, count: number): ObisEntry {
  const entry: ObisEntry = { value: null };
  const timestamp = parseTimestamp(text, bounds[0], bounds[1]);
  if (count >= 6 && bounds[11] > bounds[10]) entry.unit = readUnit(text, bounds[10], bounds[11]);
  if (timestamp !== undefined) entry.timestamp = timestamp;
  if (count >= 7) entry.value = numberOrNull(readNumber(text, bounds[12], bounds[13]));
  return entry;
}

function numberOrNull(value: number): number | null {
  return value === value ? value : null;
}

function mbusKind(deviceType: number): MbusKind {
  switch (deviceType) {
    case 3:
      return 'gas';
    case 4:
    case 12:
    case 13:
      return 'heat';
    case 10:
    case 11:
      return 'cooling';
    case 6:
    case 7:
    case 21:
    case 22:
      return 'water';
    case 2:
      return 'electricity';
    default:
      return 'other';
  }
}

function numeric(entry: ObisEntry): number | undefined {
  return typeof entry.value === 'number' ? entry.value : undefined;
}

function kilo(entry: ObisEntry): number | undefined {
  return typeof entry.value === 'number' ? toKilo(entry.value, entry.unit) : undefined;
}

function phaseKey(phase: number): 'l1' | 'l2' | 'l3' {
  return phase === 1 ? 'l1' : phase === 2 ? 'l2' : 'l3';
}

function guessVariant(facts: number, header: string): DsmrVariant {
  if (facts & HAS_STAR_SUFFIX || header.startsWith('ESY')) return 'DE';
  if (facts & HAS_BE_VERSION && !(facts & HAS_P1_VERSION)) return 'BE';
  if (facts & HAS_DEVICE_NAME) return facts & HAS_P1_VERSION ? 'LU' : 'HU';
  if (facts & HAS_FOUR_TARIFFS) return 'HU';
  if (facts & HAS_P1_VERSION) return facts & HAS_TOTALS ? 'LU' : 'NL';
  if (facts & HAS_METER_SERIAL) return 'IE';
  if (facts & HAS_TOTALS && !(facts & HAS_TARIFFS)) return 'SE';
  if (facts & HAS_TARIFFS) return 'NL';
  return 'unknown';
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

function isLetter(c: number): boolean {
  const lower = c | 0x20;
  return lower >= 97 && lower <= 122;
}

/**
 * The last '/' before the end marker that is followed by a three-letter manufacturer code: a new
 * header restarts the telegram (anything before it was a cut-off telegram), and binary data
 * (DLMS/M-Bus frames) that happens to hold a '/' byte is not mistaken for a telegram.
 */
function findHeader(text: string, before: number): number {
  let found = -1;
  for (let at = text.indexOf('/'); at >= 0 && at < before; at = text.indexOf('/', at + 1)) {
    if (isLetter(text.charCodeAt(at + 1)) && isLetter(text.charCodeAt(at + 2)) && isLetter(text.charCodeAt(at + 3))) found = at;
  }
  return found;
}

const NO_OBJECTS: Record<string, ObisEntry> = Object.freeze({}) as Record<string, ObisEntry>;

function rawBytes(input: string | Buffer, start: number, end: number): Buffer {
  return typeof input === 'string' ? Buffer.from(input.slice(start, end), 'latin1') : Buffer.from(input.subarray(start, end));
}

/**
 * Parses one telegram: text, raw bytes, or (with a decryption key) an encrypted Luxembourg
 * Smarty frame. Throws a DsmrError (CRC_MISMATCH, INCOMPLETE, MALFORMED, DECRYPTION_FAILED).
 */
export function parseTelegram(input: string | Buffer, options: ParseOptions = {}): ParsedTelegram {
  let bytes: Buffer | undefined;
  let text: string;
  let decrypted = false;
  if (typeof input === 'string') {
    text = input;
    if (text.charCodeAt(0) === 0xdb) {
      bytes = Buffer.from(text, 'latin1');
    }
  } else if (input instanceof Uint8Array) {
    const view = input as Uint8Array;
    bytes = Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
    text = '';
  } else {
    throw new DsmrError('MALFORMED', 'A telegram must be a string or a Buffer; pass the raw bytes from the meter.');
  }
  if (bytes !== undefined) {
    if (isEncryptedFrame(bytes)) {
      bytes = decryptFrame(bytes, options);
      decrypted = true;
    }
    text = bytes.toString('latin1');
  }

  const bang = text.indexOf('!');
  const start = findHeader(text, bang < 0 ? text.length : bang);
  if (start < 0) {
    throw new DsmrError(
      'MALFORMED',
      'This is not a P1 telegram: no "/" header line with a three-letter manufacturer code was found. Check that the source delivers DSMR P1 text and the serial settings (baud rate, parity).',
      bytes ?? rawBytes(text, 0, text.length),
    );
  }
  if (bang < 0) {
    throw new DsmrError(
      'INCOMPLETE',
      'The telegram is incomplete: it has no "!" end line. It was probably cut off; the next one should be whole.',
      bytes ? Buffer.from(bytes.subarray(start)) : rawBytes(text, start, text.length),
    );
  }

  // CRC: up to four hex digits after '!' (some meters drop a leading zero, some write lower case).
  let digitsEnd = bang + 1;
  let expected = 0;
  while (digitsEnd < text.length && digitsEnd - bang <= 4) {
    const nibble = hexDigit(text.charCodeAt(digitsEnd));
    if (nibble < 0) break;
    expected = expected * 16 + nibble;
    digitsEnd++;
  }
  const hasCrc = digitsEnd > bang + 1;
  // Strings are hashed through a latin-1 copy: the byte loop is faster than charCodeAt per byte.
  let computed = crc16arc(bytes ?? Buffer.from(text, 'latin1'), start, bang + 1);
  let valid: boolean | null = hasCrc ? computed === expected : null;
  let lineEndingsRepaired = false;
  if (valid === false) {
    const cr = text.indexOf('\r', start);
    if (cr < 0 || cr > bang) {
      const repaired = crc16arcCrlf(text, start, bang + 1);
      if (repaired === expected) {
        computed = repaired;
        valid = true;
        lineEndingsRepaired = true;
      }
    }
  }
  if (valid === false && options.crc !== 'off') {
    throw new DsmrError(
      'CRC_MISMATCH',
      `The telegram failed its CRC check (it says ${formatCrc(expected)}, its bytes give ${formatCrc(computed)}), so it was damaged on the way. ` +
        'Check the cable and serial settings (baud rate, 8N1 vs 7E1); if this meter is known to send wrong CRCs, set CRC checking to off.',
      bytes ? Buffer.from(bytes.subarray(start, digitsEnd)) : rawBytes(text, start, digitsEnd),
    );
  }

  let headerEnd = start + 1;
  while (headerEnd < bang) {
    const c = text.charCodeAt(headerEnd);
    if (c === 13 || c === 10) break;
    headerEnd++;
  }
  const header = text.slice(start + 1, headerEnd).trimEnd();

  const electricity: ElectricityValues = { phases: { l1: {}, l2: {}, l3: {} } };
  const result: ParsedTelegram = {
    header,
    manufacturer: header.slice(0, 3),
    objects: NO_OBJECTS,
    electricity,
    mbus: [],
    crc: { expected: hasCrc ? formatCrc(expected) : null, computed: formatCrc(computed), valid },
  };
  if (lineEndingsRepaired) result.crc.lineEndingsRepaired = true;
  if (decrypted) result.decrypted = true;

  let facts = 0;
  let idPriority = 0;
  let channels: Array<ChannelRecord | undefined> | undefined;
  let pending: ObisEntry | undefined; // a legacy gas line waiting for its value line
  let unparsed: string[] | undefined;

  const layout = layoutFor(header, bang - start);
  let lineNumber = 0;
  let lineCount = 0;
  let pos = headerEnd;
  while (pos < bang) {
    let newline = text.indexOf('\n', pos);
    if (newline < 0 || newline > bang) newline = bang;
    let lineStart = pos;
    let lineEnd = newline;
    pos = newline + 1;
    while (lineEnd > lineStart && text.charCodeAt(lineEnd - 1) <= 32) lineEnd--; // CR, spaces
    while (lineStart < lineEnd && text.charCodeAt(lineStart) <= 32) lineStart++;
    if (lineStart >= lineEnd) continue;

    const open = text.indexOf('(', lineStart);
    if (open < 0 || open >= lineEnd) {
      (unparsed ??= []).push(text.slice(lineStart, lineEnd));
      continue;
    }
    // The bracketed groups: each runs to ')' (or to the line end when unclosed); text after the
    // last group is ignored.
    let count = 0;
    let at = open;
    for (;;) {
      let close = text.indexOf(')', at + 1);
      if (close < 0 || close > lineEnd) close = lineEnd;
      if (2 * count + 2 > bounds.length) {
        const grown = new Int32Array(bounds.length * 2);
        grown.set(bounds);
        bounds = grown;
      }
      bounds[2 * count] = at + 1;
      bounds[2 * count + 1] = close;
      count++;
      at = close + 1;
      if (at >= lineEnd || text.charCodeAt(at) !== 40) break;
    }

    if (open === lineStart) {
      // A value line continuing the previous object (DSMR 2.2/3 gas).
      if (pending !== undefined) {
        pending.value = numberOrNull(readNumber(text, bounds[0], bounds[1]));
        pending = undefined;
      } else {
        (unparsed ??= []).push(text.slice(lineStart, lineEnd));
      }
      continue;
    }
    pending = undefined;

    const info = keyInfoAt(layout, lineNumber++, text, lineStart, open);
    if (info === PROTO_KEY) {
      (unparsed ??= []).push(text.slice(lineStart, lineEnd));
      continue;
    }
    if (info.starred) facts |= HAS_STAR_SUFFIX;
    const spec = info.spec;

    let entry: ObisEntry;
    const read = spec === undefined ? GENERIC : spec.read;
    if (read === GENERIC) entry = genericEntry(text, count, info);
    else if (read === HEX_ID) entry = hexTextEntry(text, bounds[0], bounds[1], true, info);
    else if (read === HEX_TEXT) entry = hexTextEntry(text, bounds[0], bounds[1], false, info);
    else if (read === AS_WRITTEN) entry = { value: bounds[1] > bounds[0] ? text.slice(bounds[0], bounds[1]) : null };
    else if (read === FAILURE_LOG) entry = failureLogEntry(text, count);
    else if (read === PEAK_HISTORY) entry = peakHistoryEntry(text, count);
    else {
      entry = legacyGasEntry(text, count);
      if (count < 7) pending = entry;
    }
    lineEntries[lineCount] = entry;
    lineInfos[lineCount] = info;
    lineCount++;
    if (spec === undefined) continue;
    facts |= spec.fact;

    switch (spec.field) {
      case F.None:
        break;
      case F.Version:
        if (result.version === undefined && typeof entry.value === 'string') result.version = entry.value;
        break;
      case F.Timestamp:
        if (entry.timestamp !== undefined) result.timestamp = entry.timestamp;
        break;
      case F.EquipmentId:
        if (spec.arg > idPriority && typeof entry.value === 'string') {
          electricity.equipmentId = entry.value;
          idPriority = spec.arg;
        }
        break;
      case F.Delivered: {
        const value = kilo(entry);
        if (spec.arg === 1) electricity.deliveredTariff1 = value;
        else if (spec.arg === 2) electricity.deliveredTariff2 = value;
        else if (spec.arg === 3) electricity.deliveredTariff3 = value;
        else electricity.deliveredTariff4 = value;
        break;
      }
      case F.Returned: {
        const value = kilo(entry);
        if (spec.arg === 1) electricity.returnedTariff1 = value;
        else if (spec.arg === 2) electricity.returnedTariff2 = value;
        else if (spec.arg === 3) electricity.returnedTariff3 = value;
        else electricity.returnedTariff4 = value;
        break;
      }
      case F.DeliveredTotal:
        electricity.deliveredTotal = kilo(entry);
        break;
      case F.ReturnedTotal:
        electricity.returnedTotal = kilo(entry);
        break;
      case F.CurrentDelivered:
        electricity.currentDelivered = kilo(entry);
        break;
      case F.CurrentReturned:
        electricity.currentReturned = kilo(entry);
        break;
      case F.Tariff:
        electricity.tariffIndicator = numeric(entry);
        break;
      case F.Voltage:
        electricity.phases[phaseKey(spec.arg)].voltage = numeric(entry);
        break;
      case F.Current:
        electricity.phases[phaseKey(spec.arg)].current = numeric(entry);
        break;
      case F.PhaseDelivered:
        electricity.phases[phaseKey(spec.arg)].powerDelivered = kilo(entry);
        break;
      case F.PhaseReturned:
        electricity.phases[phaseKey(spec.arg)].powerReturned = kilo(entry);
        break;
      case F.Failures:
        electricity.powerFailures = numeric(entry);
        break;
      case F.LongFailures:
        electricity.longPowerFailures = numeric(entry);
        break;
      case F.FailureLog:
        electricity.powerFailureLog = entry.value as PowerFailure[];
        break;
      case F.Sags:
        (electricity.voltageSags ??= {})[phaseKey(spec.arg)] = numeric(entry);
        break;
      case F.Swells:
        (electricity.voltageSwells ??= {})[phaseKey(spec.arg)] = numeric(entry);
        break;
      case F.Text:
        if (typeof entry.value === 'string' && entry.value.length > 0) result.textMessage = entry.value;
        break;
      case F.AverageDemand:
        if (typeof entry.value === 'number') {
          (result.capacity ??= {}).currentAverageDemand = { value: entry.value, unit: entry.unit ?? '' };
        }
        break;
      case F.MonthPeak:
        if (typeof entry.value === 'number') {
          const peak: { value: number; unit: string; timestamp?: string } = { value: entry.value, unit: entry.unit ?? '' };
          if (entry.timestamp !== undefined) peak.timestamp = entry.timestamp;
          (result.capacity ??= {}).monthPeak = peak;
        }
        break;
      case F.PeakHistory:
        // Only the Belgian layout is a peak history; other profiles under this OBIS stay in `objects`.
        if (Array.isArray(entry.value) && entry.value.every((row) => typeof row === 'object' && row !== null)) {
          (result.capacity ??= {}).peakHistory = entry.value as PeakHistoryEntry[];
        }
        break;
      case F.MbusType:
      case F.MbusId:
      case F.MbusReading:
      case F.MbusValve: {
        channels ??= [];
        const record = (channels[spec.arg] ??= {});
        if (spec.field === F.MbusType) record.deviceType = numeric(entry);
        else if (spec.field === F.MbusId) record.equipmentId = typeof entry.value === 'string' ? entry.value : undefined;
        else if (spec.field === F.MbusReading) record.reading = entry;
        else record.valve = numeric(entry);
        break;
      }
    }
  }

  result.objects = buildObjects(layout, lineCount);
  if (channels !== undefined) collectDevices(channels, result);
  if (unparsed !== undefined) result.unparsedLines = unparsed;
  result.variant = decrypted ? 'LU' : guessVariant(facts, header);
  return result;
}

/**
 * M-Bus devices by device type, not by channel: gas can sit on channel 2 behind a dead channel 1.
 * A channel is dead when it has no reading, no real capture time (placeholder 632525252525), or
 * neither an equipment id nor a unit on a zero reading.
 */
function collectDevices(channels: Array<ChannelRecord | undefined>, result: ParsedTelegram): void {
  for (let channel = 1; channel < channels.length; channel++) {
    const record = channels[channel];
    if (record === undefined || record.deviceType === undefined) continue;
    const reading = record.reading;
    if (reading === undefined || reading.timestamp === undefined) continue;
    const value = typeof reading.value === 'number' ? reading.value : undefined;
    if (value === undefined) continue;
    if (!record.equipmentId && value === 0 && reading.unit === undefined) continue;
    const device: MbusDevice = {
      channel,
      deviceType: record.deviceType,
      kind: mbusKind(record.deviceType),
    };
    if (record.equipmentId) device.equipmentId = record.equipmentId;
    device.timestamp = reading.timestamp;
    device.value = value;
    if (reading.unit !== undefined) device.unit = reading.unit;
    if (record.valve !== undefined) device.valvePosition = record.valve;
    result.mbus.push(device);
    if (result.gas === undefined && device.kind === 'gas') result.gas = device;
  }
}
