/**
 * Luxembourg Smarty meters wrap a DSMR 5 telegram in a DLMS general-glo-ciphering frame:
 *
 *   0xDB | L | system title (L bytes) | length (BER: <0x80, or 0x81 n, or 0x82 nn)
 *        | security control byte | invocation counter (4) | ciphertext | GCM tag (12)
 *
 * AES-128-GCM with IV = system title ‖ invocation counter and a 96-bit tag. The additional
 * authenticated data is the security byte followed by the authentication key; the Smarty default
 * key is 00112233445566778899AABBCCDDEEFF. Frames authenticated without additional data also
 * occur, so both forms are tried; either way the tag must verify with the decryption key.
 *
 * The security control byte says what protects the frame: bit 4 (0x10) authentication, bit 5
 * (0x20) encryption. Smarty meters send 0x30, both. 0x10 carries the telegram in plain text and
 * 0x20 is AES-CTR without a tag, whose bits an attacker can flip blindly; neither proves that the
 * meter wrote the telegram, so only 0x30 with a verified tag is accepted
 * (sources: ../shared/docs/service-contracts.md §5.8, the openHAB SmartyDecrypter and the
 * amsreader security-byte table).
 */
import { createDecipheriv } from 'node:crypto';
import { DsmrError } from './errors';
import type { ParseOptions } from './types';

export const GENERAL_GLO_CIPHERING = 0xdb;
export const DEFAULT_SMARTY_AUTHENTICATION_KEY = '00112233445566778899AABBCCDDEEFF';

const TAG_LENGTH = 12;
const MAX_SYSTEM_TITLE = 16;

export interface FrameLayout {
  /** Bytes before the security control byte. */
  headerLength: number;
  /** Security byte + counter + ciphertext + tag. */
  payloadLength: number;
  /** Whole frame length in bytes. */
  totalLength: number;
}

/**
 * Reads the frame header at bytes[offset]. Returns the layout, 'short' when more bytes are needed
 * to tell, or null when these bytes cannot be the start of a frame.
 */
export function readFrameLayout(bytes: Uint8Array, offset = 0): FrameLayout | 'short' | null {
  const available = bytes.length - offset;
  if (available < 1) return 'short';
  if (bytes[offset] !== GENERAL_GLO_CIPHERING) return null;
  if (available < 2) return 'short';
  const titleLength = bytes[offset + 1];
  if (titleLength === 0 || titleLength > MAX_SYSTEM_TITLE) return null;
  let at = offset + 2 + titleLength;
  if (bytes.length <= at) return 'short';
  const first = bytes[at++];
  let payloadLength: number;
  if (first < 0x80) {
    payloadLength = first;
  } else if (first === 0x81 || first === 0x82) {
    const size = first - 0x80;
    if (bytes.length < at + size) return 'short';
    payloadLength = size === 1 ? bytes[at] : bytes[at] * 256 + bytes[at + 1];
    at += size;
  } else {
    return null;
  }
  if (payloadLength < 5) return null;
  if (bytes.length > at) {
    const security = bytes[at];
    // Security control: bits 4 and 5 say authenticated/encrypted, low nibble is the suite (0).
    // Frames that are not both are still framed here, so that decryptFrame refuses them by name.
    if ((security & 0x0f) !== 0 || (security & 0x30) === 0 || security & 0xc0) return null;
  }
  const headerLength = at - offset;
  return { headerLength, payloadLength, totalLength: headerLength + payloadLength };
}

/** True when the bytes start like an encrypted frame (0xDB and a plausible system title length). */
export function isEncryptedFrame(bytes: Uint8Array): boolean {
  return bytes.length > 2 && bytes[0] === GENERAL_GLO_CIPHERING && bytes[1] > 0 && bytes[1] <= MAX_SYSTEM_TITLE;
}

