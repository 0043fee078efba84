import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeIntellimeter, FAKE_API_KEY } from '../../../testing/fakes/intellimeter';
import { ManualClock } from '../../../testing/manual-clock';
import { ServiceHttpClient } from '../../../src/core/http/client';
import type { Reading } from '../../../src/core/readings';
import { createIntellimeterSessionAuth } from '../../../src/core/intellimeter/session';
import { IntellimeterApi } from '../../../src/core/intellimeter/api';
import { NewReadingsFilter, Poller } from '../../../src/core/intellimeter/poller';
import { readDataSettings, runOperation } from '../../../src/core/intellimeter/operation';

const MINUTE = 60_000;

function reading(meterId: string, start: string, metric = 'register'): Reading {
  return { source: 'intellimeter', meterId, metric, unit: 'kWh', start, value: 1 };
}

describe('NewReadingsFilter', () => {
  it('lets each meter and metric through once per time stamp, newer ones only', () => {
    const filter = new NewReadingsFilter();
    const first = filter.take([reading('m1', '2024-01-01T10:00:00+01:00'), reading('m2', '2024-01-01T10:00:00+01:00'), reading('m1', '2024-01-01T10:00:00+01:00', 'interval')]);
    assert.equal(first.length, 3);
    assert.deepEqual(filter.take([reading('m1', '2024-01-01T10:00:00+01:00'), reading('m1', '2024-01-01T09:00:00Z')]), [], 'same instant written with another offset is not new');
    const next = filter.take([reading('m1', '2024-01-01T10:05:00+01:00'), reading('m2', '2024-01-01T10:00:00+01:00')]);
    assert.deepEqual(next.map((r) => r.meterId), ['m1']);
  });

  it('passes a batch listed newest first in full, and drops repeats inside a batch', () => {
    const filter = new NewReadingsFilter();
    const fresh = filter.take([reading('m', '2024-01-01T10:10:00Z'), reading('m', '2024-01-01T10:05:00Z'), reading('m', '2024-01-01T10:05:00Z')]);
    assert.deepEqual(fresh.map((r) => r.start), ['2024-01-01T10:10:00Z', '2024-01-01T10:05:00Z']);
  });

  it('restores its state from a snapshot (node context) and ignores junk in it', () => {
    const filter = new NewReadingsFilter();
    filter.take([reading('m', '2024-01-01T10:00:00Z')]);
    const restored = new NewReadingsFilter({ ...filter.snapshot(), bogus: 'x' });
    assert.deepEqual(restored.take([reading('m', '2024-01-01T10:00:00Z')]), []);
    assert.deepEqual(Object.keys(restored.snapshot()), ['register|m']);
  });
});

