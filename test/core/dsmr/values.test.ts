/**
 * Parsed values against the telegram text, for a spread of meters: DSMR 2.2, 3, 4.2, 5 (NL),
 * Belgian e-MUCS 1.7 and 2.1, Luxembourg plain and encrypted, heat, 4-channel M-Bus, Hungarian,
 * Irish, EasyMeter (DE) and Swedish Kamstrup. Expected numbers are copied from the telegram
 * lines quoted in each test; a generic check then compares every numeric line of every
 * parseable fixture with its `objects` entry.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseTelegram, type ParsedTelegram } from '../../../src/core/dsmr';
import { repoRoot } from '../../../testing/paths';
import { expectationOf, fixture, fixtures, readFixture } from './fixture-index';

function parse(file: string, crc: 'strict' | 'off' = 'strict'): ParsedTelegram {
  return parseTelegram(readFixture(file), { crc });
}

describe('DSMR values: meter readings, power, gas and phases as written in the telegram', () => {
  it('DSMR 2.2 Iskra: readings, power and the two-line legacy gas object (no CRC)', () => {
    const t = parse('ndokter_v2.2-iskra-mt382.txt');
    assert.equal(t.header, 'ISk5\\2MT382-1004');
    assert.equal(t.manufacturer, 'ISk');
    assert.equal(t.variant, 'NL');
    assert.equal(t.version, undefined);
    assert.deepEqual(t.crc, { expected: null, computed: '99E3', valid: null });
    // 1-0:1.8.1(00001.001*kWh) ... 1-0:1.7.0(0001.01*kW) 0-0:96.14.0(0001)
    assert.equal(t.electricity.deliveredTariff1, 1.001);
    assert.equal(t.electricity.deliveredTariff2, 1.001);
    assert.equal(t.electricity.returnedTariff1, 1.001);
    assert.equal(t.electricity.returnedTariff2, 1.001);
    assert.equal(t.electricity.currentDelivered, 1.01);
    assert.equal(t.electricity.currentReturned, 0);
    assert.equal(t.electricity.tariffIndicator, 1);
    // 0-1:24.3.0(161107190000)(00)(60)(1)(0-1:24.2.1)(m3) / (00001.001): no S/W flag, November = CET
    assert.deepEqual(t.gas, {
      channel: 1,
      deviceType: 3,
      kind: 'gas',
      equipmentId: '000000000000',
      timestamp: '2016-11-07T19:00:00+01:00',
      value: 1.001,
      unit: 'm3',
      valvePosition: 1,
    });
    assert.deepEqual(t.objects['0-1:24.3.0'], { value: 1.001, unit: 'm3', timestamp: '2016-11-07T19:00:00+01:00' });
    assert.deepEqual(t.objects['0-0:17.0.0'], { value: 999, unit: 'kW' });
  });

  it('DSMR 3 Iskra: hex text messages decoded, equipment ids decoded, load limit in A', () => {
    const t = parse('ndokter_v3-iskra-mt382.txt');
    assert.equal(t.textMessage, '0123456789:;<=>?'.repeat(5));
    assert.equal(t.objects['0-0:96.13.1'].value, '012345678');
    assert.equal(t.objects['0-0:96.13.1'].raw, '303132333435363738');
    assert.equal(t.electricity.equipmentId, 'K8EG004046395507');
    assert.deepEqual(t.objects['0-0:17.0.0'], { value: 16, unit: 'A' });
    assert.equal(t.electricity.deliveredTariff1, 12345.678);
    assert.equal(t.electricity.currentDelivered, 1.19);
    assert.equal(t.electricity.tariffIndicator, 2);
    assert.equal(t.gas?.equipmentId, '2222ABCD123456789');
    assert.equal(t.gas?.deviceType, 3); // written "03"
    assert.equal(t.gas?.timestamp, '2009-02-12T16:00:00+01:00');
  });

  it('DSMR 4.2 Kaifa: power-failure log, counters and per-phase current and power', () => {
    const t = parse('ndokter_v4.2-kaifa-power-failure-log.txt');
    assert.equal(t.version, '42');
    assert.equal(t.timestamp, '2016-11-13T20:57:57+01:00');
    assert.equal(t.electricity.deliveredTariff1, 1581.123);
    assert.equal(t.electricity.deliveredTariff2, 1435.706);
    assert.equal(t.electricity.currentDelivered, 2.027);
    assert.equal(t.electricity.powerFailures, 15);
    assert.equal(t.electricity.longPowerFailures, 7);
    // (000104180320W)(0000237126*s)(000101000001W)(2147583646*s)(000102000003W)(2317482647*s):
    // every entry is kept in the meter's order; the 2000-01-01 time and the durations of 68
    // years and more are placeholders, flagged by the same rule for every entry.
    assert.deepEqual(t.electricity.powerFailureLog, [
      { end: '2000-01-04T18:03:20+01:00', durationSeconds: 237126 },
      { end: '000101000001W', durationSeconds: 2147583646, placeholder: true },
      { end: '2000-01-02T00:00:03+01:00', durationSeconds: 2317482647, placeholder: true },
    ]);
    assert.deepEqual(t.electricity.phases, {
      l1: { current: 0, powerDelivered: 0.17, powerReturned: 0 },
      l2: { current: 6, powerDelivered: 1.247, powerReturned: 0 },
      l3: { current: 2, powerDelivered: 0.209, powerReturned: 0 },
    });
    assert.deepEqual(t.electricity.voltageSags, { l1: 0, l2: 0, l3: 0 });
    assert.equal(t.gas?.value, 981.443);
    assert.equal(t.gas?.timestamp, '2016-11-29T20:00:00+01:00');
  });

  it('DSMR 5 Iskra: voltages, decimal currents, empty failure log, dead second gas channel', () => {
    const t = parse('ndokter_v5-iskra-mt382.txt');
    assert.equal(t.version, '50');
    assert.equal(t.variant, 'NL');
    assert.deepEqual(t.electricity.phases.l1, { voltage: 230, current: 0.48, powerDelivered: 0.07, powerReturned: 0 });
    assert.deepEqual(t.electricity.phases.l2, { voltage: 230, current: 0.44, powerDelivered: 0.032, powerReturned: 0 });
    assert.deepEqual(t.electricity.phases.l3, { voltage: 229, current: 0.86, powerDelivered: 0.142, powerReturned: 0 });
    assert.deepEqual(t.electricity.powerFailureLog, []);
    assert.deepEqual(t.objects['1-0:32.7.0'], { value: 230, unit: 'V' });
    assert.equal(t.mbus.length, 1, '0-2:24.1.0(003) with 0-2:96.1.0() and no reading is dead');
    assert.deepEqual(t.gas, {
      channel: 1,
      deviceType: 3,
      kind: 'gas',
      equipmentId: '2222ABCD123456789',
      timestamp: '2017-01-02T16:10:05+01:00',
      value: 0.107,
      unit: 'm3',
    });
  });

  it('DSMR 5 AM550: gas found by device type on channel 2 behind a dead channel 1', () => {
    const t = parse('ndokter_v5-iskra-am550-two-mbus.txt');
    assert.deepEqual(t.mbus.map((d) => d.channel), [2]);
    assert.equal(t.gas?.channel, 2);
    assert.equal(t.gas?.value, 246.138);
    assert.equal(t.gas?.equipmentId, 'G0039001936990619');
    assert.equal(t.gas?.timestamp, '2020-04-26T22:30:01+02:00');
    assert.deepEqual(t.electricity.voltageSags, { l1: 1, l2: 1, l3: 192 });
    assert.deepEqual(t.electricity.voltageSwells, { l1: 1, l2: 1, l3: 1 });
    assert.deepEqual(t.electricity.powerFailureLog, [{ end: '2019-03-26T09:50:15+01:00', durationSeconds: 2014 }]);
  });

  it('heat meter (NWA Warmtelink): device type 4 in GJ, three-digit CRC', () => {
    const t = parse('ndokter_v5-nwa-warmtelink-heat-unpadded-crc.txt');
    assert.deepEqual(t.crc, { expected: '0B9F', computed: '0B9F', valid: true });
    assert.equal(t.gas, undefined);
    assert.deepEqual(t.mbus, [
      { channel: 1, deviceType: 4, kind: 'heat', equipmentId: '621848012D2C0B0C', timestamp: '2026-02-15T20:05:23+01:00', value: 240.86, unit: 'GJ' },
    ]);
    assert.equal(t.electricity.equipmentId, 'ADC3100000158491', 'not hex text: kept as written');
  });

  it('Belgian e-MUCS 1.7.1: tariffs as written, capacity tariff, uncorrected gas and water', () => {
    const t = parse('ndokter_be-emucs-1.7.1-fluvius-peak-gas-water.txt');
    assert.equal(t.variant, 'BE');
    assert.equal(t.version, '50217');
    assert.equal(t.timestamp, '2020-05-12T13:54:09+02:00');
    // In Belgium 1.8.1 is the day tariff and 1.8.2 the night tariff (the Dutch meaning is the reverse).
    assert.equal(t.electricity.deliveredTariff1, 0.034);
    assert.equal(t.electricity.deliveredTariff2, 15.758);
    assert.equal(t.electricity.returnedTariff2, 0.011);
    assert.deepEqual(t.capacity?.currentAverageDemand, { value: 2.351, unit: 'kW' });
    assert.deepEqual(t.capacity?.monthPeak, { value: 2.589, unit: 'kW', timestamp: '2020-05-09T13:45:58+02:00' });
    assert.deepEqual(t.capacity?.peakHistory, [
      { value: 3.695, unit: 'kW', timestamp: '2020-04-23T19:25:38+02:00', month: '2020-04', periodTimestamp: '2020-05-01T00:00:00+02:00' },
      { value: 5.98, unit: 'kW', timestamp: '2020-03-05T12:21:39+02:00', month: '2020-03', periodTimestamp: '2020-04-01T00:00:00+02:00' },
      { value: 4.318, unit: 'kW', timestamp: '2020-02-10T03:54:21+01:00', month: '2020-02', periodTimestamp: '2020-03-01T00:00:00+02:00' },
    ]);
    assert.deepEqual(t.objects['0-0:98.1.0'].values?.map((v) => v.value), [3.695, 5.98, 4.318]);
    assert.deepEqual(t.mbus, [
      { channel: 1, deviceType: 3, kind: 'gas', equipmentId: '7FLO2119033733', timestamp: '2020-05-12T13:45:58+02:00', value: 112.384, unit: 'm3', valvePosition: 1 },
      { channel: 2, deviceType: 7, kind: 'water', equipmentId: '8SAG1234567890', timestamp: '2020-05-12T13:45:58+02:00', value: 872.234, unit: 'm3' },
    ]);
    assert.deepEqual(t.electricity.phases.l1, { powerDelivered: 0, powerReturned: 0, voltage: 234.7, current: 0 });
    assert.deepEqual(t.objects['1-0:31.4.0'], { value: 999, unit: 'A' });
  });

  it('Belgian e-MUCS 1.7.1 (alt): a peak-history row with a placeholder time keeps its value', () => {
    const t = parse('ndokter_be-emucs-1.7.1-fluvius-alt.txt');
    assert.deepEqual(t.capacity?.monthPeak, { value: 3.064, unit: 'kW', timestamp: '2023-11-02T11:45:00+01:00' });
    assert.equal(t.capacity?.peakHistory?.length, 4);
    assert.deepEqual(t.capacity?.peakHistory?.[0], { value: 0, unit: 'kW', periodTimestamp: '2023-08-01T00:00:00+02:00' });
    assert.equal(t.capacity?.peakHistory?.[3].value, 4.927);
    assert.equal(t.electricity.phases.l2.current, 0.88);
    assert.equal(t.gas?.value, 92.287);
  });

  it('Belgian e-MUCS 2.1.1 spec example (CRC off): version, gas and water on 24.2.3', () => {
    const t = parse('athombv_emucs-p1-v2.1.1-spec-example-1.txt', 'off');
    assert.equal(t.variant, 'BE');
    assert.equal(t.version, '50221');
    assert.deepEqual(t.mbus.map((d) => [d.channel, d.kind, d.value]), [
      [1, 'gas', 112.384],
      [2, 'water', 872.234],
    ]);
    assert.deepEqual(t.objects['1-0:94.32.1'], { value: 400 }, 'unknown OBIS lines are kept');
  });

  it('Luxembourg Smarty (Sagemcom T210-D-R): Wh and W converted to kWh and kW, totals', () => {
    const t = parse('ndokter_lu-sagemcom-t210dr-plain.txt');
    assert.equal(t.variant, 'LU');
    assert.equal(t.version, '50');
    assert.deepEqual(t.objects['1-0:1.8.0'], { value: 6545766, unit: 'Wh' });
    assert.equal(t.electricity.deliveredTotal, 6545.766);
    assert.equal(t.electricity.deliveredTariff1, 5017.12);
    assert.equal(t.electricity.deliveredTariff2, 1528.646);
    assert.equal(t.electricity.returnedTotal, 0.058);
    assert.equal(t.electricity.returnedTariff2, 0.058);
    assert.equal(t.electricity.currentDelivered, 0.286);
    assert.equal(t.electricity.currentReturned, 0);
    assert.deepEqual(t.objects['1-0:4.7.0'], { value: 166, unit: 'var' });
  });

  it('Luxembourg Smarty encrypted frame: decrypts to exactly the plain telegram', () => {
    const f = fixture('esphome_lu-smarty-encrypted-sagemcom-t210dr.bin');
    const encrypted = parseTelegram(readFixture(f.file), { decryptionKey: f.encryption?.key, authenticationKey: f.encryption?.authentication_key ?? undefined });
    const plain = parse('ndokter_lu-sagemcom-t210dr-plain.txt');
    assert.equal(encrypted.decrypted, true);
    const { decrypted: _decrypted, ...rest } = encrypted;
    assert.deepEqual(rest, plain);
  });

  it('Luxembourg spec example (CRC off): live gas on channels 1 and 4, placeholder channels 2 and 3 dropped', () => {
    const t = parse('athombv_dsmr-luxembourgh-spec-example.txt', 'off');
    assert.equal(t.variant, 'LU');
    assert.equal(t.version, '42');
    assert.deepEqual(t.mbus.map((d) => [d.channel, d.kind, d.value, d.timestamp]), [
      [1, 'gas', 0.006, '2020-07-06T10:31:40+02:00'],
      [4, 'gas', 28.103, '2020-07-06T10:29:00+02:00'],
    ]);
    assert.deepEqual(t.objects['1-1:31.4.0'].value, [100, -63]);
    assert.deepEqual(t.objects['0-2:24.2.1'], { value: 0 }, '632525252525S is no time');
    assert.equal(t.electricity.equipmentId, 'SAG1030790002574');
    assert.equal(t.electricity.deliveredTotal, 25.653);
    assert.equal(t.electricity.phases.l1.voltage, 233);
  });

  it('four M-Bus channels: three gas meters and a water meter by device type', () => {
    const t = parse('mijnverbruik_max-mbus-4-channels.txt');
    assert.deepEqual(t.mbus.map((d) => [d.channel, d.deviceType, d.kind, d.value]), [
      [1, 3, 'gas', 111.111],
      [2, 3, 'gas', 222.222],
      [3, 7, 'water', 333.333],
      [4, 3, 'gas', 444.444],
    ]);
    assert.equal(t.gas?.channel, 1);
    assert.equal(t.mbus[1].equipmentId, '2222222222222222', 'ids that do not decode to letters and digits stay as written');
  });

  it('gas channel with the placeholder time 632525252525 is not a device', () => {
    const t = parse('ndokter_v5-iskra-gas-invalid-timestamp.txt');
    assert.deepEqual(t.mbus, []);
    assert.equal(t.gas, undefined);
    assert.deepEqual(t.objects['0-1:24.2.1'], { value: 0 });
  });

  it('Hungarian E.ON: four tariffs, totals, frequency, and its own 98.1.0 layout kept generic', () => {
    const t = parse('ndokter_hu-eon-sagemcom.txt');
    assert.equal(t.variant, 'HU');
    assert.equal(t.electricity.deliveredTotal, 173.64);
    assert.deepEqual(
      [t.electricity.deliveredTariff1, t.electricity.deliveredTariff2, t.electricity.deliveredTariff3, t.electricity.deliveredTariff4],
      [47.719, 125.921, 0, 0],
    );
    assert.equal(t.electricity.returnedTotal, 627.177);
    assert.equal(t.electricity.returnedTariff1, 401.829);
    assert.equal(t.electricity.currentReturned, 2.601);
    assert.deepEqual(
      [t.electricity.phases.l1.voltage, t.electricity.phases.l2.voltage, t.electricity.phases.l3.voltage],
      [240.4, 239.1, 241.2],
    );
    assert.deepEqual([t.electricity.phases.l1.current, t.electricity.phases.l2.current, t.electricity.phases.l3.current], [3, 4, 3]);
    assert.deepEqual(t.objects['1-0:14.7.0'], { value: 50, unit: 'Hz' });
    assert.deepEqual(t.objects['1-0:13.7.0'], { value: 4.556 });
    const history = t.objects['0-0:98.1.0'];
    assert.ok(Array.isArray(history.value));
    assert.equal(history.value.length, 20);
    assert.equal(history.value[0], '2023-07-01T00:00:00+02:00');
    assert.deepEqual(history.values?.[19], { value: 3.4, unit: 'kW' });
    assert.equal(t.capacity?.peakHistory, undefined);
    assert.equal(t.electricity.equipmentId, '890082200002160');
  });

  it('Irish Iskra: per-phase delivered and returned power, empty M-Bus id ignored', () => {
    const t = parse('ndokter_ie-iskra-mie5t.txt');
    assert.equal(t.variant, 'IE');
    assert.deepEqual(t.electricity.phases.l1, { powerDelivered: 0.217, powerReturned: 0.227, voltage: 242.5, current: 0 });
    assert.deepEqual(t.electricity.phases.l3, { powerDelivered: 0.617, powerReturned: 0.627, voltage: 243.3, current: 0 });
    assert.equal(t.electricity.currentDelivered, 0.17);
    assert.equal(t.electricity.currentReturned, 0.27);
    assert.equal(t.electricity.returnedTariff2, 10.282);
    assert.equal(t.objects['1-0:0.0.0'].value, '00000000');
    assert.deepEqual(t.mbus, []);
  });

  it('EasyMeter Q3D behind a gateway: *255 keys as written, W converted, trailer after "!" ignored', () => {
    const t = parse('ndokter_de-easymeter-q3db1024-gateway-trailer.txt');
    assert.equal(t.variant, 'DE');
    assert.deepEqual(t.objects['1-0:1.8.0*255'], { value: 52185.7825309, unit: 'kWh' });
    assert.equal(t.electricity.deliveredTotal, 52185.7825309);
    assert.equal(t.electricity.returnedTotal, 19949.3221493);
    assert.equal(t.electricity.currentDelivered, 2.12486);
    assert.deepEqual(
      [t.electricity.phases.l1.powerDelivered, t.electricity.phases.l2.powerDelivered, t.electricity.phases.l3.powerDelivered],
      [0.74785, 0.73728, 0.63973],
    );
    assert.equal(t.electricity.equipmentId, '1ESY1313002565');
    assert.equal(t.crc.valid, null);
  });

  it('Swedish Kamstrup (CRC off): totals, reactive energy, decimal currents, invalid clock kept as written', () => {
    const t = parse('athombv_kamstrup-OMNIA-e-meter-three-phase.txt', 'off');
    assert.equal(t.variant, 'SE');
    assert.equal(t.electricity.deliveredTotal, 123.321);
    assert.equal(t.electricity.returnedTotal, 456.654);
    assert.equal(t.electricity.currentDelivered, 2.424);
    assert.deepEqual(t.objects['1-0:3.8.0'], { value: 1234.432, unit: 'kVArh' });
    assert.deepEqual(t.electricity.phases.l2, { powerDelivered: 0.75, powerReturned: 0, voltage: 229.4, current: 3.9 });
    assert.equal(t.timestamp, undefined);
    assert.equal(t.objects['0-0:1.0.0'].value, '250000000000W');
  });

  it('synthetic edge fields (DSMR 4 without CRC, so CRC off): unknown and odd lines kept, peak row in W, placeholder failure entry flagged', () => {
    const t = parse('esphome_v4-kaifa-edge-fields-no-crc.txt', 'off');
    assert.deepEqual(t.objects['1-0:16.24.0'], { value: -3.618, unit: 'kW' });
    assert.deepEqual(t.objects['1-0:1.8.11'], { value: 7132.419, unit: 'kWh' });
    assert.ok('1-0:0.2.0' in t.objects && '1-1:0.2.0' in t.objects && '1-1:0.2.8' in t.objects);
    assert.equal(t.objects['1-0:0.2.8'].value, '1.0.smth smth-123');
    assert.deepEqual(t.capacity?.peakHistory?.map((row) => [row.value, row.unit]), [
      [4.329, 'kW'],
      [4529, 'W'],
    ]);
    // 1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(2147483647*s): the meter's "no event" entry.
    assert.deepEqual(t.electricity.powerFailureLog, [{ end: '000101000001W', durationSeconds: 2147483647, placeholder: true }]);
    assert.equal(t.electricity.phases.l2.current, 2.4);
    assert.equal(t.gas?.value, 473.789);
  });

  it('every numeric line of every parseable fixture equals its objects entry', () => {
    const linePattern = /^(\d+-\d+:\d+\.\d+\.\d+(?:\*\d+)?)\(([-+]?\d+(?:\.\d+)?)(?:\*([^)]+))?\)\r?$/gm;
    const asText = /:(0\.2\.8|96\.1\.\d+|96\.13\.\d|42\.0\.0|0\.0\.0)(\*255)?$/;
    let checked = 0;
    for (const f of fixtures) {
      const expectation = expectationOf(f);
      if (f.kind !== 'telegram' || !['accept', 'reject-crc', 'crc-bad-in-source', 'reject-missing-crc', 'lf-only'].includes(expectation)) continue;
      const bytes = readFixture(f.file);
      const t = parseTelegram(bytes, { crc: 'off' });
      const text = bytes.toString('latin1');
      for (const match of text.matchAll(linePattern)) {
        const [, key, number, unit] = match;
        if (asText.test(key)) continue;
        const expected: Record<string, unknown> = { value: Number(number) };
        if (unit !== undefined) expected.unit = unit;
        assert.deepEqual(t.objects[key], expected, `${f.file} ${key}`);
        checked++;
      }
    }
    assert.ok(checked > 700, `checked ${checked} lines`);
  });
});

describe('DSMR parser: a parse is a pure function of its input', () => {
  it('gives identical results for repeated telegrams, a fresh result every time, and keeps line order', () => {
    const bytes = readFixture('ndokter_v5-iskra-am550-two-mbus.txt');
    const first = parseTelegram(bytes);
    const keysInOrder = [...bytes.toString('latin1').matchAll(/^([0-9]+-[0-9]+:[0-9.]+)\(/gm)].map((m) => m[1]);
    const again = parseTelegram(bytes);
    assert.deepEqual(again, first);
    assert.deepEqual(Object.keys(again.objects), keysInOrder);
    assert.notEqual(again.objects, first.objects, 'a fresh object every time');
    assert.notEqual(again.objects['1-0:1.8.1'], first.objects['1-0:1.8.1']);
    // Mutating one result does not leak into the next.
    first.objects['1-0:1.8.1'].value = -1;
    first.electricity.phases.l1.voltage = -1;
    assert.equal(parseTelegram(bytes).objects['1-0:1.8.1'].value, 2130.115);
    assert.equal(parseTelegram(bytes).electricity.phases.l1.voltage, 229.9);
  });

  it('reads what is written, whatever came before: swapped lines behind the same header', () => {
    const text = readFixture('ndokter_v5-iskra-mt382.txt').toString('latin1');
    parseTelegram(text);
    const swapped = text.replace('1-0:21.7.0(00.070*kW)\r\n1-0:41.7.0(00.032*kW)', '1-0:41.7.0(00.070*kW)\r\n1-0:21.7.0(00.032*kW)');
    assert.notEqual(swapped, text);
    const t = parseTelegram(swapped, { crc: 'off' });
    assert.equal(t.electricity.phases.l1.powerDelivered, 0.032);
    assert.equal(t.electricity.phases.l2.powerDelivered, 0.07);
    assert.deepEqual(Object.keys(t.objects).slice(26, 28), ['1-0:41.7.0', '1-0:21.7.0']);
  });

  it('has no code generation and no module-level mutable state in the DSMR core', () => {
    const dir = path.join(repoRoot, 'src', 'core', 'dsmr');
    for (const file of fs.readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
      const source = fs.readFileSync(path.join(dir, file), 'utf8');
      assert.doesNotMatch(source, /new Function|\beval\(/, file);
      assert.doesNotMatch(source, /^(export )?(let|var) /m, `${file}: a module-level variable`);
      assert.doesNotMatch(source, /^(export )?const \w+(: [^=]+)? = new (Map|Set|WeakMap|Array|Uint\d+Array)\b/m, `${file}: a module-level collection`);
    }
  });

  it('keeps a line that is not an OBIS reference ("__proto__") out of objects, so it cannot replace the prototype', () => {
    const t = parseTelegram('/ABC5 test\r\n\r\n__proto__(1)\r\n1-0:1.8.1(000001.000*kWh)\r\n!');
    assert.equal(Object.getPrototypeOf(t.objects), Object.prototype);
    assert.deepEqual(Object.keys(t.objects), ['1-0:1.8.1']);
    assert.deepEqual(t.unparsedLines, ['__proto__(1)']);
  });
});
