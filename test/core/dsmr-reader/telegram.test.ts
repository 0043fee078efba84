import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normaliseTelegram, neededDsmrVersion } from '../../../src/core/dsmr-reader/telegram';
import { DsmrReaderPost, preparePost } from '../../../src/core/dsmr-reader/prepare';
import { DsmrReaderFake, DsmrVersionSetting, referenceCrc16 } from '../../../testing/fakes/dsmr-reader';
import {
  BELGIAN,
  CONFUSING_TIMESTAMP,
  DSMR22,
  DSMR5,
  DSMR5_LINES,
  LONGER_REGISTER,
  NORDIC,
  WATER_ONLY,
  WH_UNITS,
  dsmr5With,
  hex4,
  numberedTelegram,
  withCrc,
  withoutCrc,
} from '../../../testing/dsmr-telegrams';

const SERVER_NOW = Date.UTC(2024, 2, 15, 12);
/** The fake's verdict, i.e. what DSMR-reader would do with the text at a `dsmr_version` setting (default v4/v5). */
const fake = new DsmrReaderFake({ authKey: 'k', now: () => SERVER_NOW });
const check = (telegram: string, version: DsmrVersionSetting = 4) => {
  fake.dsmrVersion = version;
  return fake.checkTelegram(telegram);
};
const verdict = (telegram: string, version: DsmrVersionSetting = 4) => check(telegram, version).result;
const stored = (telegram: string, version: DsmrVersionSetting = 4) => check(telegram, version).row!;
const v2Reading = (post: DsmrReaderPost) => {
  assert.equal(post.api, 'v2');
  return (post as unknown as { reading: Record<string, unknown> }).reading;
};

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
    // A meter (or a tool) that wrote LF only and computed its CRC over those bytes: the CRC
    // verifies, but DSMR-reader's line patterns end in CR LF, so it finds no values and fails storing.
    const lfBody = `${DSMR5_LINES.join('\n')}\n!`;
    const lfTelegram = `${lfBody}${hex4(referenceCrc16(lfBody))}\n`;
    assert.equal(verdict(lfTelegram), 'server-error', 'the real server cannot store LF line endings');
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

  it('posts a telegram without CRC (DSMR 2.2/3) as it is: no CRC is added, line ends are normalised', () => {
    const result = normaliseTelegram(DSMR22.replace(/\r\n/g, '\n'));
    assert.equal(result.crc, null);
    assert.equal(result.originalCrc, null);
    assert.equal(result.telegram, DSMR22);
    assert.match(result.telegram, /\r\n!\r\n$/);
  });

  it('lets DSMR-reader refuse a CRC-less telegram its dsmr_version cannot read, which an added CRC would hide', () => {
    // At the default setting (DSMR v4/v5) the CRC-less telegram is refused: the error names the setting.
    assert.equal(verdict(DSMR22, 4), 'parse-error');
    assert.match(neededDsmrVersion(DSMR22), /DSMR v2\/3/);
    // With a CRC written onto it, the same setting stores it without gas and without any error.
    const withAddedCrc = withCrc(DSMR22.replace(/\r\n!\r\n$/, '').split('\r\n'));
    assert.equal(verdict(withAddedCrc, 4), 'stored');
    assert.equal(stored(withAddedCrc, 4).fields.extra_device_delivered, null, 'the gas reading is lost');
    // At the setting the meter needs, the telegram as it is is stored with its gas.
    assert.equal(verdict(DSMR22, 3), 'stored');
    assert.equal(stored(DSMR22, 3).fields.extra_device_delivered, '1277.350');
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
    const telegrams = [DSMR5, BELGIAN];
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
      () => preparePost('v1', { telegram: NORDIC }),
      (error: Error & { code?: string }) =>
        error.code === 'NOT_STORABLE' && /1-0:1\.8\.1 \/ 1-0:1\.8\.2/.test(error.message) && /1-0:1\.8\.0/.test(error.message) && /v2 readings/.test(error.message),
    );
    assert.equal(v2Reading(preparePost('v1-v2', { telegram: NORDIC })).electricity_delivered_1, 6678.394);
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

describe('v1: what DSMR-reader would store wrongly goes to v2 or is refused', () => {
  const refusedInV1 = (telegram: string, reason: RegExp) =>
    assert.throws(() => preparePost('v1', { telegram }), (error: Error & { code?: string }) => error.code === 'NOT_STORABLE' && reason.test(error.message) && /v2/.test(error.message));

  it('Wh and W units: v1 stores the numbers 1000 times too large; v1-v2 sends kWh and kW', () => {
    assert.equal(stored(WH_UNITS).fields.electricity_delivered_1, '100000.000', 'DSMR-reader stores 100000 "kWh" for 100 kWh');
    refusedInV1(WH_UNITS, /1-0:1\.8\.1 is in Wh/);
    const reading = v2Reading(preparePost('v1-v2', { telegram: WH_UNITS }));
    assert.equal(reading.electricity_delivered_1, 100);
    assert.equal(reading.electricity_delivered_2, 200);
    assert.equal(reading.electricity_currently_delivered, 0.734);
  });

  it('a water meter on M-Bus channel 2: v1 stores it as gas; v1-v2 sends no gas', () => {
    assert.equal(stored(WATER_ONLY).fields.extra_device_delivered, '412.077', 'DSMR-reader takes the water meter for gas');
    refusedInV1(WATER_ONLY, /water meter on M-Bus channel 2/);
    assert.equal(v2Reading(preparePost('v1-v2', { telegram: WATER_ONLY })).extra_device_delivered, undefined);
    // Gas on channel 1 and water on channel 2 (the common case) is read right by v1.
    assert.equal(stored(DSMR5).fields.extra_device_delivered, '2871.352');
    assert.equal(preparePost('v1', { telegram: DSMR5 }).api, 'v1');
  });

  it('a line carrying 0-0:1.0.0 before the timestamp: v1 stores the server\'s receive time; v1-v2 the meter\'s', () => {
    assert.equal(stored(CONFUSING_TIMESTAMP).timestamp, SERVER_NOW, 'DSMR-reader stores its own clock');
    refusedInV1(CONFUSING_TIMESTAMP, /1-0:99\.1\.0\(7\)\(0-0:1\.0\.0\)\(AB\)/);
    assert.equal(v2Reading(preparePost('v1-v2', { telegram: CONFUSING_TIMESTAMP })).timestamp, '2024-03-15T10:15:30+01:00');
  });

  it('a longer register such as 1-0:1.8.13 before 1-0:1.8.1: v1 stores it as tariff 1', () => {
    assert.equal(stored(LONGER_REGISTER).fields.electricity_delivered_1, '25605.254');
    refusedInV1(LONGER_REGISTER, /1-0:1\.8\.13/);
    assert.equal(v2Reading(preparePost('v1-v2', { telegram: LONGER_REGISTER })).electricity_delivered_1, 4512.734);
  });

  it('a telegram with a timestamp but without CRC: no dsmr_version setting stores it right, so it goes to v2', () => {
    // Without a version line: with one (DSMR 4/5 always send a CRC), the parser calls the missing CRC damage.
    const lines = DSMR5_LINES.filter((line) => !line.startsWith('0-2:') && !line.startsWith('1-3:0.2.8'));
    assert.throws(() => preparePost('v1-v2', { telegram: withoutCrc(DSMR5_LINES) }), (error: Error & { code?: string }) => error.code === 'CRC_MISMATCH' && /not sent/.test(error.message));
    const noCrc = withoutCrc(lines);
    assert.equal(verdict(noCrc, 4), 'parse-error');
    assert.equal(stored(noCrc, 3).timestamp, SERVER_NOW, 'the v2/3 setting ignores the timestamp');
    refusedInV1(noCrc, /no CRC/);
    assert.equal(v2Reading(preparePost('v1-v2', { telegram: noCrc, receivedAt: '2024-03-15T10:15:31+01:00' })).timestamp, '2024-03-15T10:15:30+01:00');
  });

  it('a value with more digits than DSMR-reader\'s column: refused before sending instead of a server error page', () => {
    const huge = withCrc(dsmr5With({ '1-0:1.8.1(': '1-0:1.8.1(1234567.890*kWh)' }));
    assert.equal(verdict(huge), 'server-error');
    refusedInV1(huge, /more than 6 digits/);
    assert.throws(() => preparePost('v1-v2', { telegram: huge }), (error: Error & { code?: string }) => error.code === 'OUT_OF_RANGE' && /electricity_delivered_1/.test(error.message));
  });

  it('sends everything else in v1, where DSMR-reader truncates phase currents that v2 rounds', () => {
    const decimalsCurrent = withCrc(dsmr5With({ '1-0:31.7.0(': '1-0:31.7.0(000.86*A)' }));
    assert.equal(preparePost('v1-v2', { telegram: decimalsCurrent }).api, 'v1');
    assert.equal(stored(decimalsCurrent).fields.phase_power_current_l1, 0, 'DSMR-reader stores int(0.86)');
    assert.equal(v2Reading(preparePost('v2', { payload: decimalsCurrent })).phase_power_current_l1, 1);
    for (const telegram of [DSMR5, BELGIAN, DSMR22, numberedTelegram(7)]) assert.equal(preparePost('v1-v2', { telegram }).api, 'v1');
  });
});
