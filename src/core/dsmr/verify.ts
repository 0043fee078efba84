/**
 * The verify stage: decryption (Luxembourg), finding the telegram in the input, and the CRC
 * check. Nothing leaves this stage that failed an integrity check in strict mode.
 *
 * The CRC line is '!' followed by the CRC-16 as hex digits (four; some meters drop a leading
 * zero or write lower case) and the line end. A telegram that must carry a CRC (one with a
 * version line 1-3:0.2.8 or 0-0:96.1.4, i.e. DSMR 4 and 5, Belgian e-MUCS, Luxembourg Smarty,
 * and every decrypted frame) is refused in strict mode unless its CRC line is exactly that:
 * otherwise damaging the CRC line (`!X234`, `!`, `! 1234`) would switch the check off. Only
 * DSMR 2.2/3 and other meters without a version line may send a bare '!'.
 */
import { crc16arc, crc16arcCrlf, formatCrc } from './crc';
import { decryptFrame, isEncryptedFrame } from './decrypt';
import { DsmrError } from './errors';
import type { ParseOptions, ParsedTelegram } from './types';

export interface VerifiedTelegram {
  /** The input (or the decrypted frame) as text, one character per byte. */
  text: string;
  /** Offset of the telegram's '/' in `text`. */
  start: number;
  /** Offset of its '!'. */
  bang: number;
  crc: ParsedTelegram['crc'];
  decrypted: boolean;
}

const CRC_ADVICE = 'Check the cable and serial settings (baud rate, 8N1 vs 7E1); if this meter is known to send wrong CRCs, set CRC checking to off.';

