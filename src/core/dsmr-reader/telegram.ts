/**
 * Telegrams for DSMR-reader's v1 API. DSMR-reader parses with CRC checking on and is stricter
 * than meters and transports are: it wants CR LF line endings and the CRC as four upper-case hex
 * digits, and it cannot store a telegram without the tariff registers 1-0:1.8.1 and 1-0:1.8.2.
 * So a telegram is rewritten into the form DSMR-reader accepts, but only when its own CRC proves
 * the content is what the meter sent (or when it has no CRC at all, as DSMR 2.2/3 meters): a
 * damaged telegram is refused, never given a fresh CRC that would make it look genuine.
 */
import { crc16arc, formatCrc, parseTelegram, isDsmrError } from '../dsmr';
import type { ParsedTelegram } from '../dsmr';
import { DsmrReaderError } from './errors';

export interface NormalisedTelegram {
  /** The telegram as posted: CR LF line endings, CRC as four upper-case hex digits, final CR LF. */
  telegram: string;
  /** The CRC written into `telegram`. */
  crc: string;
  /** The CRC the telegram arrived with, as written; null when it had none (DSMR 2.2/3). */
  originalCrc: string | null;
  /** True when line endings or the CRC line had to be rewritten. */
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
 * Rewrites a telegram into the form DSMR-reader's v1 API accepts. Throws a DsmrReaderError
 * (CRC_MISMATCH) for a telegram whose CRC matches neither the bytes as written nor the same
 * lines with CR LF endings (a transport may have stripped the CRs the meter sent).
 */
export function normaliseTelegram(input: string | Uint8Array): NormalisedTelegram {
  const framed = frame(input);
  const crc = crcOf(framed.normalisedBody);
  if (framed.expectedCrc !== null) {
    const expected = parseInt(framed.expectedCrc, 16);
    if (expected !== crc && expected !== crcOf(framed.asWritten)) {
      throw new DsmrReaderError(
        `The telegram's CRC (${framed.expectedCrc}) does not match its content, so it was damaged between the meter and Node-RED. It was not sent: DSMR-reader would reject it, and giving it a new CRC would store corrupted values. Check the cable and the serial settings if this happens often.`,
        { code: 'CRC_MISMATCH', statusText: 'crc' },
      );
    }
  }
  const crcText = formatCrc(crc);
  const telegram = `${framed.normalisedBody}${crcText}\r\n`;
  const original = toText(input);
  return { telegram, crc: crcText, originalCrc: framed.expectedCrc, rewritten: original !== telegram };
}

/** Registers DSMR-reader's telegram parser needs before it can create a reading. */
export const V1_REQUIRED_REGISTERS = ['1-0:1.8.1', '1-0:1.8.2'] as const;

/**
 * Parses a normalised telegram and checks DSMR-reader can store it through the v1 API.
 * Returns the parsed telegram; throws NOT_STORABLE with the reason and the way out.
 */
export function checkStorableV1(normalised: NormalisedTelegram): ParsedTelegram {
  let parsed: ParsedTelegram;
  try {
    parsed = parseTelegram(normalised.telegram, { crc: 'strict' });
  } catch (error) {
    const reason = isDsmrError(error) ? error.message : String((error as Error)?.message ?? error);
    throw new DsmrReaderError(`The telegram cannot be read as a DSMR telegram, so DSMR-reader could not store it either: ${reason} It was not sent.`, { code: 'MALFORMED', cause: error });
  }
  const missing = V1_REQUIRED_REGISTERS.filter((obis) => parsed.objects[obis] === undefined);
  if (missing.length > 0) {
    const totals = ['1-0:1.8.0', '1-0:2.8.0'].filter((obis) => parsed.objects[obis] !== undefined);
    const has = totals.length > 0 ? `; it has the total register${totals.length > 1 ? 's' : ''} ${totals.join(' and ')} instead, as Nordic and other single-tariff meters send` : '';
    throw new DsmrReaderError(
      `DSMR-reader cannot store this telegram through the v1 telegram API: it has no ${missing.join(' / ')} tariff register${missing.length > 1 ? 's' : ''}${has}. DSMR-reader would answer with a server error page, so it was not sent. Set the node's API to "v2 readings": that maps the totals onto tariff 1 so DSMR-reader can store them.`,
      { code: 'NOT_STORABLE', statusText: 'not storable' },
    );
  }
  return parsed;
}
