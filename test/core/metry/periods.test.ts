import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  countSlots,
  lastCompleteSlot,
  parsePeriodExpression,
  periodId,
  rangeToPeriod,
  resolveRange,
  slotStart,
  splitRange,
  statsPointToSlot,
  stepSlot,
  fromLocal,
  toLocal,
} from '../../../src/core/metry/periods';
import { offsetMinutesAt } from '../../../src/core/time-zone';
import { convertEntry } from '../../../src/core/metry/convert';
import { isServiceError } from '../../../src/core/http/errors';
import { validateReading } from '../../../src/core/readings';

const STOCKHOLM = 'Europe/Stockholm';
const at = (iso: string): number => Date.parse(iso);

describe('Metry period syntax', () => {
  it('parses single periods of every precision and ranges', () => {
    const [march] = parsePeriodExpression('201603');
    assert.equal(march.from.precision, 'month');
    assert.deepEqual(march.from.local, { year: 2016, month: 3, day: 1, hour: 0 });
    assert.deepEqual(march.to, march.from, 'a single period ends where it starts');
    const [range] = parsePeriodExpression('20240101-20240131');
    assert.equal(range.from.precision, 'day');
    assert.deepEqual(range.to?.local, { year: 2024, month: 1, day: 31, hour: 0 });
    const mixed = parsePeriodExpression('2015-201511+2024031513');
    assert.equal(mixed.length, 2);
    assert.equal(mixed[0].from.precision, 'year');
    assert.equal(mixed[0].to?.precision, 'month');
    assert.equal(mixed[1].from.precision, 'hour');
    assert.equal(parsePeriodExpression('201601-')[0].to, undefined);
  });

  it('rejects malformed periods with a sentence that shows the expected form', () => {
    for (const bad of ['', '2016-3', '201613', '20240230', '2024010124', '20240131-20240101', 'march', '2024-01-02-03']) {
      assert.throws(() => parsePeriodExpression(bad), (error: unknown) => {
        assert.ok(isServiceError(error));
        assert.equal(error.code, 'CONFIG');
        assert.match(error.message, /YYYYMM/);
        return true;
      }, bad);
    }
  });

  it('resolves a written period to the slots it covers in the meter zone', () => {
    const [march] = parsePeriodExpression('201603');
    const hours = resolveRange(march, 'hour', STOCKHOLM, 0);
    assert.equal(new Date(hours.first).toISOString(), '2016-02-29T23:00:00.000Z');
    assert.equal(new Date(hours.last).toISOString(), '2016-03-31T21:00:00.000Z');
    // March 2016 has 31 days and loses one hour to DST on the 27th.
    assert.equal(countSlots(hours.first, hours.last, 'hour', STOCKHOLM), 31 * 24 - 1);
    assert.equal(rangeToPeriod(hours, STOCKHOLM), '2016030100-2016033123');
    const days = resolveRange(parsePeriodExpression('20240101-20240131')[0], 'day', STOCKHOLM, 0);
    assert.equal(countSlots(days.first, days.last, 'day', STOCKHOLM), 31);
    const months = resolveRange(parsePeriodExpression('2023')[0], 'month', STOCKHOLM, 0);
    assert.equal(rangeToPeriod(months, STOCKHOLM), '202301-202312');
  });

  it('steps days and months on the local calendar across both DST changes', () => {
    const march30 = fromLocal({ year: 2024, month: 3, day: 30, hour: 0 }, STOCKHOLM);
    const march31 = stepSlot(march30, 'day', STOCKHOLM);
    const april1 = stepSlot(march31, 'day', STOCKHOLM);
    assert.equal(new Date(march31).toISOString(), '2024-03-30T23:00:00.000Z');
    assert.equal(april1 - march31, 23 * 3600_000, 'the spring day is 23 hours long');
    const october27 = fromLocal({ year: 2024, month: 10, day: 27, hour: 0 }, STOCKHOLM);
    assert.equal(stepSlot(october27, 'day', STOCKHOLM) - october27, 25 * 3600_000, 'the autumn day is 25 hours long');
    const march = fromLocal({ year: 2024, month: 3, day: 1, hour: 0 }, STOCKHOLM);
    assert.equal(new Date(stepSlot(march, 'month', STOCKHOLM)).toISOString(), '2024-03-31T22:00:00.000Z');
    assert.equal(countSlots(march, stepSlot(march, 'month', STOCKHOLM, 12), 'month', STOCKHOLM), 13);
  });

  it('resolves skipped and repeated local hours deterministically', () => {
    // 02:00 on 2024-03-31 does not exist in Stockholm: the next existing hour begins at 01:00Z.
    assert.equal(new Date(fromLocal({ year: 2024, month: 3, day: 31, hour: 2 }, STOCKHOLM)).toISOString(), '2024-03-31T01:00:00.000Z');
    // 02:00 on 2024-10-27 happens twice: the first one (CEST) is taken.
    assert.equal(new Date(fromLocal({ year: 2024, month: 10, day: 27, hour: 2 }, STOCKHOLM)).toISOString(), '2024-10-27T00:00:00.000Z');
    assert.deepEqual(toLocal(at('2024-10-27T01:00:00Z'), STOCKHOLM), { year: 2024, month: 10, day: 27, hour: 2 });
    assert.equal(offsetMinutesAt(at('2024-10-27T00:30:00Z'), STOCKHOLM), 120);
    assert.equal(offsetMinutesAt(at('2024-10-27T01:30:00Z'), STOCKHOLM), 60);
    assert.equal(offsetMinutesAt(at('2024-06-01T00:00:00Z'), 'Etc/GMT-1'), 60);
  });

  it('finds the last complete month, day and hour in the meter zone', () => {
    const now = at('2024-04-01T00:30:00+02:00');
    assert.equal(periodId(lastCompleteSlot(now, 'month', STOCKHOLM), 'month', STOCKHOLM), '202403');
    assert.equal(periodId(lastCompleteSlot(now, 'day', STOCKHOLM), 'day', STOCKHOLM), '20240331');
    assert.equal(periodId(lastCompleteSlot(now, 'hour', STOCKHOLM), 'hour', STOCKHOLM), '2024033123');
    // 22:30Z on 31 March is already April in Stockholm, still March in UTC.
    assert.equal(periodId(lastCompleteSlot(at('2024-03-31T22:30:00Z'), 'month', 'UTC'), 'month', 'UTC'), '202402');
    assert.equal(periodId(lastCompleteSlot(at('2024-03-31T22:30:00Z'), 'month', STOCKHOLM), 'month', STOCKHOLM), '202403');
  });

  it('reads consumption_stats first/last values', () => {
    assert.equal(periodId(statsPointToSlot(201501, 'month', STOCKHOLM)!, 'month', STOCKHOLM), '201501');
    assert.equal(periodId(statsPointToSlot('2013090100', 'hour', STOCKHOLM)!, 'hour', STOCKHOLM), '2013090100');
    assert.equal(statsPointToSlot(null, 'day', STOCKHOLM), undefined);
    assert.equal(slotStart(at('2024-03-15T10:20:00Z'), 'hour', 'Asia/Kolkata'), at('2024-03-15T09:30:00Z'));
  });

  it('splits long ranges into pieces under a slot limit, hours at local midnight', () => {
    const year = resolveRange(parsePeriodExpression('2024')[0], 'hour', STOCKHOLM, 0);
    const total = countSlots(year.first, year.last, 'hour', STOCKHOLM);
    assert.equal(total, 366 * 24);
    const pieces = splitRange(year, 1000, STOCKHOLM);
    assert.ok(pieces.length >= 9);
    let sum = 0;
    let expectedFirst = year.first;
    for (const piece of pieces) {
      const slots = countSlots(piece.first, piece.last, 'hour', STOCKHOLM);
      assert.ok(slots <= 1000, `piece of ${slots} slots`);
      assert.equal(piece.first, expectedFirst, 'pieces are contiguous');
      assert.equal(toLocal(piece.first, STOCKHOLM).hour, 0, 'hour pieces start at local midnight');
      expectedFirst = piece.last + 3600_000;
      sum += slots;
    }
    assert.equal(sum, total);
    const months = splitRange(resolveRange(parsePeriodExpression('2000-2024')[0], 'month', STOCKHOLM, 0), 100, STOCKHOLM);
    assert.deepEqual(months.map((p) => rangeToPeriod(p, STOCKHOLM)), ['200001-200804', '200805-201608', '201609-202412']);
  });
});

