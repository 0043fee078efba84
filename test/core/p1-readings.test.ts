import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseTelegram } from '../../src/core/dsmr';
import { telegramToReadings, P1ReadingError } from '../../src/core/p1-readings';
import { validateReading, type Reading } from '../../src/core/readings';
import { BELGIAN, DSMR22, DSMR5, NORDIC } from '../../testing/dsmr-telegrams';
import { repoRoot } from '../../testing/paths';
import { expectationOf, fixtures, readFixture } from './dsmr/fixture-index';

const byMetric = (readings: Reading[]) => new Map(readings.map((r) => [r.metric, r]));

describe('P1 telegram → normalized readings', () => {
  it('DSMR 5: energy per tariff and direction, power, per-phase values, gas and water at their capture times', () => {
    const readings = telegramToReadings(parseTelegram(DSMR5));
    for (const reading of readings) assert.deepEqual(validateReading(reading), [], reading.metric);
    assert.ok(readings.every((r) => r.source === 'dsmr-p1' && r.meterId === 'NL0001234567890' && r.granularity === undefined));
    const m = byMetric(readings);
    const at = '2024-03-15T10:15:30+01:00';
    assert.deepEqual(
      ['electricity_delivered_tariff1', 'electricity_delivered_tariff2', 'electricity_returned_tariff1', 'electricity_returned_tariff2'].map((k) => [m.get(k)!.value, m.get(k)!.unit, m.get(k)!.start]),
      [[4512.734, 'kWh', at], [3987.12, 'kWh', at], [812.005, 'kWh', at], [1930.448, 'kWh', at]],
    );
    assert.deepEqual([m.get('power_delivered')!.value, m.get('power_delivered')!.unit, m.get('power_returned')!.value], [1.284, 'kW', 0]);
    assert.deepEqual(['voltage_l1', 'voltage_l2', 'voltage_l3'].map((k) => [m.get(k)!.value, m.get(k)!.unit]), [[231.4, 'V'], [229.8, 'V'], [232.1, 'V']]);
    assert.deepEqual(['current_l1', 'current_l2', 'current_l3'].map((k) => [m.get(k)!.value, m.get(k)!.unit]), [[3, 'A'], [1, 'A'], [2, 'A']]);
    assert.deepEqual(['power_delivered_l1', 'power_delivered_l2', 'power_delivered_l3', 'power_returned_l1'].map((k) => m.get(k)!.value), [0.655, 0.211, 0.418, 0]);
    // Channel 1 is gas (type 3), channel 2 water (type 7): each with the M-Bus capture time, not the telegram's.
    assert.deepEqual({ ...m.get('gas_delivered') }, { source: 'dsmr-p1', meterId: 'NL0001234567890', metric: 'gas_delivered', unit: 'm3', start: '2024-03-15T10:15:00+01:00', value: 2871.352, mbusChannel: 1, mbusEquipmentId: 'NLGAS0000000001' });
    assert.deepEqual([m.get('water_delivered')!.value, m.get('water_delivered')!.unit, m.get('water_delivered')!.start], [412.077, 'm3', '2024-03-15T10:10:00+01:00']);
    assert.equal(m.has('electricity_delivered_total'), false, 'no 1.8.0 in the telegram, so no total');
  });

  it('Belgium: uncorrected gas (24.2.3) and the single phase', () => {
    const m = byMetric(telegramToReadings(parseTelegram(BELGIAN)));
    assert.equal(m.get('gas_delivered')!.value, 4120.377);
    assert.equal(m.get('gas_delivered')!.start, '2024-01-10T07:25:00+01:00');
    assert.equal(m.get('voltage_l1')!.value, 233.2);
    assert.equal(m.has('voltage_l2'), false);
  });

  it('Nordic meters: totals instead of tariffs', () => {
    const m = byMetric(telegramToReadings(parseTelegram(NORDIC)));
    assert.equal(m.get('electricity_delivered_total')!.value, 6678.394);
    assert.equal(m.get('electricity_returned_total')!.value, 0);
    assert.equal(m.has('electricity_delivered_tariff1'), false);
  });

  it('DSMR 2.2 has no telegram time: the receive time stands in, in UTC; without one it is refused', () => {
    const telegram = parseTelegram(DSMR22);
    const readings = telegramToReadings(telegram, { receivedAt: Date.parse('2024-02-02T13:00:07Z') });
    const m = byMetric(readings);
    assert.equal(m.get('electricity_delivered_tariff1')!.start, '2024-02-02T13:00:07.000Z');
    assert.equal(m.get('gas_delivered')!.value, 1277.35);
    assert.throws(() => telegramToReadings(telegram), (e: unknown) => (e as P1ReadingError).code === 'NO_TIME');
  });

  it('a second M-Bus device of the same kind is named by its channel', () => {
    const file = path.join(repoRoot, 'test/fixtures/dsmr/mijnverbruik_max-mbus-4-channels.txt');
    const telegram = parseTelegram(fs.readFileSync(file));
    const kinds = telegram.mbus.map((d) => `${d.kind}:${d.channel}`);
    const metrics = telegramToReadings(telegram, { receivedAt: 0 }).filter((r) => r.mbusChannel !== undefined).map((r) => `${r.metric}:${r.mbusChannel}`);
    const seen = new Set<string>();
    const expected = telegram.mbus.filter((d) => ['gas', 'water', 'heat', 'cooling'].includes(d.kind) && d.value !== undefined).map((d) => {
      const name = seen.has(d.kind) ? `${d.kind}_delivered_ch${d.channel}` : `${d.kind}_delivered`;
      seen.add(d.kind);
      return `${name}:${d.channel}`;
    });
    assert.ok(kinds.length >= 2, `the fixture has several M-Bus devices (${kinds.join(', ')})`);
    assert.deepEqual(metrics, expected);
    assert.equal(new Set(metrics.map((m) => m.split(':')[0])).size, metrics.length, 'metric names are unique');
  });

  it('refuses a telegram whose CRC failed (CRC check off) and anything that is not a telegram', () => {
    const damaged = DSMR5.replace('1-0:1.8.1(004512.734*kWh)', '1-0:1.8.1(004512.735*kWh)');
    assert.throws(() => telegramToReadings(parseTelegram(damaged, { crc: 'off' })), (e: unknown) => (e as P1ReadingError).code === 'CRC_MISMATCH');
    assert.throws(() => telegramToReadings({ power: 1 } as never), (e: unknown) => (e as P1ReadingError).code === 'NOT_A_TELEGRAM' && /dsmr-p1-in/.test((e as Error).message));
  });

  it('every accepted fixture telegram gives only valid readings with unique metrics', () => {
    let checked = 0;
    // The fixture index's own reading of each file, with the cases where this package is stricter.
    for (const f of fixtures.filter((x) => x.kind === 'telegram' && expectationOf(x) === 'accept')) {
      const readings = telegramToReadings(parseTelegram(readFixture(f.file)), { receivedAt: 0 });
      for (const reading of readings) assert.deepEqual(validateReading(reading), [], `${f.file} ${reading.metric}`);
      assert.equal(new Set(readings.map((r) => r.metric)).size, readings.length, f.file);
      assert.ok(readings.length > 0, f.file);
      checked += 1;
    }
    assert.ok(checked >= 20, `${checked} fixtures`);
  });
});
