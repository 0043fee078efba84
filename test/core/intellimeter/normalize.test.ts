import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hostTimeZone, instantsForWallTime, offsetMinutesAt as zoneOffsetMinutes, wallTimeAt } from '../../../src/core/time-zone';
import { readingsFromRecords, recordsFrom, resolveWallTime } from '../../../src/core/intellimeter/normalize';
import { formatDateInZone } from '../../../src/core/intellimeter/api';
import { readTimeZone } from '../../../src/core/intellimeter/operation';
import { isConfigError } from '../../../src/core/runtime/options';

const DOC_RECORDS = [
  { MeterParam: 'meter1', TimeStamping: '2019-10-30 13:15:00', value: 28540.24 },
  { MeterParam: 'meter2', TimeStamping: '2019-10-30 13:15:00', value: 35757.359 },
];

const TORONTO = 'America/Toronto';
const wall = (text: string) => {
  const [date, time] = text.split(' ');
  const [year, month, day] = date.split('-').map(Number);
  const [hour, minute, second] = time.split(':').map(Number);
  return { year, month, day, hour, minute, second };
};

describe('Intellimeter time stamps in the configured zone', () => {
  it('knows the offset in and out of DST', () => {
    assert.equal(zoneOffsetMinutes(Date.UTC(2019, 9, 30, 17, 15), TORONTO), -240);
    assert.equal(zoneOffsetMinutes(Date.UTC(2019, 11, 30, 17, 15), TORONTO), -300);
    assert.equal(zoneOffsetMinutes(Date.UTC(2024, 5, 1), 'Asia/Kathmandu'), 345);
    assert.equal(zoneOffsetMinutes(Date.UTC(2024, 5, 1), 'UTC'), 0);
  });

  it('gives both instants of the repeated hour when DST ends, and none in the skipped hour', () => {
    assert.deepEqual(instantsForWallTime(wall('2019-11-03 01:30:00'), TORONTO), [Date.UTC(2019, 10, 3, 5, 30), Date.UTC(2019, 10, 3, 6, 30)]);
    assert.deepEqual(instantsForWallTime(wall('2019-03-10 02:30:00'), TORONTO), []);
    assert.deepEqual(instantsForWallTime(wall('2019-03-10 03:30:00'), TORONTO), [Date.UTC(2019, 2, 10, 7, 30)]);
  });

  it('reads a time in the skipped hour as moved forward by the gap', () => {
    assert.equal(resolveWallTime(wall('2019-03-10 02:30:00'), TORONTO, { kind: 'after' }), Date.UTC(2019, 2, 10, 7, 30));
  });

  it('places a latest reading in the repeated hour by what time it is now', () => {
    const reading = wall('2019-11-03 01:15:00');
    const firstPass = Date.UTC(2019, 10, 3, 5, 20); // 01:20 EDT
    const secondPass = Date.UTC(2019, 10, 3, 6, 20); // 01:20 EST
    assert.equal(resolveWallTime(reading, TORONTO, { kind: 'latest', now: firstPass }), Date.UTC(2019, 10, 3, 5, 15));
    assert.equal(resolveWallTime(reading, TORONTO, { kind: 'latest', now: secondPass }), Date.UTC(2019, 10, 3, 6, 15));
  });

  it('reads a history series through the repeated hour without folding it onto itself', () => {
    const records: Record<string, unknown>[] = [];
    for (const pass of [0, 1]) for (const minute of [0, 30]) records.push({ MeterParam: 'm', TimeStamping: `2019-11-03 01:${minute === 0 ? '00' : '30'}:00`, value: pass * 2 + minute / 30 });
    records.push({ MeterParam: 'm', TimeStamping: '2019-11-03 02:00:00', value: 4 });
    const { readings } = readingsFromRecords(records, { metric: 'register', unit: 'kWh', zone: TORONTO, ambiguity: 'series', now: 0 });
    assert.deepEqual(readings.map((r) => r.start), ['2019-11-03T01:00:00-04:00', '2019-11-03T01:30:00-04:00', '2019-11-03T01:00:00-05:00', '2019-11-03T01:30:00-05:00', '2019-11-03T02:00:00-05:00']);
    assert.equal(new Set(readings.map((r) => Date.parse(r.start))).size, 5);
  });

  it('honours an explicit offset in a time stamp instead of the zone', () => {
    const { readings } = readingsFromRecords([{ MeterParam: 'm', TimeStamping: '2019-10-30T13:15:00+0100', value: 1 }, { MeterParam: 'm', TimeStamping: '2019-10-30T13:15:00Z', value: 2 }], { metric: 'register', unit: '', zone: TORONTO, ambiguity: 'series', now: 0 });
    assert.deepEqual(readings.map((r) => r.start), ['2019-10-30T13:15:00+01:00', '2019-10-30T13:15:00+00:00']);
  });

  it('maps every instant back to itself through its wall time (any zone, any moment)', () => {
    const zones = [TORONTO, 'Europe/Amsterdam', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'America/Sao_Paulo', 'UTC'];
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }), fc.constantFrom(...zones), (ms, zone) => {
        const instant = Math.floor(ms / 1000) * 1000;
        const candidates = instantsForWallTime(wallTimeAt(instant, zone), zone);
        assert.ok(candidates.includes(instant), `${new Date(instant).toISOString()} in ${zone}`);
        assert.equal(resolveWallTime(wallTimeAt(instant, zone), zone, { kind: 'latest', now: instant }), instant);
      }),
      { numRuns: 400 },
    );
  });

  it('formats the day an instant falls on in the zone', () => {
    assert.equal(formatDateInZone(Date.UTC(2019, 9, 31, 2), TORONTO), '2019-10-30');
    assert.equal(formatDateInZone(Date.UTC(2019, 9, 31, 5), TORONTO), '2019-10-31');
  });

  it('uses the host zone when none is set and rejects unknown zone names clearly', () => {
    assert.equal(readTimeZone(''), hostTimeZone());
    assert.equal(readTimeZone(' Europe/Amsterdam '), 'Europe/Amsterdam');
    assert.throws(
      () => readTimeZone('Mars/Olympus'),
      (error: unknown) => isConfigError(error) && error.code === 'CONFIG' && error.field === 'Time zone' && /"Mars\/Olympus" is not a time zone this system knows\. Enter an IANA zone name/.test(error.message),
    );
  });
});

