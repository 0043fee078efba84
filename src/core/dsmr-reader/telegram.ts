/**
 * Telegrams for DSMR-reader's v1 API, and what DSMR-reader would make of them.
 *
 * DSMR-reader (v5.11) parses a v1 telegram with dsmr_parser at its datalogger setting
 * `dsmr_version` [DSMR-reader src dsmr_datalogger/services/datalogger.py]: "DSMR v4/v5",
 * "Belgium" and "Luxembourg" verify the CRC and need it as four upper-case hex digits after '!';
 * "DSMR v2/3" ignores any CRC, the timestamp line and the hourly gas line [dsmr_parser
 * telegram_specifications.py: V2_2 has checksum_support False and no P1_MESSAGE_TIMESTAMP].
 *
 * So a telegram is posted with CR LF line endings and a verified CRC in upper case, but its
 * content is never changed and a telegram without CRC gets none: writing a CRC onto it would
 * hide a wrong `dsmr_version` (a DSMR 2.2/3 telegram would then be stored without gas and
 * without an error). DSMR-reader refuses what its setting cannot read, and the node's error
 * names the setting the meter needs (`neededDsmrVersion`).
 *
 * DSMR-reader stores the numbers of a v1 telegram as written and finds each value with a
 * regular expression such as `\d-\d:1\.8\.1.+?\r\n` searched anywhere in the text [dsmr_parser
 * obis_references.py; observed on v5.11, docs/service-contracts.md §4.5]. `v1Problems` lists what
 * it would therefore store wrongly: units other than kWh/kW/m³ (Wh stored 1000× too large), a
 * non-gas M-Bus device on the line it reads as gas, and lines it confuses with a value line.
 */
import { crc16arc, formatCrc, parseTelegram, isDsmrError } from '../dsmr';
import type { ParsedTelegram } from '../dsmr';
import { DsmrReaderError } from './errors';

export interface NormalisedTelegram {
  /** The telegram as posted: CR LF line endings, the CRC (if any) as four upper-case hex digits, final CR LF. */
  telegram: string;
  /** The verified CRC written into `telegram`; null when the telegram has none (DSMR 2.2/3). */
  crc: string | null;
  /** The CRC the telegram arrived with, as written; null when it had none. */
  originalCrc: string | null;
  /** True when line endings or the CRC's case or padding had to be rewritten. */
  rewritten: boolean;
}

/** The '/' … '!' part of a telegram, as written and with CR LF line endings. */
interface Framed {
  asWritten: string;
  normalisedBody: string;
  expectedCrc: string | null;
}

function toText(input: string | Uint8Array): string {
  return typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
}

function frame(input: string | Uint8Array): Framed {
  // DSMR-reader itself strips NUL padding; serial buffers add it, and whitespace around is noise.
  const text = toText(input).replace(/^[\0\s]+|[\0\s]+$/g, '');
  if (text === '') {
    throw new DsmrReaderError('The telegram is empty. Send the raw telegram text from "/" to the "!" line in msg.telegram or msg.payload.', { code: 'NO_TELEGRAM' });
  }
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(text)) {
    throw new DsmrReaderError('The telegram contains characters outside ASCII, which meters never send; this usually means a wrong serial setting (try 8N1 for DSMR 4/5, 7E1 for DSMR 2.2/3). It was not sent.', { code: 'NOT_ASCII' });
  }
  if (!text.startsWith('/')) {
    throw new DsmrReaderError('The telegram does not start with "/" (the meter identification line), so it is not a complete DSMR telegram. It was not sent.', { code: 'MALFORMED' });
  }
  const lines = text.split(/\r*\n/).map((line) => line.replace(/\r+$/, ''));
  const last = lines[lines.length - 1];
  const crcLine = /^!([0-9A-Fa-f]{1,4})?$/.exec(last);
  if (!crcLine) {
    throw new DsmrReaderError('The telegram does not end with a "!" line (optionally followed by a 4-digit CRC), so it is cut off or not a DSMR telegram. It was not sent.', { code: 'MALFORMED' });
  }
  if (lines.slice(1, -1).some((line) => line.startsWith('/') || line.startsWith('!'))) {
    throw new DsmrReaderError('The message holds more than one telegram (a "/" or "!" line in the middle). Send one telegram per message. It was not sent.', { code: 'MALFORMED' });
  }
  const bang = text.lastIndexOf('!');
  const normalisedBody = `${lines.slice(0, -1).join('\r\n')}\r\n!`;
  return { asWritten: text.slice(0, bang + 1), normalisedBody, expectedCrc: crcLine[1] ?? null };
}

function crcOf(text: string): number {
  return crc16arc(Buffer.from(text, 'latin1'));
}

