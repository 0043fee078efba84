import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidRequestError, chunk, parseCollectionDuration, parseMeterUids, parseWindow } from '../../../src/core/utilityapi/request';
import { readHistoricalSettings } from '../../../src/core/utilityapi/settings';
import { isConfigError } from '../../../src/core/runtime/options';

describe('UtilityAPI request validation', () => {
  it('reads uids from strings, numbers, meter objects and a {meters} listing, unique and in order', () => {
    assert.deepEqual(parseMeterUids(['123', '234', '123']), ['123', '234']);
    assert.deepEqual(parseMeterUids([{ uid: '9a' }, { uid: 42, status: 'updated' }, ' 7 ']), ['9a', '42', '7']);
    assert.deepEqual(parseMeterUids({ meters: [{ uid: 'x1' }, { uid: 'x2' }], next: null }), ['x1', 'x2']);
    assert.deepEqual(parseMeterUids({ uid: 'solo' }), ['solo']);
    assert.deepEqual(parseMeterUids('123, 234;345 456'), ['123', '234', '345', '456']);
    assert.deepEqual(parseMeterUids(1001), ['1001']);
  });

  it('refuses an empty list and says nothing was sent', () => {
    for (const empty of [[], '', '  ', null, undefined, ' , ']) {
      assert.throws(
        () => parseMeterUids(empty, 'msg.payload'),
        (error: unknown) => error instanceof InvalidRequestError && error.code === 'INVALID_INPUT' && /No meters to collect: msg\.payload is empty/.test(error.message) && /Nothing was sent to UtilityAPI/.test(error.message),
        `empty input ${JSON.stringify(empty)}`,
      );
    }
  });

  it('names the first entry that is not a meter', () => {
    assert.throws(() => parseMeterUids(['123', { id: 'x' }]), /Item 2 of the meter list in msg\.payload is not a meter uid \(an object without a "uid"\)/);
    assert.throws(() => parseMeterUids(['123', 1.5]), /Item 2 .*number 1\.5/);
    assert.throws(() => parseMeterUids(true, 'flow.meters'), /flow\.meters is boolean true, not a meter list/);
    assert.throws(() => parseMeterUids({ foo: 1 }), /not a meter list/);
  });

  it('accepts durations of 1 to 36 whole months, and empty as the plan default', () => {
    assert.equal(parseCollectionDuration(1), 1);
    assert.equal(parseCollectionDuration(36), 36);
    assert.equal(parseCollectionDuration('12'), 12);
    assert.equal(parseCollectionDuration(''), undefined);
    assert.equal(parseCollectionDuration(undefined), undefined);
    assert.equal(parseCollectionDuration(null), undefined);
  });

  it('refuses durations outside 1–36 or not whole', () => {
    for (const bad of [0, 37, -3, 2.5, '40', 'twelve', Number.NaN, true]) {
      assert.throws(
        () => parseCollectionDuration(bad),
        (error: unknown) => error instanceof InvalidRequestError && /must be a whole number of months from 1 to 36/.test(error.message) && /Nothing was sent/.test(error.message),
        `duration ${String(bad)}`,
      );
    }
  });

  it('batches lists', () => {
    assert.deepEqual(chunk(['a', 'b', 'c', 'd', 'e'], 2), [['a', 'b'], ['c', 'd'], ['e']]);
    assert.deepEqual(chunk([], 3), []);
  });

  it('reads the interval window from msg.start and msg.end as days, ISO times, Dates or epoch ms', () => {
    assert.equal(parseWindow(undefined, ''), undefined);
    assert.deepEqual(parseWindow('2021-01-01', undefined), { start: '2021-01-01' });
    assert.deepEqual(parseWindow('2021-01-01T00:00:00-08:00', new Date(Date.UTC(2022, 0, 1))), { start: '2021-01-01T00:00:00-08:00', end: '2022-01-01T00:00:00.000Z' });
    assert.deepEqual(parseWindow(undefined, Date.UTC(2022, 5, 1)), { end: '2022-06-01T00:00:00.000Z' });
  });

  it('refuses a window that is no date or ends before it starts, before anything is sent', () => {
    for (const [start, end, text] of [
      ['2021-02-30', undefined, /msg\.start is "2021-02-30", not a date/],
      ['yesterday', undefined, /msg\.start is "yesterday", not a date/],
      [undefined, { day: 1 }, /msg\.end is an object, not a date/],
      ['2022-01-01', '2021-01-01', /msg\.start \(2022-01-01\) is after msg\.end \(2021-01-01\)/],
    ] as const) {
      assert.throws(() => parseWindow(start, end), (error: unknown) => error instanceof InvalidRequestError && text.test(error.message) && /Nothing was sent to UtilityAPI/.test(error.message));
    }
  });

  it('reads the node settings with their bounds, checking the wait settings only when waiting', () => {
    assert.deepEqual(readHistoricalSettings({}), { batchSize: 100, wait: false, pollIntervalMs: 60_000, waitTimeoutMs: 3_600_000, fetchIntervals: false, intervalMonths: undefined, allowMixed: false });
    assert.deepEqual(readHistoricalSettings({ batchSize: '25', wait: true, pollInterval: '30', waitTimeout: 10, fetchIntervals: true, intervalMonths: '60', allowMixed: true }), { batchSize: 25, wait: true, pollIntervalMs: 30_000, waitTimeoutMs: 600_000, fetchIntervals: true, intervalMonths: 60, allowMixed: true });
    assert.equal(readHistoricalSettings({ wait: false, pollInterval: 1 }).pollIntervalMs, 60_000, 'ignored without Wait, as in the editor');
    assert.equal(readHistoricalSettings({ wait: true, fetchIntervals: true, intervalMonths: '' }).intervalMonths, undefined, 'empty: the months collected');
    for (const [config, text] of [
      [{ batchSize: 5000 }, /Batch size is "5000": enter a whole number from 1 to 1000 meters/],
      [{ batchSize: 0 }, /Batch size is "0"/],
      [{ wait: true, pollInterval: 1 }, /Check every is "1": enter a number from 5 to 3600 seconds/],
      [{ wait: true, waitTimeout: 2 ** 31 }, /Wait at most is "2147483648": enter a number from 1 to 10080 minutes/],
      [{ wait: true, fetchIntervals: true, intervalMonths: 500 }, /Interval months is "500": enter a whole number from 1 to 120/],
    ] as const) {
      assert.throws(() => readHistoricalSettings(config), (error: unknown) => isConfigError(error) && text.test(error.message), JSON.stringify(config));
    }
  });
});
