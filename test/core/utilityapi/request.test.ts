import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidRequestError, chunk, parseBatchSize, parseCollectionDuration, parseMeterUids } from '../../../src/core/utilityapi/request';

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

  it('batches lists and keeps the batch size sensible', () => {
    assert.deepEqual(chunk(['a', 'b', 'c', 'd', 'e'], 2), [['a', 'b'], ['c', 'd'], ['e']]);
    assert.deepEqual(chunk([], 3), []);
    assert.equal(parseBatchSize(''), 100);
    assert.equal(parseBatchSize('25'), 25);
    assert.equal(parseBatchSize(0), 100);
    assert.equal(parseBatchSize(5000), 1000);
  });
});
