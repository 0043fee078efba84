import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc16arc, crc16arcString, formatCrc, parseTelegram, parseTimestamp, isDsmrError, DsmrError } from '../../../src/core/dsmr';
import { readFixture } from './fixture-index';

function ts(text: string): string | undefined {
  return parseTimestamp(text, 0, text.length);
}

describe('DSMR CRC-16/ARC', () => {
  it('gives the catalogue check value over "123456789"', () => {
    assert.equal(crc16arc(Buffer.from('123456789')), 0xbb3d);
    assert.equal(crc16arcString('123456789'), 0xbb3d);
    assert.equal(crc16arc(Buffer.from('xx123456789yy'), 2, 11), 0xbb3d);
  });

  it('formats four upper-case digits', () => {
    assert.equal(formatCrc(0xb9f), '0B9F');
    assert.equal(formatCrc(0x1e1d), '1E1D');
    assert.equal(formatCrc(0), '0000');
  });

  it('hashes raw bytes: a UTF-8 re-encoding of a latin-1 header fails the check', () => {
    // Python-escaped headers such as "/FLU5\\253..." become the byte 0xAB in some captures.
    const text = readFixture('ndokter_lu-sagemcom-t210dr-plain.txt').toString('latin1');
    const body = text.slice(0, text.indexOf('!') + 1).replace('\\253', '\u00ab');
    const bytes = Buffer.from(body + formatCrc(crc16arcString(body)) + '\r\n', 'latin1');
    assert.ok(bytes.includes(0xab), 'the header holds the byte 0xAB');
    const telegram = parseTelegram(bytes);
    assert.equal(telegram.crc.valid, true);
    assert.equal(telegram.header, 'EST5\u00ab710000_A');
    const reencoded = Buffer.from(bytes.toString('latin1'), 'utf8');
    assert.throws(() => parseTelegram(reencoded), (e: unknown) => isDsmrError(e) && e.code === 'CRC_MISMATCH');
  });

  it('rejects a telegram with one changed digit in strict mode, and reads it with CRC off', () => {
    const text = readFixture('ndokter_v5-iskra-mt382.txt').toString('latin1').replace('1-0:1.7.0(00.244*kW)', '1-0:1.7.0(00.245*kW)');
    assert.throws(() => parseTelegram(text), (e: unknown) => e instanceof DsmrError && e.code === 'CRC_MISMATCH' && /CRC/.test(e.message));
    assert.equal(parseTelegram(text, { crc: 'off' }).electricity.currentDelivered, 0.245);
  });

  it('compares lower-case and three-digit CRCs by value', () => {
    assert.equal(parseTelegram(readFixture('esphome_kaifa-short-lowercase-crc.txt')).crc.expected, '1E1D');
    assert.equal(parseTelegram(readFixture('ndokter_v5-nwa-warmtelink-heat-unpadded-crc.txt')).crc.valid, true);
  });

  it('says what to do and carries the bytes, without putting telegram content in the message', () => {
    try {
      parseTelegram(readFixture('ndokter_v5-iskra-badcrc-line-removed.txt'));
      assert.fail('should not parse');
    } catch (error) {
      assert.ok(isDsmrError(error));
      assert.equal(error.statusText, 'crc');
      assert.match(error.message, /serial settings/);
      assert.doesNotMatch(error.message, /4B38/);
      assert.ok(error.raw?.toString('latin1').startsWith('/ISk5'));
      assert.deepEqual(Object.keys(error.toJSON()).sort(), ['bytes', 'code', 'message', 'name']);
    }
  });
});

describe('DSMR timestamps', () => {
  it('honours the S/W flag as +02:00/+01:00', () => {
    assert.equal(ts('240315101530W'), '2024-03-15T10:15:30+01:00');
    assert.equal(ts('230701143005S'), '2023-07-01T14:30:05+02:00');
    assert.equal(ts('230701143005s'), '2023-07-01T14:30:05+02:00');
    // The repeated autumn hour is unambiguous with the flag.
    assert.equal(ts('241027023000S'), '2024-10-27T02:30:00+02:00');
    assert.equal(ts('241027023000W'), '2024-10-27T02:30:00+01:00');
  });

  it('applies the CET/CEST rule to times without a flag (DSMR 2.2/3 gas)', () => {
    assert.equal(ts('240115120000'), '2024-01-15T12:00:00+01:00');
    assert.equal(ts('240715120000'), '2024-07-15T12:00:00+02:00');
    // 2024: summer time from Sunday 31 March 02:00 to Sunday 27 October 03:00.
    assert.equal(ts('240331015959'), '2024-03-31T01:59:59+01:00');
    assert.equal(ts('240331030000'), '2024-03-31T03:00:00+02:00');
    assert.equal(ts('241027025959'), '2024-10-27T02:59:59+02:00');
    assert.equal(ts('241027030000'), '2024-10-27T03:00:00+01:00');
    assert.equal(ts('231029120000'), '2023-10-29T12:00:00+01:00');
    assert.equal(ts('231028120000'), '2023-10-28T12:00:00+02:00');
  });

  it('turns placeholders and impossible dates into no timestamp', () => {
    for (const text of ['632525252525S', '000000000000W', '250000000000W', '123412341234W', '230229120000W', '24031510153X', '2403151015301']) {
      assert.equal(ts(text), undefined, text);
    }
    assert.equal(ts('240229120000W'), '2024-02-29T12:00:00+01:00');
  });
});
