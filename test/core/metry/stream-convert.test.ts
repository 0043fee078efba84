/**
 * The parts of metry-stream that need no server: reading an offset beyond 2^53 exactly from a
 * response text, and turning stream records into readings or rejected values.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exactInteger, isStreamOffset, offsetAfter } from '../../../src/core/metry/stream-client';
import { convertStreamRecord } from '../../../src/core/metry/stream-convert';
import { SlotTexts } from '../../../src/core/metry/convert';
import { validateReading } from '../../../src/core/readings';

describe('stream offsets', () => {
  const text = '{"code":200,"message":"OK","data":{"offset": 1552988044643025921,"resource":"consumption","records":[]}}';

  it('are read with every digit, where JSON.parse rounds them', () => {
    const parsed = (JSON.parse(text) as { data: { offset: number } }).data.offset;
    assert.equal(String(parsed), '1552988044643026000');
    assert.equal(exactInteger(text, 'offset', parsed), '1552988044643025921');
    assert.equal(exactInteger('{"data":{"last_offset":null}}', 'last_offset', null), null);
    assert.equal(exactInteger('{"data":{"offset":"1552988044643025921"}}', 'offset', '1552988044643025921'), '1552988044643025921');
  });

  it('take the literal whose value was parsed, not a field of the same name elsewhere', () => {
    const nested = '{"data":{"records":[{"meter":{"offset":7}}],"offset":1552988044643025921}}';
    assert.equal(exactInteger(nested, 'offset', 1552988044643025921), '1552988044643025921');
    assert.equal(exactInteger('{"data":{"last_offset":12,"offset":99}}', 'offset', 99), '99', '"last_offset" is another field');
  });

  it('are refused when the answer is not one exact whole number', () => {
    assert.throws(() => exactInteger('{"offset":1.5529880446430259e18}', 'offset', 1.5529880446430259e18), /cannot be read exactly/);
    assert.throws(() => exactInteger('{"offset":-3}', 'offset', -3), /not a whole number/);
    assert.throws(() => exactInteger('{"a":{"offset":1552988044643025921},"offset":1552988044643025920}', 'offset', 1552988044643025920), /cannot be read exactly/, 'two literals with the same double value');
  });

  it('compare exactly', () => {
    assert.ok(offsetAfter('1552988044643025921', '1552988044643025920'));
    assert.ok(!offsetAfter('1552988044643025920', '1552988044643025921'));
    assert.ok(isStreamOffset('1552988044643025921'));
    assert.ok(!isStreamOffset('1.5e18') && !isStreamOffset('-1') && !isStreamOffset('') && !isStreamOffset(12));
  });
});

describe('stream records to readings', () => {
  const meter = { _id: '5c90bb1077557800b028b68a', ean: '735999000000000000', timezone: 'Etc/GMT-1' };

  it('reads Metry’s documented example: hour values in the meter’s zone', () => {
    // The example of "Consume a consumption stream" in Metry's API Blueprint.
    const record = {
      meter,
      values: [
        { value: 0.5312, granularity: 'hour', metric: 'flow', updated: false, period: '2017100100' },
        { value: 1.3543, granularity: 'hour', metric: 'flow', updated: false, period: '2017100101' },
      ],
    };
    const { readings, rejected, meter: out } = convertStreamRecord(record, new SlotTexts());
    assert.deepEqual(rejected, []);
    assert.deepEqual(out, { id: meter._id, ean: meter.ean, timezone: 'Etc/GMT-1' });
    assert.deepEqual(readings.map((r) => [r.metric, r.unit, r.start, r.end, r.value, r.period, r.updated]), [
      ['flow', 'm3', '2017-10-01T00:00:00+01:00', '2017-10-01T01:00:00+01:00', 0.5312, '2017100100', false],
      ['flow', 'm3', '2017-10-01T01:00:00+01:00', '2017-10-01T02:00:00+01:00', 1.3543, '2017100101', false],
    ]);
    for (const reading of readings) assert.deepEqual(validateReading(reading), []);
  });

  it('keeps null as missing, marks replaced values, and reads months, days and costs', () => {
    const { readings } = convertStreamRecord(
      {
        meter: { ...meter, timezone: 'Europe/Stockholm' },
        values: [
          { value: null, granularity: 'day', metric: 'energy', updated: false, period: '20240331' },
          { value: 812.4, granularity: 'month', metric: 'energy', updated: true, period: '202403', pushed_at: '2024-04-02 13:02:11' },
          { value: 1200, granularity: 'month', metric: 'cost_retail_total', updated: false, period: '202403' },
        ],
      },
      new SlotTexts(),
    );
    assert.deepEqual(readings.map((r) => [r.granularity, r.metric, r.unit, r.start, r.end, r.value, r.updated, r.pushedAt]), [
      ['day', 'energy', 'kWh', '2024-03-31T00:00:00+01:00', '2024-04-01T00:00:00+02:00', null, false, undefined],
      ['month', 'energy', 'kWh', '2024-03-01T00:00:00+01:00', '2024-04-01T00:00:00+02:00', 812.4, true, '2024-04-02 13:02:11'],
      ['month', 'cost_retail_total', '', '2024-03-01T00:00:00+01:00', '2024-04-01T00:00:00+02:00', 1200, false, undefined],
    ]);
  });

  it('rejects what cannot be a reading, with the reason, and keeps the rest', () => {
    const values = [
      { value: 1, granularity: 'week', metric: 'energy', period: '2024031512' },
      { value: '1,5', granularity: 'hour', metric: 'energy', period: '2024031512' },
      { value: 1, granularity: 'hour', metric: 'energy', period: '20240315' },
      { value: 1, granularity: 'day', metric: 'energy', period: '20240230' },
      { value: 1, granularity: 'hour', metric: 'energy', period: '2024033102' },
      { value: 1, granularity: 'hour', metric: '', period: '2024031512' },
      { value: 2, granularity: 'hour', metric: 'energy', period: '2024031512' },
    ];
    const { readings, rejected } = convertStreamRecord({ meter: { ...meter, timezone: 'Europe/Stockholm' }, values }, new SlotTexts());
    assert.deepEqual(readings.map((r) => [r.start, r.value]), [['2024-03-15T12:00:00+01:00', 2]]);
    assert.deepEqual(
      rejected.map((r) => r.reason),
      [
        'its granularity "week" is not month, day or hour',
        'its value "1,5" is not a number or null',
        'its period "20240315" does not name one hour',
        'its period "20240230" is not a Metry period id',
        'the hour 2024033102 does not exist in Europe/Stockholm (daylight-saving gap)',
        'its metric "" is not a metric name',
      ],
    );
    assert.ok(rejected.every((r) => r.meterId === meter._id));
    assert.equal(rejected[1].value, values[1], 'the value as Metry sent it');
  });

  it('rejects a whole record without a meter or a known time zone', () => {
    const slots = new SlotTexts();
    const value = { value: 1, granularity: 'day', metric: 'energy', period: '20240315' };
    assert.match(convertStreamRecord({ values: [value] }, slots).rejected[0].reason, /names no meter/);
    const unknownZone = convertStreamRecord({ meter: { ...meter, timezone: 'Mars/Olympus' }, values: [value, value] }, slots);
    assert.deepEqual([unknownZone.readings.length, unknownZone.rejected.length], [0, 2]);
    assert.match(unknownZone.rejected[0].reason, /time zone "Mars\/Olympus" is unknown/);
    assert.match(convertStreamRecord({ meter, values: 'none' }, slots).rejected[0].reason, /no list of values/);
  });
});