describe('consumption response to readings', () => {
  function period(start: string, values: (number | null)[], metric = 'energy') {
    return { meter_id: 'm1', periods: [{ start_date: start, end_date: 'ignored', [metric]: values }] };
  }

  it('gives every hour across the spring DST change its right time (23 slots)', () => {
    const values = Array.from({ length: 23 }, (_, i) => i + 0.5);
    const { readings } = convertEntry(period('2024-03-30T23:00:00+0000', values), { meterId: 'm1', granularity: 'hour', metrics: ['energy'], timezone: STOCKHOLM });
    assert.equal(readings.length, 23);
    assert.deepEqual(readings.slice(0, 4).map((r) => r.start), ['2024-03-31T00:00:00+01:00', '2024-03-31T01:00:00+01:00', '2024-03-31T03:00:00+02:00', '2024-03-31T04:00:00+02:00']);
    assert.equal(readings[1].end, '2024-03-31T03:00:00+02:00');
    assert.equal(readings[22].start, '2024-03-31T23:00:00+02:00');
    assert.equal(readings[22].end, '2024-04-01T00:00:00+02:00');
    assert.deepEqual(readings.map((r) => r.period).slice(0, 3), ['2024033100', '2024033101', '2024033103']);
    for (const reading of readings) assert.deepEqual(validateReading(reading), []);
  });

  it('gives every hour across the autumn DST change its right time (25 slots, 02:00 twice)', () => {
    const values = Array.from({ length: 25 }, (_, i) => i);
    const { readings } = convertEntry(period('2024-10-26T22:00:00+0000', values), { meterId: 'm1', granularity: 'hour', metrics: ['energy'], timezone: STOCKHOLM });
    assert.equal(readings.length, 25);
    assert.deepEqual(readings.slice(1, 5).map((r) => r.start), ['2024-10-27T01:00:00+02:00', '2024-10-27T02:00:00+02:00', '2024-10-27T02:00:00+01:00', '2024-10-27T03:00:00+01:00']);
    assert.equal(new Set(readings.map((r) => Date.parse(r.start))).size, 25, 'no two hours share an instant');
    assert.equal(readings[24].end, '2024-10-28T00:00:00+01:00');
  });

  it('steps days and months on the local calendar and keeps null as null', () => {
    const days = convertEntry(period('2024-03-29T23:00:00+0000', [10, null, 12]), { meterId: 'm1', mappedId: 'BLD-1', granularity: 'day', metrics: ['energy'], timezone: STOCKHOLM });
    assert.deepEqual(days.readings.map((r) => [r.start, r.end, r.value]), [
      ['2024-03-30T00:00:00+01:00', '2024-03-31T00:00:00+01:00', 10],
      ['2024-03-31T00:00:00+01:00', '2024-04-01T00:00:00+02:00', null],
      ['2024-04-01T00:00:00+02:00', '2024-04-02T00:00:00+02:00', 12],
    ]);
    assert.equal(days.readings[0].mappedId, 'BLD-1');
    assert.equal(days.readings[0].unit, 'kWh');
    assert.equal(days.lastWithValue.energy, Date.parse('2024-04-01T00:00:00+02:00'));
    const months = convertEntry(period('2023-12-31T23:00:00+0000', [812.4, null, 655], 'flow'), { meterId: 'm1', granularity: 'month', metrics: ['flow'], timezone: STOCKHOLM });
    assert.deepEqual(months.readings.map((r) => [r.start, r.value, r.unit]), [
      ['2024-01-01T00:00:00+01:00', 812.4, 'm3'],
      ['2024-02-01T00:00:00+01:00', null, 'm3'],
      ['2024-03-01T00:00:00+01:00', 655, 'm3'],
    ]);
    assert.equal(months.readings[2].end, '2024-04-01T00:00:00+02:00');
    assert.ok(months.readings.every((r) => r.value !== 0), 'a missing value never becomes 0');
  });

  it('drops slots before a metric start and after the last slot', () => {
    const start = Date.parse('2024-02-01T00:00:00+01:00');
    const { readings, lastWithValue } = convertEntry(
      { meter_id: 'm1', periods: [{ start_date: '2023-12-31T23:00:00+0000', energy: [1, 2, 3, 4], flow: [5, 6, 7, 8] }] },
      { meterId: 'm1', granularity: 'month', metrics: ['energy', 'flow'], timezone: STOCKHOLM, metricStarts: { energy: start, flow: Date.parse('2023-12-31T23:00:00Z') }, lastSlot: Date.parse('2024-03-01T00:00:00+01:00') },
    );
    assert.deepEqual(readings.map((r) => `${r.metric}:${r.period}:${r.value}`), ['flow:202401:5', 'energy:202402:2', 'flow:202402:6', 'energy:202403:3', 'flow:202403:7']);
    assert.equal(lastWithValue.energy, Date.parse('2024-03-01T00:00:00+01:00'));
  });

  it('says so when a start_date cannot be read', () => {
    assert.throws(() => convertEntry(period('yesterday', [1]), { meterId: 'm1', granularity: 'day', metrics: ['energy'], timezone: STOCKHOLM }), /start_date/);
  });
});
