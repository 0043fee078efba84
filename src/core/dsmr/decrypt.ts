/**
 * Luxembourg Smarty meters wrap a DSMR 5 telegram in a DLMS general-glo-ciphering frame:
 *
 *   0xDB | L | system title (L bytes) | length (BER: <0x80, or 0x81 n, or 0x82 nn)
 *        | security control byte | invocation counter (4) | ciphertext | GCM tag (12)
 *
 * AES-128-GCM with IV = system title ‖ invocation counter and a 96-bit tag. The additional
 * authenticated data is the security byte followed by the authentication key; the Smarty default
 * key is 00112233445566778899AABBCCDDEEFF. Frames authenticated without additional data also
 * occur, so without an explicit authentication key both forms are tried.
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

/**
 * Decrypts a general-glo-ciphering frame and returns the plaintext telegram bytes. Throws
 * DECRYPTION_FAILED when no key is set or the key/authentication does not match, INCOMPLETE when
 * the frame is shorter than its header says.
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
  const titleLength = frame[1];
  const securityAt = layout.headerLength;
  const security = frame[securityAt];
  const iv = Buffer.allocUnsafe(12);
  frame.copy(iv, 0, 2, 2 + Math.min(titleLength, 8));
  if (titleLength < 8) iv.fill(0, titleLength, 8);
  frame.copy(iv, 8, securityAt + 1, securityAt + 5);
  const cipherStart = securityAt + 5;
  const authenticated = (security & 0x10) !== 0;
  const encrypted = (security & 0x20) !== 0;
  const end = layout.totalLength;
  const cipherEnd = authenticated ? end - TAG_LENGTH : end;
  if (cipherEnd < cipherStart) {
    throw new DsmrError('MALFORMED', 'The encrypted frame is too short to hold a telegram.', frame);
  }
  if (!encrypted) return Buffer.from(frame.subarray(cipherStart, cipherEnd));
  const ciphertext = frame.subarray(cipherStart, cipherEnd);
  if (!authenticated) {
    // GCM without a tag is plain AES-CTR starting at counter 2 (counter 1 is reserved for the tag).
    const counter = Buffer.concat([iv, Buffer.from([0, 0, 0, 2])]);
    const decipher = createDecipheriv('aes-128-ctr', key, counter);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  }
  const tag = frame.subarray(cipherEnd, end);
  const candidates: Array<Buffer | null> = [];
  const authKey = options.authenticationKey ? keyBytes(options.authenticationKey, 'authentication key') : Buffer.from(DEFAULT_SMARTY_AUTHENTICATION_KEY, 'hex');
  candidates.push(Buffer.concat([Buffer.from([security]), authKey]), null);
  for (const aad of candidates) {
    try {
      const decipher = createDecipheriv('aes-128-gcm', key, iv, { authTagLength: TAG_LENGTH });
      if (aad !== null) decipher.setAAD(aad);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      // wrong additional data or key: try the next form
    }
  }
  throw new DsmrError(
    'DECRYPTION_FAILED',
    'The encrypted frame could not be decrypted: the decryption key (or authentication key) does not match this meter, or the frame was damaged. Check the keys.',
    frame,
  );
}
