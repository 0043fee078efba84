/**
 * Luxembourg Smarty frames built with node:crypto in the documented layout, to cover the
 * forms the fixtures do not (smarty-frame.ts): each BER length form, a custom authentication key, no additional
 * data, frames without authenticated encryption, damaged and cut-off frames, bad keys.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTelegram, isDsmrError, decryptFrame } from '../../../src/core/dsmr';
import { readFixture } from './fixture-index';
import { KEY, smartyFrame as frame } from './smarty-frame';

const SYSTEM_TITLE = Buffer.from('SAG12345');

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

  it('refuses frames that are encrypted but not authenticated (0x20) or authenticated but not encrypted (0x10)', () => {
    for (const security of [0x20, 0x10] as const) {
      assert.throws(
        () => decryptFrame(frame(plain, { security }), { decryptionKey: KEY }),
        (e: unknown) => isDsmrError(e) && e.code === 'DECRYPTION_FAILED' && /not authenticated/.test(e.message),
        `security byte 0x${security.toString(16)}`,
      );
    }
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