function isLetter(c: number): boolean {
  const lower = c | 0x20;
  return lower >= 97 && lower <= 122;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** A header starts with '/' and a three-letter manufacturer code; a '/' in binary data or a text message does not. */
function isHeaderAt(text: string, at: number): boolean {
  return isLetter(text.charCodeAt(at + 1)) && isLetter(text.charCodeAt(at + 2)) && isLetter(text.charCodeAt(at + 3));
}

/** The last header that starts before `before` (searched forwards: a telegram holds few '/'). */
function lastHeaderBefore(text: string, before: number): number {
  let found = -1;
  for (let at = text.indexOf('/'); at >= 0 && at < before; at = text.indexOf('/', at + 1)) {
    if (isHeaderAt(text, at)) found = at;
  }
  return found;
}

function bytesOf(input: Uint8Array): Buffer {
  return Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}

/**
 * With a decryption key set, only an authenticated Smarty frame is accepted: a plain telegram
 * could have been written by anyone on the line. Without a key, a frame says it needs one.
 */
function decryptIfFramed(input: string | Buffer, options: ParseOptions): { bytes: Buffer; decrypted: boolean } | undefined {
  const keyed = options.decryptionKey !== undefined && options.decryptionKey !== '';
  const first = typeof input === 'string' ? input.charCodeAt(0) : input[0];
  if (!keyed && first !== 0xdb) return undefined;
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  if (isEncryptedFrame(bytes)) return { bytes: decryptFrame(bytes, options), decrypted: true };
  if (!keyed) return undefined;
  throw new DsmrError(
    'DECRYPTION_FAILED',
    'A decryption key is set, but this is not an encrypted frame: the telegram was not authenticated, so it was refused. ' +
      'A Luxembourg Smarty meter always sends encrypted frames; remove the key only if this meter sends plain telegrams.',
    bytes,
  );
}

/** The last complete telegram: the last header line before the last '!'; its '!' is the first after that header. */
function locate(text: string, bytes: Buffer | undefined, decrypted: boolean): { start: number; bang: number } {
  const lastBang = text.lastIndexOf('!');
  const start = lastBang < 0 ? -1 : lastHeaderBefore(text, lastBang);
  if (start >= 0) return { start, bang: text.indexOf('!', start) };
  const openHeader = lastHeaderBefore(text, text.length);
  if (openHeader >= 0) {
    throw new DsmrError(
      'INCOMPLETE',
      'The telegram is incomplete: it has no "!" end line. It was probably cut off; the next one should be whole.',
      bytes ? Buffer.from(bytes.subarray(openHeader)) : Buffer.from(text.slice(openHeader), 'latin1'),
    );
  }
  throw new DsmrError(
    'MALFORMED',
    decrypted
      ? 'The decrypted frame holds no P1 telegram (no "/" header line with a three-letter manufacturer code).'
      : 'This is not a P1 telegram: no "/" header line with a three-letter manufacturer code was found. Check that the source delivers DSMR P1 text and the serial settings (baud rate, parity).',
    bytes ?? Buffer.from(text, 'latin1'),
  );
}

/** Whether the telegram must carry a CRC: it was decrypted, or it has a version line, which only versions with a CRC (DSMR 4+, e-MUCS, Smarty) send. */
function mustCarryCrc(text: string, start: number, bang: number, decrypted: boolean): boolean {
  if (decrypted) return true;
  for (const line of ['\n1-3:0.2.8(', '\n0-0:96.1.4(']) {
    const at = text.indexOf(line, start);
    if (at >= 0 && at < bang) return true;
  }
  return false;
}

/** Decrypts when needed, finds the telegram, checks its CRC. Throws DsmrError. */
export function verifyTelegram(input: string | Uint8Array, options: ParseOptions): VerifiedTelegram {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new DsmrError('MALFORMED', 'A telegram must be a string or a Buffer; pass the raw bytes from the meter.');
  }
  const given = typeof input === 'string' ? input : bytesOf(input);
  const frame = decryptIfFramed(given, options);
  const bytes = frame?.bytes ?? (typeof given === 'string' ? Buffer.from(given, 'latin1') : given);
  const text = frame !== undefined || typeof given !== 'string' ? bytes.toString('latin1') : given;
  const decrypted = frame?.decrypted === true;
  const { start, bang } = locate(text, bytes, decrypted);

  // Up to four hex digits, then the line end (or the end of the input).
  let digitsEnd = bang + 1;
  let expected = 0;
  for (let nibble = hexDigit(text.charCodeAt(digitsEnd)); nibble >= 0 && digitsEnd - bang <= 4; nibble = hexDigit(text.charCodeAt(digitsEnd))) {
    expected = expected * 16 + nibble;
    digitsEnd++;
  }
  const after = text.charCodeAt(digitsEnd);
  const lineEnds = digitsEnd === text.length || after === 13 || after === 10;
  const hasCrc = digitsEnd > bang + 1 && lineEnds;
  let computed = crc16arc(bytes, start, bang + 1);
  let valid: boolean | null = hasCrc ? computed === expected : null;
  let lineEndingsRepaired = false;
  if (valid === false) {
    // CRs stripped in transit (files, MQTT): what the meter hashed had CR LF where LF is now.
    const cr = text.indexOf('\r', start);
    if ((cr < 0 || cr > bang) && crc16arcCrlf(text, start, bang + 1) === expected) {
      computed = expected;
      valid = true;
      lineEndingsRepaired = true;
    }
  }
  if (options.crc !== 'off') {
    const raw = (): Buffer => Buffer.from(bytes.subarray(start, digitsEnd));
    if (!lineEnds) {
      throw new DsmrError('CRC_MISMATCH', `The CRC line after "!" is damaged (it must be four hexadecimal digits and a line end), so the telegram cannot be checked and was dropped. ${CRC_ADVICE}`, raw());
    }
    if (!hasCrc && mustCarryCrc(text, start, bang, decrypted)) {
      throw new DsmrError(
        'CRC_MISMATCH',
        `The telegram has no CRC after "!", although its version (DSMR 4 or 5, Belgian or Luxembourg) always sends one: the CRC line was damaged on the way, so the telegram was dropped. ${CRC_ADVICE}`,
        raw(),
      );
    }
    if (valid === false) {
      throw new DsmrError(
        'CRC_MISMATCH',
        `The telegram failed its CRC check (it says ${formatCrc(expected)}, its bytes give ${formatCrc(computed)}), so it was damaged on the way. ${CRC_ADVICE}`,
        raw(),
      );
    }
  }
  const crc: ParsedTelegram['crc'] = { expected: hasCrc ? formatCrc(expected) : null, computed: formatCrc(computed), valid };
  if (lineEndingsRepaired) crc.lineEndingsRepaired = true;
  return { text, start, bang, crc, decrypted };
}
