import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTelegram } from '../../../src/core/dsmr';
import { checkDsmrReaderReading, roundDecimal, toDsmrReaderReading, validateDsmrReaderReading, V2_REQUIRED_FIELDS } from '../../../src/core/dsmr-reader/v2-reading';
import { preparePost } from '../../../src/core/dsmr-reader/prepare';
import { BELGIAN, DSMR22, DSMR5, DSMR5_LINES, NORDIC, withCrc } from '../../../testing/dsmr-telegrams';

const code = (expected: string) => (error: unknown) => (error as { code?: string }).code === expected;

describe('v2 reading mapping', () => {
  it('maps a DSMR 5 telegram: timestamp with offset, kW, kWh per tariff, phases, gas from the gas M-Bus device', () => {
    const reading = toDsmrReaderReading(parseTelegram(DSMR5));
    assert.deepEqual(reading, {
      timestamp: '2024-03-15T10:15:30+01:00',
      electricity_currently_delivered: 1.284,
      electricity_currently_returned: 0,
      electricity_delivered_1: 4512.734,
      electricity_delivered_2: 3987.12,
      electricity_returned_1: 812.005,
      electricity_returned_2: 1930.448,
      phase_currently_delivered_l1: 0.655,
      phase_currently_delivered_l2: 0.211,
      phase_currently_delivered_l3: 0.418,
      phase_currently_returned_l1: 0,
      phase_currently_returned_l2: 0,
      phase_currently_returned_l3: 0,
      phase_voltage_l1: 231.4,
      phase_voltage_l2: 229.8,
      phase_voltage_l3: 232.1,
      phase_power_current_l1: 3,
      phase_power_current_l2: 1,
      phase_power_current_l3: 2,
      // Channel 1 is gas (device type 3); channel 2 is water (7) and must not be taken for gas.
      extra_device_timestamp: '2024-03-15T10:15:00+01:00',
      extra_device_delivered: 2871.352,
    });
    assert.deepEqual(validateDsmrReaderReading(reading as unknown as Record<string, unknown>), []);
  });

  it('keeps the OBIS tariff order for Belgium: _1 is 1.8.1 (the Belgian DAY tariff), _2 is 1.8.2 (night)', () => {
    const reading = toDsmrReaderReading(parseTelegram(BELGIAN));
    assert.equal(reading.electricity_delivered_1, 2310.551);
    assert.equal(reading.electricity_delivered_2, 3021.007);
    assert.equal(reading.electricity_returned_1, 455.23);
    assert.equal(reading.electricity_returned_2, 120.984);
    // Belgian gas is the uncorrected 24.2.3 reading with its own capture time.
    assert.equal(reading.extra_device_delivered, 4120.377);
    assert.equal(reading.extra_device_timestamp, '2024-01-10T07:25:00+01:00');
    // A current with decimals (009.14 A) becomes whole amperes, as DSMR-reader stores them.
    assert.equal(reading.phase_power_current_l1, 9);
  });

  it('stores a Nordic meter\'s totals on tariff 1 so DSMR-reader can keep them', () => {
    const reading = toDsmrReaderReading(parseTelegram(NORDIC));
    assert.equal(reading.electricity_delivered_1, 6678.394);
    assert.equal(reading.electricity_delivered_2, 0);
    assert.equal(reading.electricity_returned_1, 0);
    assert.equal(reading.electricity_returned_2, 0);
    assert.equal(reading.electricity_currently_delivered, 1.727);
    assert.equal(reading.extra_device_delivered, undefined);
  });

  it('uses the receive time for a DSMR 2.2 telegram, which has no timestamp', () => {
    assert.throws(() => toDsmrReaderReading(parseTelegram(DSMR22)), (e: Error & { code?: string }) => e.code === 'NOT_STORABLE' && /timestamp/.test(e.message));
    const reading = toDsmrReaderReading(parseTelegram(DSMR22), { receivedAt: '2024-02-02T13:00:07+01:00' });
    assert.equal(reading.timestamp, '2024-02-02T13:00:07+01:00');
    assert.equal(reading.electricity_delivered_1, 812.33);
    assert.equal(reading.extra_device_delivered, 1277.35);
  });

  it('refuses a parsed telegram whose CRC failed, instead of storing corrupted values', () => {
    const parsed = parseTelegram(DSMR5.replace('!5644', '!0000'), { crc: 'off' });
    assert.equal(parsed.crc.valid, false);
    assert.throws(() => toDsmrReaderReading(parsed), code('CRC_MISMATCH'));
    assert.throws(() => preparePost('v2', { payload: DSMR5.replace('!5644', '!0000') }), code('CRC_MISMATCH'));
  });

  it('refuses values DSMR-reader\'s decimal fields cannot hold', () => {
    const parsed = parseTelegram(DSMR5);
    parsed.electricity.deliveredTariff1 = 1_234_567.5;
    assert.throws(() => toDsmrReaderReading(parsed), (e: Error & { code?: string }) => e.code === 'OUT_OF_RANGE' && /electricity_delivered_1/.test(e.message));
  });

  it('refuses a telegram without any delivered-energy register', () => {
    const parsed = parseTelegram(DSMR5);
    delete parsed.electricity.deliveredTariff1;
    delete parsed.electricity.deliveredTariff2;
    delete parsed.electricity.deliveredTotal;
    assert.throws(() => toDsmrReaderReading(parsed), (e: Error & { code?: string }) => e.code === 'NOT_STORABLE' && /1-0:1\.8/.test(e.message));
  });

  it('in v2 takes a parsed telegram, a raw telegram or a ready reading from msg.payload', () => {
    const fromParsed = preparePost('v2', { payload: parseTelegram(DSMR5), msgid: 'm1', topic: 'meter' });
    const fromRaw = preparePost('v2', { payload: DSMR5 });
    assert.equal(fromParsed.api, 'v2');
    assert.deepEqual((fromParsed as { reading: unknown }).reading, (fromRaw as { reading: unknown }).reading);
    assert.equal(fromParsed.msgid, 'm1');
    assert.equal(fromParsed.topic, 'meter');
    const ready = { timestamp: '2024-03-15T10:15:30+01', electricity_currently_delivered: 1.5, electricity_currently_returned: 0.025, electricity_delivered_1: 2000, electricity_delivered_2: 3000, electricity_returned_1: 0, electricity_returned_2: 0 };
    assert.deepEqual((preparePost('v2', { payload: ready }) as { reading: unknown }).reading, ready);
    assert.throws(() => preparePost('v2', { payload: { ...ready, electricity_delivered_2: 'lots', timestamp: 'yesterday' } }), (e: Error & { code?: string }) => e.code === 'NOT_STORABLE' && /electricity_delivered_2 must be a number/.test(e.message) && /timestamp must be/.test(e.message));
    assert.throws(() => preparePost('v2', { payload: 42 }), code('NO_TELEGRAM'));
  });

  it('lists every missing required field of a hand-made reading', () => {
    const problems = validateDsmrReaderReading({});
    assert.equal(problems.length, V2_REQUIRED_FIELDS.length);
    assert.deepEqual(validateDsmrReaderReading({ timestamp: '2024-01-01T00:00:00Z', electricity_currently_delivered: 0, electricity_currently_returned: 0, electricity_delivered_1: 0, electricity_delivered_2: 0, electricity_returned_1: 0, electricity_returned_2: 0, phase_power_current_l1: 'two' }), ['phase_power_current_l1 must be a number']);
  });
});