/**
 * Rewrites a telegram into the form DSMR-reader's v1 API accepts, without adding anything.
 * Throws a DsmrReaderError (CRC_MISMATCH) for a telegram whose CRC matches neither the bytes as
 * written nor the same lines with CR LF endings (a transport may have stripped the CRs the meter
 * sent): a damaged telegram is refused, never given a CRC that would make it look genuine.
 */
export function normaliseTelegram(input: string | Uint8Array): NormalisedTelegram {
  const framed = frame(input);
  let crcText: string | null = null;
  if (framed.expectedCrc !== null) {
    const crc = crcOf(framed.normalisedBody);
    const expected = parseInt(framed.expectedCrc, 16);
    if (expected !== crc && expected !== crcOf(framed.asWritten)) {
      throw new DsmrReaderError(
        `The telegram's CRC (${framed.expectedCrc}) does not match its content, so it was damaged between the meter and Node-RED. It was not sent: DSMR-reader would reject it, and giving it a new CRC would store corrupted values. Check the cable and the serial settings if this happens often.`,
        { code: 'CRC_MISMATCH', statusText: 'crc' },
      );
    }
    // Verified over what the meter sent; recomputed over the CR LF form DSMR-reader checks.
    crcText = formatCrc(crc);
  }
  const telegram = `${framed.normalisedBody}${crcText ?? ''}\r\n`;
  return { telegram, crc: crcText, originalCrc: framed.expectedCrc, rewritten: toText(input) !== telegram };
}

/** Registers DSMR-reader's telegram parser needs before it can create a reading (DSMR v4/v5 setting). */
export const V1_REQUIRED_REGISTERS = ['1-0:1.8.1', '1-0:1.8.2'] as const;

/** Parses a normalised telegram; throws MALFORMED with the reason. */
export function parseForV1(normalised: NormalisedTelegram): ParsedTelegram {
  try {
    return parseTelegram(normalised.telegram, { crc: 'strict' });
  } catch (error) {
    if (isDsmrError(error) && error.code === 'CRC_MISMATCH') {
      // E.g. a DSMR 4/5 telegram whose CRC line is missing: the package's parser calls it damaged.
      throw new DsmrReaderError(`${error.message} It was not sent to DSMR-reader.`, { code: 'CRC_MISMATCH', statusText: 'crc', cause: error });
    }
    const reason = isDsmrError(error) ? error.message : String((error as Error)?.message ?? error);
    throw new DsmrReaderError(`The telegram cannot be read as a DSMR telegram, so DSMR-reader could not store it either: ${reason} It was not sent.`, { code: 'MALFORMED', cause: error });
  }
}

/** The OBIS codes DSMR-reader reads from a v1 telegram, with the unit it assumes [datalogger.py mapping]. */
const READ_BY_DSMR_READER: ReadonlyArray<{ code: string; unit?: string; digits?: number }> = [
  { code: '1.0.0' },
  ...['1.8.1', '1.8.2', '2.8.1', '2.8.2', '1.8.0', '2.8.0'].map((code) => ({ code, unit: 'kWh', digits: 6 })),
  ...['1.7.0', '2.7.0', '21.7.0', '41.7.0', '61.7.0', '22.7.0', '42.7.0', '62.7.0'].map((code) => ({ code, unit: 'kW', digits: 6 })),
  ...['32.7.0', '52.7.0', '72.7.0'].map((code) => ({ code, unit: 'V', digits: 3 })),
  ...['31.7.0', '51.7.0', '71.7.0'].map((code) => ({ code, unit: 'A' })),
  ...['24.2.1', '24.2.3', '24.3.0'].map((code) => ({ code, unit: 'm3', digits: 6 })),
  ...['0.2.8', '96.14.0', '96.7.21', '96.7.9', '32.32.0', '52.32.0', '72.32.0', '32.36.0', '52.36.0', '72.36.0'].map((code) => ({ code })),
];

/**
 * A telegram without CRC can only be read with the "DSMR v2/3" setting, whose specification
 * knows just these lines [dsmr_parser telegram_specifications.py V2_2].
 */
const READ_AS_DSMR_2_3 = new Set(['1.8.1', '1.8.2', '2.8.1', '2.8.2', '1.7.0', '2.7.0', '96.14.0', '24.3.0']);

const GAS_DEVICE_TYPE = 3;

/** Where DSMR-reader's search for `code` would land that is not the start of that exact line. */
function confusingLine(text: string, code: string): string | undefined {
  const pattern = new RegExp(`\\d-\\d:${code.replace(/\./g, '\\.')}`, 'g');
  for (const match of text.matchAll(pattern)) {
    const at = match.index ?? 0;
    const atLineStart = at === 0 || text[at - 1] === '\n';
    if (!atLineStart || text[at + match[0].length] !== '(') {
      const start = text.lastIndexOf('\n', at) + 1;
      const end = text.indexOf('\r', at);
      return text.slice(start, end < 0 ? undefined : end);
    }
  }
  return undefined;
}

