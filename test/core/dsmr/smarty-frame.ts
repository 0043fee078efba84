/**
 * Luxembourg Smarty frames built in the documented layout (../shared/docs/service-contracts.md
 * §5.8): 0xDB | title length | system title | BER length | security byte | invocation counter |
 * body. The body depends on the security byte: 0x30 AES-128-GCM ciphertext and 12-byte tag (what
 * meters send); 0x20 AES-CTR ciphertext without a tag (GCM's keystream: counter 2 onwards);
 * 0x10 the telegram in plain text followed by a tag, here a made-up one, as anyone without the
 * key would have to.
 */
import { createCipheriv } from 'node:crypto';
import { DEFAULT_SMARTY_AUTHENTICATION_KEY } from '../../../src/core/dsmr';

export const KEY = '000102030405060708090A0B0C0D0E0F';
const SYSTEM_TITLE = Buffer.from('SAG12345');
const COUNTER = Buffer.from([0x00, 0x00, 0x01, 0x2c]);

export interface FrameOptions {
  security?: 0x10 | 0x20 | 0x30;
  /** GCM additional data; default 0x30 ‖ the standard Smarty authentication key; null for none. */
  aad?: Buffer | null;
  lengthForm?: 'short' | '81' | '82';
}

function body(plain: Buffer, security: number, aad: Buffer | null | undefined): Buffer {
  const iv = Buffer.concat([SYSTEM_TITLE, COUNTER]);
  if (security === 0x10) return Buffer.concat([plain, Buffer.alloc(12, 0x5a)]);
  if (security === 0x20) {
    const cipher = createCipheriv('aes-128-ctr', Buffer.from(KEY, 'hex'), Buffer.concat([iv, Buffer.from([0, 0, 0, 2])]));
    return Buffer.concat([cipher.update(plain), cipher.final()]);
  }
  const cipher = createCipheriv('aes-128-gcm', Buffer.from(KEY, 'hex'), iv, { authTagLength: 12 });
  const additional = aad === undefined ? Buffer.concat([Buffer.from([security]), Buffer.from(DEFAULT_SMARTY_AUTHENTICATION_KEY, 'hex')]) : aad;
  if (additional) cipher.setAAD(additional);
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

/** A frame around `payload` (security byte, counter, body) with the given length form. */
export function wrap(payload: Uint8Array, form: FrameOptions['lengthForm'] = '82', title: Uint8Array = SYSTEM_TITLE): Buffer {
  const length =
    form === 'short' ? Buffer.from([payload.length]) : form === '81' ? Buffer.from([0x81, payload.length]) : Buffer.from([0x82, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([Buffer.from([0xdb, title.length]), title, length, payload]);
}

export function smartyFrame(plain: Buffer, options: FrameOptions = {}): Buffer {
  const security = options.security ?? 0x30;
  return wrap(Buffer.concat([Buffer.from([security]), COUNTER, body(plain, security, options.aad)]), options.lengthForm);
}

/** Where a frame's security byte is (after 0xDB, the title and the BER length). */
export function securityOffset(frame: Buffer): number {
  const lengthAt = 2 + frame[1];
  const first = frame[lengthAt];
  return lengthAt + (first === 0x81 ? 2 : first === 0x82 ? 3 : 1);
}