describe('Polling Intellimeter without duplicates', () => {
  let fake: FakeIntellimeter;
  let client: ServiceHttpClient;
  let clock: ManualClock;
  const pollers: Poller[] = [];

  before(async () => {
    fake = await new FakeIntellimeter().start();
    client = new ServiceHttpClient({ service: 'intellimeter', baseURL: fake.url, auth: createIntellimeterSessionAuth({ apiKey: FAKE_API_KEY }), maxConcurrent: 1, requestsPerSecond: 0, clock: ManualClock.autoAdvancing(), timeoutMs: 3000 });
  });
  after(async () => {
    for (const p of pollers) await p.stop();
    await client.close();
    await fake.stop();
  });
  beforeEach(() => fake.reset({ sessions: false }));

  /** A poller like the node's: runs the operation through a filter and collects what it emits. */
  function startPolling(operation: 'data' | 'interval', minutes: number, start: number) {
    clock = new ManualClock(start);
    fake.clock = clock;
    const settings = readDataSettings({ operation, timeZone: 'America/Toronto', poll: true, pollMinutes: minutes });
    const api = new IntellimeterApi(client.lease());
    const filter = new NewReadingsFilter();
    const emitted: Reading[][] = [];
    const errors: unknown[] = [];
    const poller = new Poller({
      intervalMs: settings.pollMs,
      clock,
      poll: async () => {
        const result = await runOperation(api, settings, {}, clock.now(), filter);
        if (result.kind === 'readings' && result.readings.length > 0) emitted.push(result.readings);
      },
      onError: (error) => errors.push(error),
    });
    pollers.push(poller);
    poller.start();
    return { poller, emitted, errors };
  }

  async function tick(minutes: number): Promise<void> {
    await clock.whenTimers();
    clock.advance(minutes * MINUTE);
    await clock.whenTimers();
  }

  it('polls at once and then every 5 minutes, storing each overlapping reading once', async () => {
    fake.window = 3; // each answer repeats the two readings before the newest
    const { poller, emitted } = startPolling('data', 5, Date.UTC(2019, 9, 30, 17, 15));
    await clock.whenTimers();
    assert.equal(emitted.length, 1);
    assert.equal(emitted[0].length, 6, 'first poll: 3 readings for each of 2 meters');
    await tick(2.5);
    assert.equal(fake.server.requestsTo('/data').length, 1, 'no poll before the interval is over');
    for (let i = 0; i < 6; i += 1) await tick(5);
    await poller.stop();
    assert.equal(fake.server.requestsTo('/data').length, 7);
    const all = emitted.flat();
    const keys = all.map((r) => `${r.meterId} ${r.start}`);
    assert.equal(new Set(keys).size, keys.length, 'no duplicates');
    const meter1 = all.filter((r) => r.meterId === 'meter1').map((r) => Date.parse(r.start));
    assert.equal(meter1.length, 3 + 6);
    meter1.forEach((instant, i) => i > 0 && assert.equal(instant - meter1[i - 1], 5 * MINUTE, 'a gapless 5-minute series'));
  });

  it('emits nothing when polled faster than the API updates', async () => {
    const { poller, emitted } = startPolling('interval', 1, Date.UTC(2019, 9, 30, 17, 15));
    for (let i = 0; i < 9; i += 1) await tick(1);
    await poller.stop();
    assert.equal(fake.server.requestsTo('/interval').length, 10);
    assert.equal(emitted.length, 2, 'the first poll and the one after the next 5-minute update');
    assert.deepEqual(emitted.flat().map((r) => r.start.slice(11, 16)), ['13:15', '13:15', '13:20', '13:20']);
  });

  it('keeps every reading through the hour repeated when DST ends, each with its own offset', async () => {
    fake.window = 2;
    // 2019-11-03 00:30 EDT in Toronto; clocks go back from 02:00 EDT to 01:00 EST.
    const { poller, emitted } = startPolling('data', 5, Date.UTC(2019, 10, 3, 4, 30));
    for (let i = 0; i < 36; i += 1) await tick(5);
    await poller.stop();
    const meter1 = emitted.flat().filter((r) => r.meterId === 'meter1');
    const instants = meter1.map((r) => Date.parse(r.start));
    assert.equal(new Set(instants).size, instants.length, 'no duplicates');
    instants.forEach((instant, i) => i > 0 && assert.equal(instant - instants[i - 1], 5 * MINUTE, `gap before ${meter1[i].start}`));
    const starts = meter1.map((r) => r.start);
    assert.ok(starts.includes('2019-11-03T01:15:00-04:00') && starts.includes('2019-11-03T01:15:00-05:00'), 'both 01:15s');
    assert.equal(meter1.filter((r) => r.timeStamping === '2019-11-03 01:15:00').length, 2);
  });

  it('reports a failed poll and keeps polling', async () => {
    const { poller, emitted, errors } = startPolling('data', 5, Date.UTC(2019, 9, 30, 17, 15));
    await clock.whenTimers();
    fake.server.fail({ kind: 'status', status: 404 }, 1, /^\/data$/);
    await tick(5);
    assert.equal(errors.length, 1);
    assert.match((errors[0] as Error).message, /Intellimeter found no such resource \(reading the latest readings\)/);
    await tick(5);
    await poller.stop();
    assert.equal(emitted.length, 2);
    assert.equal(emitted[1][0].start, '2019-10-30T13:25:00-04:00', 'the next poll picks up from where the data is');
  });

  it('stops at once, even while waiting, and survives an error handler that throws', async () => {
    clock = new ManualClock();
    let polls = 0;
    const poller = new Poller({
      intervalMs: 5 * MINUTE,
      clock,
      poll: async () => {
        polls += 1;
        throw new Error('boom');
      },
      onError: () => {
        throw new Error('handler failed');
      },
    });
    poller.start();
    await clock.whenTimers();
    clock.advance(5 * MINUTE);
    await clock.whenTimers();
    await poller.stop();
    assert.equal(polls, 2);
    assert.equal(clock.pending, 0);
    clock.advance(60 * MINUTE);
    assert.equal(polls, 2);
    assert.throws(() => new Poller({ intervalMs: 0, clock, poll: async () => undefined, onError: () => undefined }), /positive/);
  });
});
