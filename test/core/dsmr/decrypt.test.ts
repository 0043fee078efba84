/**
 * Luxembourg Smarty frames built here with node:crypto in the documented layout, to cover the
 * forms the fixtures do not: each BER length form, a custom authentication key, no additional
 * data, encryption without authentication, damaged and cut-off frames, bad keys.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { parseTelegram, isDsmrError, decryptFrame, DEFAULT_SMARTY_AUTHENTICATION_KEY } from '../../../src/core/dsmr';
import { readFixture } from './fixture-index';

const KEY = '000102030405060708090A0B0C0D0E0F';
const SYSTEM_TITLE = Buffer.from('SAG12345');
const COUNTER = Buffer.from([0x00, 0x00, 0x01, 0x2c]);

function frame(plain: Buffer, options: { security?: number; aad?: Buffer | null; lengthForm?: 'short' | '81' | '82' } = {}): Buffer {
  const security = options.security ?? 0x30;
  const iv = Buffer.concat([SYSTEM_TITLE, COUNTER]);
  let body: Buffer;
  if (security & 0x10) {
    const cipher = createCipheriv('aes-128-gcm', Buffer.from(KEY, 'hex'), iv, { authTagLength: 12 });
    const aad = options.aad === undefined ? Buffer.concat([Buffer.from([security]), Buffer.from(DEFAULT_SMARTY_AUTHENTICATION_KEY, 'hex')]) : options.aad;
    if (aad) cipher.setAAD(aad);
    body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  } else {
    const cipher = createCipheriv('aes-128-ctr', Buffer.from(KEY, 'hex'), Buffer.concat([iv, Buffer.from([0, 0, 0, 2])]));
    body = Buffer.concat([cipher.update(plain), cipher.final()]);
  }
  const payload = Buffer.concat([Buffer.from([security]), COUNTER, body]);
  const form = options.lengthForm ?? '82';
  const length =
    form === 'short' ? Buffer.from([payload.length]) : form === '81' ? Buffer.from([0x81, payload.length]) : Buffer.from([0x82, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([Buffer.from([0xdb, SYSTEM_TITLE.length]), SYSTEM_TITLE, length, payload]);
}

function code(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(isDsmrError(error));
    return error.code;
  }
  return 'parsed';
}

const plain = readFixture('ndokter_lu-sagemcom-t210dr-plain.txt');
const short = readFixture('esphome_kaifa-short-lowercase-crc.txt');

describe('DSMR Luxembourg Smarty decryption', () => {
  it('decrypts with the default authentication key as additional data', () => {
    const telegram = parseTelegram(frame(plain), { decryptionKey: KEY });
    assert.equal(telegram.crc.valid, true);
    assert.equal(telegram.electricity.deliveredTotal, 6545.766);
    assert.equal(telegram.decrypted, true);
  });

  it('accepts the key as hex with spaces or as 16 bytes', () => {
    assert.equal(parseTelegram(frame(plain), { decryptionKey: KEY.replace(/(..)/g, '$1 ').toLowerCase() }).crc.valid, true);
    assert.equal(parseTelegram(frame(plain), { decryptionKey: Buffer.from(KEY, 'hex') }).crc.valid, true);
  });

  it('uses a custom authentication key, and falls back to no additional data', () => {
    const authenticationKey = 'FFEEDDCCBBAA99887766554433221100';
    const custom = frame(plain, { aad: Buffer.concat([Buffer.from([0x30]), Buffer.from(authenticationKey, 'hex')]) });
    assert.equal(parseTelegram(custom, { decryptionKey: KEY, authenticationKey }).crc.valid, true);
    assert.equal(code(() => parseTelegram(custom, { decryptionKey: KEY })), 'DECRYPTION_FAILED');
    const noAad = frame(plain, { aad: null });
    assert.equal(parseTelegram(noAad, { decryptionKey: KEY }).crc.valid, true);
    assert.equal(parseTelegram(noAad, { decryptionKey: KEY, authenticationKey }).crc.valid, true);
  });

  it('reads every BER length form', () => {
    assert.equal(short.length < 128, true);
    assert.equal(parseTelegram(frame(short, { lengthForm: 'short', aad: null }), { decryptionKey: KEY }).electricity.deliveredTariff1, 671.578);
    assert.equal(parseTelegram(frame(short, { lengthForm: '81' }), { decryptionKey: KEY }).electricity.currentDelivered, 0.318);
  });

  it('decrypts frames that are encrypted but not authenticated (security byte 0x20)', () => {
    assert.deepEqual(decryptFrame(frame(plain, { security: 0x20 }), { decryptionKey: KEY }), plain);
  });

  it('rejects a damaged tag, a wrong key and a missing key with DECRYPTION_FAILED and a clear sentence', () => {
    const damaged = frame(plain);
    damaged[damaged.length - 1] ^= 1;
    assert.equal(code(() => parseTelegram(damaged, { decryptionKey: KEY })), 'DECRYPTION_FAILED');
    assert.equal(code(() => parseTelegram(frame(plain), { decryptionKey: 'F'.repeat(32) })), 'DECRYPTION_FAILED');
    assert.throws(() => parseTelegram(frame(plain)), (e: unknown) => isDsmrError(e) && e.code === 'DECRYPTION_FAILED' && /decryption key/.test(e.message));
    assert.throws(
      () => parseTelegram(frame(plain), { decryptionKey: '1234' }),
      (e: unknown) => isDsmrError(e) && e.code === 'DECRYPTION_FAILED' && /32 hexadecimal characters/.test(e.message) && !e.message.includes('1234'),
    );
  });

  it('rejects a cut-off frame as INCOMPLETE and a garbled header as MALFORMED', () => {
    const whole = frame(plain);
    assert.equal(code(() => parseTelegram(whole.subarray(0, whole.length - 20), { decryptionKey: KEY })), 'INCOMPLETE');
    const garbled = Buffer.from(whole);
    garbled[2 + SYSTEM_TITLE.length] = 0x85;
    assert.equal(code(() => parseTelegram(garbled, { decryptionKey: KEY })), 'MALFORMED');
  });

  it('checks the CRC of the decrypted telegram', () => {
    const tampered = Buffer.from(plain.toString('latin1').replace('006545766', '006545767'), 'latin1');
    assert.equal(code(() => parseTelegram(frame(tampered), { decryptionKey: KEY })), 'CRC_MISMATCH');
    assert.equal(parseTelegram(frame(tampered), { decryptionKey: KEY, crc: 'off' }).electricity.deliveredTotal, 6545.767);
  });
});