function keyBytes(key: string | Buffer, what: string): Buffer {
  if (Buffer.isBuffer(key)) {
    if (key.length === 16) return key;
  } else {
    const hex = key.replace(/[\s:-]/g, '');
    if (/^[0-9a-fA-F]{32}$/.test(hex)) return Buffer.from(hex, 'hex');
  }
  throw new DsmrError('DECRYPTION_FAILED', `The ${what} must be 32 hexadecimal characters (16 bytes). Copy it exactly as the grid operator supplied it.`);
}

const AUTHENTICATED_AND_ENCRYPTED = 0x30;

function unauthenticated(security: number, frame: Buffer): DsmrError {
  const what = security === 0x10 ? 'authentication only: the telegram is not encrypted' : security === 0x20 ? 'encryption without authentication' : 'no authenticated encryption';
  return new DsmrError(
    'DECRYPTION_FAILED',
    `The encrypted frame was not authenticated (security byte 0x${security.toString(16).padStart(2, '0')}, ${what}), so it was refused: ` +
      'a Smarty meter always sends authenticated, encrypted frames (0x30). Something on the P1 line may be sending forged telegrams.',
    frame,
  );
}

/**
 * Decrypts a general-glo-ciphering frame and returns the plaintext telegram bytes, only when it
 * is encrypted and authenticated (security byte 0x30) and its tag verifies. Throws
 * DECRYPTION_FAILED when no key is set, the frame is not authenticated, or the tag does not
 * verify (wrong key or tampered frame); INCOMPLETE when it is shorter than its header says.
 */
export function decryptFrame(frame: Buffer, options: ParseOptions): Buffer {
  if (options.decryptionKey === undefined || options.decryptionKey === '') {
    throw new DsmrError(
      'DECRYPTION_FAILED',
      'This is an encrypted (Luxembourg Smarty) frame. Set the decryption key that the grid operator supplied to read it.',
      frame,
    );
  }
  const key = keyBytes(options.decryptionKey, 'decryption key');
  const layout = readFrameLayout(frame);
  if (layout === null) {
    throw new DsmrError('MALFORMED', 'The encrypted frame has an unexpected header, so it cannot be decrypted. Check that the source sends Smarty P1 frames.', frame);
  }
  if (layout === 'short' || frame.length < layout.totalLength) {
    throw new DsmrError('INCOMPLETE', 'The encrypted frame is shorter than its header says: it was cut off. The next one should be whole.', frame);
  }
  const securityAt = layout.headerLength;
  const security = frame[securityAt];
  if (security !== AUTHENTICATED_AND_ENCRYPTED) throw unauthenticated(security, frame);
  const cipherStart = securityAt + 5;
  const end = layout.totalLength;
  const cipherEnd = end - TAG_LENGTH;
  if (cipherEnd < cipherStart) {
    throw new DsmrError('MALFORMED', 'The encrypted frame is too short to hold a telegram.', frame);
  }
  const titleLength = frame[1];
  const iv = Buffer.alloc(12);
  frame.copy(iv, 0, 2, 2 + Math.min(titleLength, 8));
  frame.copy(iv, 8, securityAt + 1, securityAt + 5);
  const ciphertext = frame.subarray(cipherStart, cipherEnd);
  const tag = frame.subarray(cipherEnd, end);
  const authKey = options.authenticationKey ? keyBytes(options.authenticationKey, 'authentication key') : Buffer.from(DEFAULT_SMARTY_AUTHENTICATION_KEY, 'hex');
  for (const aad of [Buffer.concat([Buffer.from([security]), authKey]), null]) {
    try {
      const decipher = createDecipheriv('aes-128-gcm', key, iv, { authTagLength: TAG_LENGTH });
      if (aad !== null) decipher.setAAD(aad);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      // the tag does not verify with this additional data: try the other form
    }
  }
  throw new DsmrError(
    'DECRYPTION_FAILED',
    'The encrypted frame failed its authentication check: wrong key or tampered frame. ' +
      'Check that the decryption key (and the authentication key, if you set one) are exactly the ones the grid operator supplied for this meter.',
    frame,
  );
}
