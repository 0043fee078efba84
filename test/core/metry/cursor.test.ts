import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputCursors, MemoryCursorStore, cursorKey, keptCursors } from '../../../src/core/metry/cursor';
import { FileCursorStore } from '../../../src/core/metry/cursor-file';
import { isServiceError } from '../../../src/core/http/errors';

const STOCKHOLM = 'Europe/Stockholm';
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('export cursors', () => {
  describe('keys of kept cursors', () => {
    it('keeps ids apart that differ only in a dot or underscore, and holds no dot or bracket', () => {
      const a = cursorKey('meter.a', 'day', 'energy');
      const b = cursorKey('meter_a', 'day', 'energy');
      const c = cursorKey('meter-a', 'day', 'energy');
      assert.equal(new Set([a, b, c]).size, 3);
      for (const key of [a, b, c, cursorKey('x[0].y', 'hour', 'flow')]) assert.doesNotMatch(key, /[.[\]]/);
      // A key reads back one way only: the escaped id holds no underscore.
      assert.notEqual(cursorKey('a_day', 'hour', 'energy'), cursorKey('a', 'day', 'hour_energy'));
    });

    it('leaves Metry ids and metric names as they were, so kept cursors survive the upgrade', () => {
      assert.equal(cursorKey('65a0c0ffee0000000000bb01', 'hour', 'energy'), 'metryCursor_65a0c0ffee0000000000bb01_hour_energy');
      assert.equal(cursorKey('65a0c0ffee0000000000bb01', 'month', 'estimated_energy'), 'metryCursor_65a0c0ffee0000000000bb01_month_estimated_energy');
    });

    it('moves a kept cursor forward only', async () => {
      const store = new MemoryCursorStore();
      const cursors = keptCursors(store);
      const meter = { id: 'm1', timezone: STOCKHOLM };
      await cursors.delivered!('m1', 'day', 'energy', Date.parse('2024-01-10T00:00:00+01:00'));
      await cursors.delivered!('m1', 'day', 'energy', Date.parse('2024-01-08T00:00:00+01:00'));
      assert.equal(iso(await cursors.lastStored(meter, 'day', 'energy')), '2024-01-09T23:00:00.000Z');
      assert.equal(await cursors.lastStored(meter, 'hour', 'energy'), undefined);
    });
  });

  describe('cursors from the input (the user database)', () => {
    const meter = { id: '65a0c0ffee0000000000bb01', timezone: STOCKHOLM };

    it('reads SQL rows with ISO starts or period ids, per metric and granularity, the latest of several', async () => {
      const cursors = new InputCursors([
        [
          { meterId: meter.id, metric: 'energy', granularity: 'day', start: '2024-01-10T00:00:00+01:00' },
          { meterId: meter.id, metric: 'energy', granularity: 'day', start: '2024-01-08T00:00:00+01:00' },
          { meter_id: meter.id, metric: 'flow', granularity: 'day', start: 20240105 },
          { meterId: meter.id, metric: 'energy', granularity: 'month', start: '202312' },
          { meterId: 'other', metric: 'energy', granularity: 'day', start: null },
        ],
      ]);
      assert.equal(iso(await cursors.lastStored(meter, 'day', 'energy')), '2024-01-09T23:00:00.000Z');
      assert.equal(iso(await cursors.lastStored(meter, 'day', 'flow')), '2024-01-04T23:00:00.000Z');
      assert.equal(iso(await cursors.lastStored(meter, 'month', 'energy')), '2023-11-30T23:00:00.000Z');
      assert.equal(await cursors.lastStored(meter, 'hour', 'energy'), undefined);
      assert.equal(await cursors.lastStored({ id: 'other', timezone: STOCKHOLM }, 'day', 'energy'), undefined, 'max() of no rows is no cursor');
      assert.equal(cursors.meters, 1);
    });

    it('takes an hour start in UTC to the hour it falls in, in the meter zone', async () => {
      const cursors = new InputCursors([[{ meterId: meter.id, start: '2024-10-27T01:00:00Z' }]]);
      assert.equal(iso(await cursors.lastStored(meter, 'hour', 'energy')), '2024-10-27T01:00:00.000Z', 'the repeated 02:00 at +01:00');
      assert.equal(iso(await cursors.lastStored(meter, 'day', 'energy')), '2024-10-26T22:00:00.000Z', 'a row without granularity or metric applies to all');
    });

    it('reads a map on the message and lastStored on meter objects, the meter own value first', async () => {
      const meters = [{ _id: 'ref1', root: { _id: meter.id }, lastStored: { energy: '2024-02-01T00:00:00+01:00' } }, { _id: 'ref2', root: { _id: 'b' }, lastStored: '2024-01-10' }];
      const cursors = new InputCursors([{ [meter.id]: '2024-01-01T00:00:00+01:00', c: { flow: '2024-01-03T00:00:00+01:00' } }], meters);
      assert.equal(iso(await cursors.lastStored(meter, 'day', 'energy')), '2024-01-31T23:00:00.000Z');
      assert.equal(iso(await cursors.lastStored(meter, 'day', 'flow')), '2023-12-31T23:00:00.000Z', 'no meter value for flow: the message map');
      assert.equal(iso(await cursors.lastStored({ id: 'b', timezone: STOCKHOLM }, 'day', 'flow')), '2024-01-09T23:00:00.000Z');
      assert.equal(iso(await cursors.lastStored({ id: 'c', timezone: 'UTC' }, 'day', 'flow')), '2024-01-02T00:00:00.000Z');
    });

    it('refuses rows it cannot read, naming the row and what to give', () => {
      const fails = (lastStored: unknown, pattern: RegExp) =>
        assert.throws(() => new InputCursors([lastStored]), (e: unknown) => isServiceError(e) && e.code === 'CONFIG' && pattern.test(e.message));
      fails([{ metric: 'energy', start: '2024-01-01' }], /msg\.lastStored\[0\] has no meterId/);
      fails([{ meterId: 'a', granularity: 'week', start: '2024-01-01' }], /granularity "week": use month, day or hour/);
      fails([{ meterId: 'a', start: 'yesterday' }], /msg\.lastStored\[0\]\.start is "yesterday": give the start of the last stored period/);
      fails([{ meterId: 'a', start: '2024031' }], /is "2024031"/);
      fails([{ meterId: 'a', start: '12' }], /is "12"/);
      fails([{ meterId: 'a', start: '2024-03-01 10:00:00' }], /with its offset/);
      fails('2024-01-01', /must be a list of rows/);
    });
  });

  describe('the JSON file kept cursors live in when context is in memory', () => {
    const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'metry-cursors-'));

    it('survives a restart: a new store reads what the last one flushed, atomically', async () => {
      const file = path.join(dir(), 'cursors', 'node-n1.json');
      const first = keptCursors(new FileCursorStore({ file }));
      await first.delivered!('m1', 'day', 'energy', Date.parse('2024-01-10T00:00:00+01:00'));
      assert.equal(fs.existsSync(file), false, 'nothing is written before flush');
      await first.flush!();
      assert.deepEqual(fs.readdirSync(path.dirname(file)), ['node-n1.json'], 'no temporary file is left');
      const restarted = keptCursors(new FileCursorStore({ file }));
      assert.equal(iso(await restarted.lastStored({ id: 'm1', timezone: STOCKHOLM }, 'day', 'energy')), '2024-01-09T23:00:00.000Z');
    });

    it('merges with what another node of the flow wrote, keeping the later cursor', async () => {
      const file = path.join(dir(), 'flow-f1.json');
      const a = new FileCursorStore({ file });
      const b = new FileCursorStore({ file });
      await a.set('k1', '2024-01-10T00:00:00.000Z');
      await b.set('k1', '2024-01-05T00:00:00.000Z');
      await b.set('k2', '2024-02-01T00:00:00.000Z');
      await a.flush();
      await b.flush();
      assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { k1: '2024-01-10T00:00:00.000Z', k2: '2024-02-01T00:00:00.000Z' });
    });

    it('sets a damaged file aside and starts without cursors rather than reading garbage', async () => {
      const folder = dir();
      const file = path.join(folder, 'node-n2.json');
      fs.writeFileSync(file, '{"metryCursor_a_day_energy": "2024-01-');
      const moved: string[] = [];
      const store = new FileCursorStore({ file, onDamagedFile: (_file, to) => moved.push(to) });
      assert.equal(await store.get('metryCursor_a_day_energy'), undefined);
      assert.equal(moved.length, 1);
      assert.ok(fs.existsSync(moved[0]));
      assert.equal(fs.existsSync(file), false);
    });
  });
});
