import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normaliseTelegram, checkStorableV1 } from '../../../src/core/dsmr-reader/telegram';
import { preparePost } from '../../../src/core/dsmr-reader/prepare';
import { DsmrReaderFake, referenceCrc16 } from '../../../testing/fakes/dsmr-reader';
import { BELGIAN, DSMR22, DSMR5, DSMR5_LINES, NORDIC, hex4, numberedTelegram, withCrc } from '../../../testing/dsmr-telegrams';

/** The fake's verdict, i.e. what DSMR-reader (CRC checking on) would do with the text. */
const fake = new DsmrReaderFake({ authKey: 'k', now: () => Date.UTC(2024, 2, 15, 12) });
const verdict = (telegram: string) => fake.checkTelegram(telegram).result;

const code = (expected: string) => (error: unknown) => (error as { code?: string }).code === expected;

describe('v1 telegram normalisation', () => {
  it('leaves a telegram DSMR-reader already accepts exactly as it is', () => {
    assert.equal(verdict(DSMR5), 'stored');
    const result = normaliseTelegram(DSMR5);
    assert.equal(result.telegram, DSMR5);
    assert.equal(result.crc, '5644', 'the CRC published for this example');
    assert.equal(result.rewritten, false);
  });

  it('accepts a Buffer as well as a string', () => {
    assert.equal(normaliseTelegram(Buffer.from(DSMR5, 'latin1')).telegram, DSMR5);
  });

  it('rewrites a lower-case CRC into upper case, which DSMR-reader requires', () => {
    const belgianLower = BELGIAN.replace(/!([0-9A-F]{4})\r\n$/, (_, crc: string) => `!${crc.toLowerCase()}\r\n`);
    assert.notEqual(belgianLower, BELGIAN);
    assert.equal(verdict(belgianLower), 'parse-error', 'the real server refuses a lower-case CRC');
    const result = normaliseTelegram(belgianLower);
    assert.equal(result.telegram, BELGIAN);
    assert.equal(verdict(result.telegram), 'stored');
  });

  it('rewrites bare LF line endings into CR LF and recomputes the CRC over the bytes DSMR-reader sees', () => {
    // A meter (or a tool) that wrote LF only and computed its CRC over those bytes.
    const lfBody = `${DSMR5_LINES.join('\n')}\n!`;
    const lfTelegram = `${lfBody}${hex4(referenceCrc16(lfBody))}\n`;
    assert.equal(verdict(lfTelegram), 'parse-error', 'the real server refuses LF line endings');
    const result = normaliseTelegram(lfTelegram);
    assert.equal(result.telegram, DSMR5);
    assert.equal(result.crc, '5644');
    assert.equal(result.originalCrc, hex4(referenceCrc16(lfBody)));
    assert.equal(verdict(result.telegram), 'stored');
  });

  it('accepts a telegram whose CRs were stripped in transit: its CRC matches the CR LF form', () => {
    const stripped = DSMR5.replace(/\r/g, '');
    assert.equal(normaliseTelegram(stripped).telegram, DSMR5);
  });

  it('pads a CRC written with fewer than four digits', () => {
    let telegram = '';
    for (let n = 0; !/!0[0-9A-F]{3}\r\n$/.test(telegram); n += 1) telegram = numberedTelegram(n);
    const fullCrc = /!([0-9A-F]{4})\r\n$/.exec(telegram)![1];
    const unpadded = telegram.replace(/!0+([0-9A-F]+)\r\n$/, '!$1\r\n');
    assert.notEqual(unpadded, telegram);
    assert.equal(verdict(unpadded), 'parse-error');
    const result = normaliseTelegram(unpadded);
    assert.equal(result.crc, fullCrc);
    assert.equal(result.telegram, telegram);
  });

  it('gives a telegram without CRC (DSMR 2.2/3) one, computed over its CR LF form', () => {
    assert.equal(verdict(DSMR22), 'parse-error');
    const result = normaliseTelegram(DSMR22);
    assert.equal(result.originalCrc, null);
    assert.match(result.telegram, /\r\n!([0-9A-F]{4})\r\n$/);
    assert.equal(verdict(result.telegram), 'stored');
  });

  it('strips NUL padding and surrounding whitespace, as DSMR-reader does', () => {
    assert.equal(normaliseTelegram(`\0\0 \r\n${DSMR5}\0\0`).telegram, DSMR5);
  });

  it('refuses a telegram whose CRC does not match, and never gives it a fresh one', () => {
    const damaged = DSMR5.replace('1-0:1.8.1(004512.734*kWh)', '1-0:1.8.1(004512.784*kWh)');
    assert.throws(() => normaliseTelegram(damaged), (error: Error & { code?: string }) => error.code === 'CRC_MISMATCH' && /damaged between the meter and Node-RED/.test(error.message) && /not sent/.test(error.message));
    // The same damage with LF endings is refused too.
    assert.throws(() => normaliseTelegram(damaged.replace(/\r\n/g, '\n')), code('CRC_MISMATCH'));
  });

  it('refuses any single changed character of a genuine telegram (property)', () => {
    const body = DSMR5.slice(0, DSMR5.lastIndexOf('!'));
    const positions = [...body].map((ch, i) => (ch === '\r' || ch === '\n' || i === 0 ? -1 : i)).filter((i) => i >= 0);
    fc.assert(
      fc.property(fc.constantFrom(...positions), fc.integer({ min: 0x20, max: 0x7e }), (position, replacement) => {
        fc.pre(DSMR5.charCodeAt(position) !== replacement && replacement !== 0x21 && replacement !== 0x2f);
        const damaged = DSMR5.slice(0, position) + String.fromCharCode(replacement) + DSMR5.slice(position + 1);
        assert.throws(() => normaliseTelegram(damaged), code('CRC_MISMATCH'));
      }),
      { numRuns: 300 },
    );
  });

  it('turns every line-ending and CRC-case variant of a genuine telegram into one DSMR-reader stores (property)', () => {
    const telegrams = [DSMR5, BELGIAN, normaliseTelegram(DSMR22).telegram];
    fc.assert(
      fc.property(fc.constantFrom(...telegrams), fc.constantFrom('\r\n', '\n'), fc.boolean(), fc.boolean(), (telegram, eol, lowerCrc, trailingEol) => {
        const lines = telegram.replace(/\r\n$/, '').split('\r\n');
        const body = `${lines.slice(0, -1).join(eol)}${eol}!`;
        const crc = hex4(referenceCrc16(body));
        const variant = `${body}${lowerCrc ? crc.toLowerCase() : crc}${trailingEol ? eol : ''}`;
        const result = normaliseTelegram(variant);
        assert.equal(result.telegram, telegram);
        assert.equal(verdict(result.telegram), 'stored');
      }),
      { numRuns: 100 },
    );
  });

  it('refuses text that is not one complete telegram, saying what is wrong', () => {
    assert.throws(() => normaliseTelegram(''), code('NO_TELEGRAM'));
    assert.throws(() => normaliseTelegram('1-0:1.8.1(000001.000*kWh)\r\n!ABCD\r\n'), (e: Error & { code?: string }) => e.code === 'MALFORMED' && /does not start with "\/"/.test(e.message));
    assert.throws(() => normaliseTelegram(DSMR5.slice(0, 200)), (e: Error & { code?: string }) => e.code === 'MALFORMED' && /cut off/.test(e.message));
    assert.throws(() => normaliseTelegram(DSMR5 + DSMR5), (e: Error & { code?: string }) => e.code === 'MALFORMED' && /more than one telegram/.test(e.message));
    assert.throws(() => normaliseTelegram(DSMR5.replace('XMX5', 'XMX\u00e95')), code('NOT_ASCII'));
  });

  it('refuses a telegram without 1-0:1.8.1/1.8.2 (Nordic) before sending, and points to v2', () => {
    assert.equal(verdict(NORDIC), 'server-error', 'the real server answers these with an error page');
    assert.throws(
      () => checkStorableV1(normaliseTelegram(NORDIC)),
      (error: Error & { code?: string }) =>
        error.code === 'NOT_STORABLE' && /1-0:1\.8\.1 \/ 1-0:1\.8\.2/.test(error.message) && /1-0:1\.8\.0/.test(error.message) && /v2 readings/.test(error.message),
    );
    assert.throws(() => preparePost('v1', { telegram: NORDIC }), code('NOT_STORABLE'));
    assert.equal(checkStorableV1(normaliseTelegram(BELGIAN)).objects['1-0:1.8.1'].value, 2310.551);
  });

  it('takes the v1 telegram from msg.telegram, else from a string msg.payload', () => {
    assert.equal((preparePost('v1', { telegram: DSMR5, payload: { parsed: true } }) as { telegram: string }).telegram, DSMR5);
    assert.equal((preparePost('v1', { payload: DSMR5.replace(/\r/g, '') }) as { telegram: string }).telegram, DSMR5);
    assert.throws(() => preparePost('v1', { payload: { objects: {}, electricity: {} } }), (e: Error & { code?: string }) => e.code === 'NO_TELEGRAM' && /msg\.telegram/.test(e.message));
  });

  it('builds test telegrams whose CRC matches the one published for the example', () => {
    assert.match(withCrc(DSMR5_LINES), /!5644\r\n$/);
    assert.match(BELGIAN, /!5E0D\r\n$/);
  });
});