describe('Intellimeter records to readings', () => {
  const options = { metric: 'register', unit: 'kWh', zone: 'UTC', ambiguity: 'series' as const, now: 0 };

  it('reads the documented /data shape', () => {
    const { readings, problems } = readingsFromRecords(recordsFrom(DOC_RECORDS).records, options);
    assert.deepEqual(problems, []);
    assert.deepEqual(readings.map((r) => [r.meterId, r.start, r.value]), [['meter1', '2019-10-30T13:15:00+00:00', 28540.24], ['meter2', '2019-10-30T13:15:00+00:00', 35757.359]]);
  });

  it('accepts records wrapped in an object or grouped by meter', () => {
    assert.equal(recordsFrom({ data: DOC_RECORDS }).records.length, 2);
    const grouped = recordsFrom({ meter1: [{ TimeStamping: '2019-10-30 13:15:00', value: 1 }], meter2: { TimeStamping: '2019-10-30 13:15:00', value: 2 } });
    assert.deepEqual(readingsFromRecords(grouped.records, options).readings.map((r) => [r.meterId, r.value]), [['meter1', 1], ['meter2', 2]]);
    assert.deepEqual(recordsFrom({}).records, []);
    assert.deepEqual(recordsFrom(null).records, []);
    assert.match(recordsFrom('oops').problems[0], /not a list of readings/);
    assert.match(recordsFrom([1]).problems[0], /item 1 is not a record/);
  });

  it('reads wide records (one column per meter) and split date and time columns', () => {
    const { readings, problems } = readingsFromRecords([{ Date: '2019-10-30', Time: '13:15', meter1: '1.5', meter2: '' }], options);
    assert.deepEqual(problems, []);
    assert.deepEqual(readings.map((r) => [r.meterId, r.start, r.value]), [['meter1', '2019-10-30T13:15:00+00:00', 1.5], ['meter2', '2019-10-30T13:15:00+00:00', null]]);
  });

  it('reads records with other spellings of the field names', () => {
    const { readings } = readingsFromRecords([{ meter_param: 'a', timestamping: '2019-10-30 13:15:00', Value: '2' }, { Meter: 'b', Timestamp: '2019-10-30 13:15:00', kWh: 3 }], options);
    assert.deepEqual(readings.map((r) => [r.meterId, r.value]), [['a', 2], ['b', 3]]);
  });

  it('keeps a missing value as null, never 0, and names every record it cannot use', () => {
    const { readings, problems } = readingsFromRecords([{ MeterParam: 'a', value: 1 }, { MeterParam: '', TimeStamping: '2019-10-30 13:15:00', value: 1 }, { TimeStamping: '2019-10-30 13:15:00' }, { MeterParam: 'b', TimeStamping: '2019-02-30 00:00:00', value: 1 }, { MeterParam: 'c', TimeStamping: '2019-10-30 13:15:00', value: null }, { MeterParam: 'd', TimeStamping: '2019-10-30 13:15:00', value: 0 }], options);
    assert.deepEqual(readings.map((r) => [r.meterId, r.value]), [['c', null], ['d', 0]]);
    assert.deepEqual(problems, [
      'record 1 has no TimeStamping: {"MeterParam":"a","value":1}',
      'record 2 has an empty meter name',
      'record 3 has a time stamp but no meter and value: {"TimeStamping":"2019-10-30 13:15:00"}',
      'record 4 (b): "2019-02-30 00:00:00" is not a time stamp (YYYY-MM-DD HH:MM:SS)',
    ]);
  });
});