describe('v2 checks what DSMR-reader checks', () => {
  const NOW = Date.UTC(2024, 2, 15, 12);
  const ready = { timestamp: '2024-03-15T10:15:30+01:00', electricity_currently_delivered: 1.5, electricity_currently_returned: 0, electricity_delivered_1: 2000, electricity_delivered_2: 3000, electricity_returned_1: 0, electricity_returned_2: 0 };

  it('rounds values with more decimals than DSMR-reader\'s fields keep (9/3, volts 4/1, whole amperes), half away from zero', () => {
    const { reading, problems } = checkDsmrReaderReading({ ...ready, electricity_delivered_1: 318985.0004, phase_voltage_l1: 230.25, phase_power_current_l1: 2.5, electricity_currently_delivered: 1.0005 });
    assert.deepEqual(problems, []);
    assert.equal(reading.electricity_delivered_1, 318985);
    assert.equal(reading.phase_voltage_l1, 230.3);
    assert.equal(reading.phase_power_current_l1, 3);
    assert.equal(reading.electricity_currently_delivered, 1.001, 'decimal rounding, not binary: 1.0005 * 1000 is 1000.4999…');
    assert.equal(roundDecimal(4512.7345, 3), 4512.735);
    assert.equal(roundDecimal(0.0004, 3), 0);
  });

  it('refuses values with more whole digits than the fields hold, after rounding', () => {
    assert.deepEqual(validateDsmrReaderReading({ ...ready, electricity_delivered_1: 999999.9996 }), ['electricity_delivered_1 is 999999.9996, outside what DSMR-reader\'s field holds (0 to 999999.999 with 3 decimals)']);
    assert.match(validateDsmrReaderReading({ ...ready, phase_voltage_l2: 1000 })[0], /phase_voltage_l2 is 1000, outside .* \(0 to 999\.9 with 1 decimal\)/);
    assert.match(validateDsmrReaderReading({ ...ready, phase_power_current_l3: 999.6 })[0], /phase_power_current_l3 .*whole numbers/);
    const parsed = parseTelegram(DSMR5);
    parsed.electricity.phases.l1.voltage = 1234.5;
    assert.equal(toDsmrReaderReading(parsed).phase_voltage_l1, undefined, 'an optional value the field cannot hold is left out');
  });

  it('refuses readings more than 24 hours ahead, as DSMR-reader\'s v1 does, with the reason', () => {
    const threeDaysAhead = { ...ready, timestamp: '2024-03-18T13:00:00+01:00' };
    assert.match(validateDsmrReaderReading(threeDaysAhead, NOW)[0], /timestamp 2024-03-18T13:00:00\+01:00 is more than 24 hours ahead/);
    assert.deepEqual(validateDsmrReaderReading({ ...ready, timestamp: '2024-03-16T12:59:00+01:00' }, NOW), [], 'within 24 hours');
    assert.match(validateDsmrReaderReading({ ...ready, extra_device_timestamp: '2024-03-18T13:00:00+01' }, NOW)[0], /extra_device_timestamp .* more than 24 hours ahead/);
    assert.throws(() => preparePost('v2', { payload: threeDaysAhead, now: NOW }), (e: Error & { code?: string }) => e.code === 'NOT_STORABLE' && /24 hours ahead/.test(e.message));
    const future = withCrc(DSMR5_LINES.map((line) => (line.startsWith('0-0:1.0.0(') ? '0-0:1.0.0(240318101530W)' : line)));
    assert.throws(() => toDsmrReaderReading(parseTelegram(future), { now: NOW }), (e: Error & { code?: string }) => e.code === 'NOT_STORABLE' && /24 hours ahead/.test(e.message));
  });
});
