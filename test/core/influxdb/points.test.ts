import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTelegram } from '../../../src/core/dsmr';
import { readingsToPoints, telegramPoint } from '../../../src/core/influxdb';
import { telegramToReadings } from '../../../src/core/p1-readings';
import { DSMR22, DSMR5 } from '../../../testing/dsmr-telegrams';

describe('InfluxDB points', () => {
  it('one point per telegram at its own time, tagged with meter id and source, a field per reading', () => {
    const telegram = parseTelegram(DSMR5);
    const [fields, tags] = telegramPoint(telegram);
    assert.deepEqual(tags, { meterId: 'NL0001234567890', source: 'dsmr-p1' });
    assert.equal((fields.time as Date).toISOString(), '2024-03-15T09:15:30.000Z');
    const readings = telegramToReadings(telegram);
    assert.deepEqual(Object.keys(fields).filter((k) => k !== 'time').sort(), readings.map((r) => r.metric).sort());
    for (const reading of readings) assert.equal(fields[reading.metric], reading.value, reading.metric);
    assert.equal(fields.gas_delivered, 2871.352);
    assert.ok(Object.values(fields).every((v) => typeof v === 'number' || v instanceof Date));
  });

  it('a telegram without a time is placed at its receive time', () => {
    const [fields] = telegramPoint(parseTelegram(DSMR22), { receivedAt: Date.parse('2024-02-02T13:00:07Z') });
    assert.equal((fields.time as Date).toISOString(), '2024-02-02T13:00:07.000Z');
    assert.equal(fields.electricity_delivered_tariff1, 812.33);
  });

  it('readings of any source: one point per meter, granularity and start; null left out; bad readings reported', () => {
    const base = { source: 'metry', meterId: 'm1', unit: 'kWh', granularity: 'hour' };
    const { points, rejected } = readingsToPoints([
      { ...base, metric: 'energy', start: '2024-01-01T00:00:00+01:00', value: 1.5 },
      { ...base, metric: 'estimated_energy', start: '2023-12-31T23:00:00Z', value: 1.4 },
      { ...base, metric: 'energy', start: '2024-01-01T01:00:00+01:00', value: null },
      { ...base, metric: 'energy', start: '2024-01-01T02:00:00+01:00', value: 2, mappedId: 'BLD-7' },
      { ...base, metric: 'time', start: '2024-01-01T02:00:00+01:00', value: 2 },
      { ...base, metric: 'energy', start: 'yesterday', value: 3 },
    ]);
    assert.deepEqual(points, [
      [{ time: new Date('2023-12-31T23:00:00Z'), energy: 1.5, estimated_energy: 1.4 }, { meterId: 'm1', source: 'metry', granularity: 'hour' }],
      [{ time: new Date('2024-01-01T01:00:00Z'), energy: 2 }, { meterId: 'm1', source: 'metry', mappedId: 'BLD-7', granularity: 'hour' }],
    ]);
    assert.deepEqual(rejected.map((r) => r.reason), ['a metric named "time" would be read as the time stamp by influxdb out', 'start is not an ISO-8601 instant with offset']);
  });
});