/** The value DSMR-reader's search finds first for a code: the first line that carries it. */
function firstObject(parsed: ParsedTelegram, text: string, code: string): { reference: string; unit?: string; value?: unknown } | undefined {
  const match = new RegExp(`^(\\d-\\d:${code.replace(/\./g, '\\.')})\\(`, 'm').exec(text);
  if (!match) return undefined;
  const entry = parsed.objects[match[1]];
  return entry ? { reference: match[1], unit: entry.unit, value: entry.value } : { reference: match[1] };
}

/**
 * Why DSMR-reader's v1 API would store this telegram wrongly (or answer it with a server error
 * page); empty when v1 stores it as the meter meant. `parsed` is the telegram read by the
 * package's parser, `text` the normalised telegram as it would be posted.
 */
export function v1Problems(parsed: ParsedTelegram, normalised: NormalisedTelegram): string[] {
  const text = normalised.telegram;
  const problems: string[] = [];
  const missing = V1_REQUIRED_REGISTERS.filter((obis) => parsed.objects[obis] === undefined);
  if (missing.length > 0) {
    const totals = ['1-0:1.8.0', '1-0:2.8.0'].filter((obis) => parsed.objects[obis] !== undefined);
    const has = totals.length > 0 ? ` (it has the total${totals.length > 1 ? 's' : ''} ${totals.join(' and ')} instead, as Nordic and other single-tariff meters send)` : '';
    problems.push(`it has no ${missing.join(' / ')} tariff register${missing.length > 1 ? 's' : ''}${has}, so DSMR-reader would answer with a server error page`);
  }
  const withoutCrc = normalised.crc === null;
  for (const { code, unit, digits } of READ_BY_DSMR_READER) {
    if (withoutCrc && !READ_AS_DSMR_2_3.has(code)) continue;
    const confusing = confusingLine(text, code);
    if (confusing !== undefined) {
      problems.push(`the line "${confusing}" would be read by DSMR-reader as ${code}`);
      continue;
    }
    const found = firstObject(parsed, text, code);
    if (!found || !unit) continue;
    if (found.unit !== undefined && found.unit.toLowerCase() !== unit.toLowerCase()) {
      problems.push(`${found.reference} is in ${found.unit}, which DSMR-reader would store as ${unit} without converting it`);
    } else if (digits !== undefined && typeof found.value === 'number' && Math.abs(found.value) >= 10 ** digits) {
      problems.push(`${found.reference} (${found.value}) has more than ${digits} digits before the decimal point, more than DSMR-reader's column holds`);
    }
  }
  for (const code of withoutCrc ? [] : ['24.2.1', '24.2.3']) {
    const found = firstObject(parsed, text, code);
    if (!found) continue;
    const channel = Number(found.reference.slice(2, found.reference.indexOf(':')));
    const device = parsed.mbus.find((candidate) => candidate.channel === channel);
    if (device && device.deviceType !== GAS_DEVICE_TYPE) {
      problems.push(`DSMR-reader would store the ${device.kind} meter on M-Bus channel ${channel} (device type ${device.deviceType}, line ${found.reference}) as gas`);
    }
  }
  if (withoutCrc && parsed.objects['0-0:1.0.0'] !== undefined) {
    problems.push('it has a timestamp (0-0:1.0.0) but no CRC: DSMR-reader\'s "DSMR v4/v5" setting refuses telegrams without CRC and its "DSMR v2/3" setting ignores the timestamp and the hourly gas reading');
  }
  return problems;
}

/**
 * The `dsmr_version` setting of DSMR-reader's datalogger that reads this telegram (its
 * Configuration > Datalogger > "DSMR version"): DSMR v2/3 for telegrams without CRC, Belgium
 * (Fluvius) and Luxembourg (Smarty) for those meters, DSMR v4/v5 for all others.
 */
export function neededDsmrVersion(telegram: string): string {
  let parsed: ParsedTelegram;
  try {
    parsed = parseTelegram(telegram, { crc: 'off' });
  } catch {
    return /\r\n!([0-9A-F]{4})\r\n$/.test(telegram) ? '"DSMR v4/v5"' : '"DSMR v2/3"';
  }
  if (parsed.crc.expected === null) return '"DSMR v2/3" (the telegram has no CRC)';
  if (parsed.variant === 'BE') return '"Belgium (Fluvius)"';
  if (parsed.variant === 'LU') return '"Luxembourg (Smarty)"';
  return '"DSMR v4/v5"';
}
