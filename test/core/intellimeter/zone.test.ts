import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatDateInZone, hostTimeZone, instantsForWallTime, resolveTimeZone, resolveWallTime, wallTimeAt, zoneOffsetMinutes } from '../../../src/core/intellimeter/zone';
import { readingsFromRecords } from '../../../src/core/intellimeter/normalize';
import { isServiceError } from '../../../src/core/http/errors';

const TORONTO = 'America/Toronto';
const wall = (text: string) => {
  const [date, time] = text.split(' ');
  const [year, month, day] = date.split('-').map(Number);
  const [hour, minute, second] = time.split(':').map(Number);
  return { year, month, day, hour, minute, second };
};

describe('Intellimeter time zones', () => {
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
    assert.equal(resolveTimeZone(''), hostTimeZone());
    assert.equal(resolveTimeZone(' Europe/Amsterdam '), 'Europe/Amsterdam');
    assert.throws(
      () => resolveTimeZone('Mars/Olympus'),
      (error: unknown) => isServiceError(error) && error.code === 'CONFIG' && /"Mars\/Olympus" is not a time zone this system knows\. Enter an IANA zone name/.test(error.message),
    );
  });
});
