/**
 * metry-stream's core against the fake Metry's streams: the stream found or made, batches as
 * readings, the offset committed only after the storage confirmation, re-delivery after a storage
 * failure or a missing confirmation, the idle wait, 429 from a second consumer, resuming from
 * `last_offset`, and offsets beyond 2^53 sent back with every digit. Time is a ManualClock; the
 * tests wait for the controller's own events (a message sent, a timer set), never for real time.
 */
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeMetry, METRY_TEST_TOKEN, fakeValue } from '../../../testing/fakes/metry';
import { statusText } from '../../../testing/catalog';
import { ManualClock, settle, until } from '../../../testing/manual-clock';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';
import { StreamController, StreamHost, StreamSettings, readStreamSettings } from '../../../src/core/metry/stream-controller';
import { isConfigError } from '../../../src/core/runtime/options';
import type { StatusView } from '../../../src/core/runtime/status';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const DAY = 86_400_000;
const at = (iso: string): number => Date.parse(iso);

/** What a controller sent and said, with a way to wait for the next delivery. */
class Recorder {
  readonly readings: Msg[] = [];
  readonly rejected: Msg[] = [];
  readonly statuses: StatusView[] = [];
  readonly errors: Error[] = [];
  readonly warnings: string[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  onSend(port: 0 | 1, msg: Msg): void {
    (port === 0 ? this.readings : this.rejected).push(msg);
    const ready = this.waiters.filter((w) => this.deliveries().length >= w.count);
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    ready.forEach((w) => w.resolve());
  }

  /** The messages of each delivery, in order. */
  deliveries(): Msg[][] {
    const byId = new Map<string, Msg[]>();
    for (const msg of this.readings) {
      const list = byId.get(msg.streamBatch.delivery) ?? [];
      list.push(msg);
      byId.set(msg.streamBatch.delivery, list);
    }
    return [...byId.values()].filter((list) => list.length === list[0].streamBatch.count);
  }

  /** Resolves when `count` deliveries were sent in full. */
  delivery(count: number): Promise<Msg[]> {
    return new Promise((resolve) => {
      const done = (): void => resolve(this.deliveries()[count - 1]);
      if (this.deliveries().length >= count) done();
      else this.waiters.push({ count, resolve: done });
    });
  }
}

describe('metry-stream without Node-RED', () => {
  let metry: FakeMetry;
  let client: ServiceHttpClient;
  let clock: ManualClock;
  let running: StreamController[];

  before(async () => {
    metry = await new FakeMetry().start();
  });
  after(() => metry.stop());
  beforeEach(() => {
    metry.server.reset();
    metry.clearMeters();
    metry.streams.length = 0;
    metry.streamBatchSize = 25;
    // 2 meters × 31 December days: batches of 25, 25 and 12 values.
    metry.addMeters(2, { dataFrom: '2023-12-01T00:00:00+01:00', dataUntil: '2024-01-01T00:00:00+01:00' });
    client = new ServiceHttpClient({ service: 'metry', baseURL: metry.baseUrl, auth: bearerAuth(METRY_TEST_TOKEN), clock: ManualClock.autoAdvancing(), random: () => 0.5 });
    clock = new ManualClock(at('2024-01-15T03:00:00+01:00'));
    running = [];
  });
  afterEach(async () => {
    await Promise.all(running.map((c) => c.close()));
    await client.close();
  });

  function start(settings: Partial<StreamSettings> = {}, host: Partial<StreamHost> = {}): { controller: StreamController; out: Recorder } {
    const out = new Recorder();
    let id = 0;
    const controller = new StreamController({ ...readStreamSettings({}), ...settings }, {
      requester: () => client,
      clock,
      newId: () => `delivery-${(id += 1)}`,
      send: (port, msg) => out.onSend(port, msg),
      status: (view) => out.statuses.push(view),
      error: (error) => out.errors.push(error),
      warn: (text) => out.warnings.push(text),
      log: () => undefined,
      // The top of each backoff range: 5 s, 10 s, 20 s …
      random: () => 1,
      ...host,
    });
    running.push(controller);
    controller.start();
    return { controller, out };
  }

  const confirm = (controller: StreamController, delivery: Msg[], extra: Msg = {}) => delivery.map((msg) => controller.receive({ topic: 'INSERT …', payload: [], streamBatch: msg.streamBatch, ...extra }));
  const consumes = () => metry.sentOffsets();
  const texts = (out: Recorder) => out.statuses.map((view) => statusText('metry-stream', view));

  it('creates the account’s consumption stream for the granularity once, and reuses it afterwards', async () => {
    const first = start();
    await first.out.delivery(1);
    assert.equal(metry.streams.length, 1);
    assert.equal(metry.streams[0].granularity, 'day');
    const created = metry.server.requestsTo('/api/v2/streams').filter((r) => r.method === 'POST');
    assert.deepEqual(created.map((r) => JSON.parse(r.body)), [{ resource: 'consumption', granularity: 'day' }]);
    const listed = metry.server.requestsTo('/api/v2/streams').find((r) => r.method === 'GET')!;
    assert.deepEqual([listed.query.get('resource'), listed.query.get('granularity')], ['consumption', 'day']);
    await first.controller.close();

    metry.server.reset();
    const second = start();
    await second.out.delivery(1);
    assert.equal(metry.streams.length, 1, 'no second stream: it would push all history again');
    assert.equal(metry.server.requestsTo('/api/v2/streams').filter((r) => r.method === 'POST').length, 0);
    assert.equal(second.controller.streamId, metry.streams[0]._id);
  });

  it('emits a batch as readings per meter in the meter’s time zone, and commits its offset only after the confirmation', async () => {
    const { controller, out } = start();
    const [message] = await out.delivery(1);
    const streamId = metry.streams[0]._id;
    assert.equal(message.meter.id, FakeMetry.rootId(0));
    assert.equal(message.meter.timezone, 'Europe/Stockholm');
    assert.equal(message.payload.length, 25);
    assert.deepEqual(message.payload[0], {
      source: 'metry',
      meterId: FakeMetry.rootId(0),
      metric: 'energy',
      unit: 'kWh',
      granularity: 'day',
      start: '2023-12-01T00:00:00+01:00',
      end: '2023-12-02T00:00:00+01:00',
      value: fakeValue(0, 'energy', 'day', at('2023-12-01T00:00:00+01:00')),
      period: '20231201',
      updated: false,
      pushedAt: message.payload[0].pushedAt,
    });
    const token = message.streamBatch;
    assert.deepEqual([token.streamId, token.index, token.count], [streamId, 0, 1]);
    assert.deepEqual(message.parts, { id: token.delivery, index: 0, count: 1, type: 'array' });

    // Unconfirmed, the node waits: no further request, nothing committed.
    await clock.whenTimers(1);
    await settle();
    assert.deepEqual(consumes(), ['null']);
    assert.equal(metry.lastOffsetOf(streamId), null);
    assert.equal(texts(out).at(-1), 'storing 25 readings');

    assert.deepEqual(confirm(controller, [message]), ['stored']);
    const second = await out.delivery(2);
    assert.deepEqual(consumes(), ['null', token.offset], 'the confirmed batch’s offset, every digit');
    assert.equal(metry.lastOffsetOf(streamId), token.offset, 'committed in Metry');
    assert.deepEqual(second.map((m) => [m.meter.id, m.payload.length]), [[FakeMetry.rootId(0), 6], [FakeMetry.rootId(1), 19]]);
    assert.equal(second[1].payload[0].start, '2023-12-01T00:00:00+01:00');
  });

  it('keeps offsets beyond 2^53 exact from the answer to the next request', async () => {
    const { controller, out } = start();
    confirm(controller, await out.delivery(1));
    confirm(controller, await out.delivery(2));
    await out.delivery(3);
    const offsets = out.deliveries().map((d) => d[0].streamBatch.offset as string);
    for (const offset of offsets) {
      assert.match(offset, /^\d{19}$/);
      assert.ok(BigInt(offset) > BigInt(Number.MAX_SAFE_INTEGER));
      assert.notEqual(String(BigInt(Number(offset))), offset, 'a double cannot hold it: JSON.parse would have changed it');
    }
    assert.deepEqual(consumes().slice(1), offsets.slice(0, 2));
    // The fake refuses an offset it never handed out, as a rounded one would be.
    const rounded = String(BigInt(Number(offsets[0])));
    await assert.rejects(client.request({ method: 'POST', path: `/streams/${metry.streams[0]._id}/consume`, jsonText: `{"offset":${rounded}}`, retry: false }), /Unknown offset/);
  });

  it('confirms a batch only when every message of it came back', async () => {
    const { controller, out } = start({ maxReadings: 10 });
    const first = await out.delivery(1);
    assert.deepEqual(first.map((m) => [m.payload.length, m.streamBatch.index, m.streamBatch.count]), [[10, 0, 3], [10, 1, 3], [5, 2, 3]]);
    assert.deepEqual(confirm(controller, first.slice(0, 2)), ['stored', 'stored']);
    assert.deepEqual(confirm(controller, [first[1]]), ['stored'], 'the same part twice counts once');
    await settle();
    assert.deepEqual(consumes(), ['null'], 'two of three stored: not committed');
    confirm(controller, [first[2]]);
    await out.delivery(2);
    assert.deepEqual(consumes(), ['null', first[0].streamBatch.offset]);
  });

  it('delivers a batch again when the storage reports a failure, and never commits it', async () => {
    const { controller, out } = start();
    const first = await out.delivery(1);
    confirm(controller, first);
    const second = await out.delivery(2);
    const committed = first[0].streamBatch.offset;
    assert.deepEqual(confirm(controller, [second[0]], { error: { message: 'SQLITE_FULL: database or disk is full', source: { id: 'db' } } }), ['failed']);
    await clock.whenTimers(1);
    assert.match(out.warnings.at(-1)!, /was not stored: the storage reported: SQLITE_FULL.*delivered again in 5 s/);
    assert.equal(texts(out).at(-1), 'not stored, again in 5 s');
    assert.deepEqual(clock.pendingDelays(), [5_000]);
    clock.advance(5_000);
    const again = await out.delivery(3);
    assert.deepEqual(consumes(), ['null', committed, committed], 'the previous offset again');
    assert.equal(metry.lastOffsetOf(metry.streams[0]._id), committed);
    assert.equal(again[0].streamBatch.offset, second[0].streamBatch.offset, 'the same batch');
    assert.notEqual(again[0].streamBatch.delivery, second[0].streamBatch.delivery);
    assert.deepEqual(again.map((m) => m.payload), second.map((m) => m.payload));
    // A late answer to the first delivery changes nothing.
    assert.deepEqual(confirm(controller, second), ['stale', 'stale']);
    confirm(controller, again);
    await out.delivery(4);
    assert.deepEqual(consumes().at(-1), second[0].streamBatch.offset);
  });

  it('delivers a batch again when no confirmation comes in time, saying how to wire it', async () => {
    const { out } = start({ confirmTimeoutMs: 30_000 });
    const first = await out.delivery(1);
    await clock.whenTimers(1);
    assert.deepEqual(clock.pendingDelays(), [30_000]);
    clock.advance(30_000);
    await clock.whenTimers(1);
    assert.match(out.warnings.at(-1)!, /no storage confirmation came within 30 s\. Wire the storage node's output \(or a complete node watching it\) back into this node's input/);
    clock.advance(5_000);
    const again = await out.delivery(2);
    assert.deepEqual(consumes(), ['null', 'null']);
    assert.equal(again[0].streamBatch.offset, first[0].streamBatch.offset);
  });

  it('waits at least 60 s after an empty answer, then reads on, with updated values marked', async () => {
    const { controller, out } = start({ idleMs: 60_000 });
    for (let n = 1; n <= 3; n += 1) confirm(controller, await out.delivery(n));
    await clock.whenTimers(1);
    await until(() => out.statuses.at(-1)?.key === 'idle', 'the idle status');
    assert.equal(texts(out).at(-1), 'up to date, 62 stored');
    assert.equal(consumes().length, 4, 'three batches, then the empty answer');
    assert.deepEqual(clock.pendingDelays(), [60_000]);
    const committed = out.deliveries()[2][0].streamBatch.offset;
    assert.equal(metry.lastOffsetOf(metry.streams[0]._id), committed, 'the last batch committed by the request that found the stream empty');

    // Metry corrects December 5 of meter 1 and adds January 1.
    metry.pushToStreams([
      { meter: 1, metric: 'energy', granularity: 'day', slot: at('2023-12-05T00:00:00+01:00'), value: 42.5 },
      { meter: 1, metric: 'energy', granularity: 'day', slot: at('2024-01-01T00:00:00+01:00'), value: 7.25 },
    ]);
    clock.advance(59_999);
    await settle();
    assert.equal(consumes().length, 4, 'not before 60 s');
    clock.advance(1);
    const [message] = await out.delivery(4);
    assert.equal(consumes().at(-1), committed);
    assert.deepEqual(message.payload.map((r: Msg) => [r.start, r.value, r.updated]), [
      ['2023-12-05T00:00:00+01:00', 42.5, true],
      ['2024-01-01T00:00:00+01:00', 7.25, false],
    ]);
  });

  it('backs off and says so when another consumer reads the stream (429)', async () => {
    // Someone else made the stream and is in the middle of a consume request.
    const created = await client.request<{ data: { _id: string } }>({ method: 'POST', path: '/streams', json: { resource: 'consumption', granularity: 'day' }, responseType: 'json' });
    const release = metry.holdConsume();
    const other = client.request({ method: 'POST', path: `/streams/${created.data.data._id}/consume`, jsonText: '{"offset":null}', responseType: 'json' });
    await until(() => consumes().length === 1, 'the other consumer’s request');

    const { out } = start();
    await clock.whenTimers(1);
    assert.equal(out.errors.length, 1);
    assert.match(out.errors[0].message, /Metry answered 429 .* Only one consumer may read a stream at a time: check that no other metry-stream node, flow, Node-RED instance or program consumes this account's day consumption stream\. Trying again in 5 s/);
    assert.equal((out.errors[0] as Error & { code: string }).code, 'RATE_LIMITED');
    assert.equal(texts(out).at(-1), '429: another consumer? 5 s');
    assert.deepEqual(clock.pendingDelays(), [5_000]);

    // Still busy: the next wait is longer, and the same failure is not reported twice.
    clock.advance(5_000);
    await until(() => clock.pendingDelays()[0] === 10_000, 'the second, longer wait');
    assert.equal(out.errors.length, 1);

    release();
    await other;
    clock.advance(10_000);
    const [message] = await out.delivery(1);
    assert.equal(message.streamBatch.streamId, created.data.data._id, 'the existing stream is used');
    assert.equal(metry.streams.length, 1);
  });

  it('reports a failed request once, waits and asks again with the same offset', async () => {
    // Five 500s: the first request and the client's four retries.
    metry.server.fail({ kind: 'status', status: 500 }, 5, /\/consume$/);
    const { out } = start();
    await clock.whenTimers(1);
    assert.equal(out.errors.length, 1);
    assert.match(out.errors[0].message, /Metry had a server error \(HTTP 500\).* Trying again in 5 s\.$/);
    assert.equal(texts(out).at(-1), '500, again in 5 s');
    clock.advance(5_000);
    await out.delivery(1);
    assert.deepEqual(consumes(), ['null', 'null', 'null', 'null', 'null', 'null']);
    assert.deepEqual(texts(out), ['opening stream', 'reading stream', '500, again in 5 s', 'reading stream', 'storing 25 readings']);
  });

  it('resumes after a crash from the stream’s last_offset: the unconfirmed batch comes again', async () => {
    const crashed = start();
    confirm(crashed.controller, await crashed.out.delivery(1));
    const unconfirmed = await crashed.out.delivery(2);
    const committed = crashed.out.deliveries()[0][0].streamBatch.offset;
    await crashed.controller.close(); // the process dies while the batch is being stored

    metry.server.reset();
    const restarted = start();
    const again = await restarted.out.delivery(1);
    assert.ok(metry.server.requestsTo(`/api/v2/streams/${metry.streams[0]._id}`).length >= 1, 'GET /streams/{id} for last_offset');
    assert.deepEqual(consumes(), [committed], 'from last_offset, exactly');
    assert.equal(again[0].streamBatch.offset, unconfirmed[0].streamBatch.offset);
    assert.deepEqual(again.map((m) => m.payload.map((r: Msg) => [r.meterId, r.start, r.value])), unconfirmed.map((m) => m.payload.map((r: Msg) => [r.meterId, r.start, r.value])));
  });

  it('sends values that fail a check to the second output and stores the rest', async () => {
    metry.clearMeters();
    metry.addMeters(1, { timezone: 'Europe/Stockholm', granularities: ['hour'], dataFrom: '2023-10-29T01:00:00+02:00', dataUntil: '2023-10-29T05:00:00+01:00' });
    const { controller, out } = start({ granularity: 'hour' });
    const [message] = await out.delivery(1);
    // 01, 02 (summer time), 02 (winter time), 03, 04: Metry's period id cannot tell the two 02s apart.
    assert.deepEqual(message.payload.map((r: Msg) => r.period), ['2023102901', '2023102903', '2023102904']);
    assert.equal(out.rejected.length, 1);
    assert.deepEqual(out.rejected[0].payload.map((r: Msg) => [r.meterId, r.value.period]), [[FakeMetry.rootId(0), '2023102902'], [FakeMetry.rootId(0), '2023102902']]);
    assert.match(out.rejected[0].payload[0].reason, /occurs twice in Europe\/Stockholm/);
    assert.deepEqual(out.rejected[0].stream, { id: metry.streams[0]._id, offset: message.streamBatch.offset });
    assert.match(out.warnings[0], /2 value\(s\) of stream batch \d+ failed a check/);
    confirm(controller, [message]);
    await clock.whenTimers(1);
    assert.equal(metry.lastOffsetOf(metry.streams[0]._id), message.streamBatch.offset, 'the batch goes on: nothing blocks');
  });

  it('finds or creates the stream again when it was deleted in Metry', async () => {
    const { controller, out } = start({ idleMs: 60_000 });
    for (let n = 1; n <= 3; n += 1) confirm(controller, await out.delivery(n));
    await until(() => out.statuses.at(-1)?.key === 'idle', 'the idle status');
    const gone = metry.streams[0]._id;
    await client.request({ method: 'DELETE', path: `/streams/${gone}` });
    clock.advance(60_000);
    await clock.whenTimers(1);
    assert.match(out.warnings.at(-1)!, new RegExp(`Metry stream ${gone} no longer exists`));
    assert.deepEqual(clock.pendingDelays(), [5_000], 'not in a tight loop');
    clock.advance(5_000);
    const [again] = await out.delivery(4);
    assert.notEqual(again.streamBatch.streamId, gone);
    assert.deepEqual(metry.streams.map((s) => s._id), [again.streamBatch.streamId]);
    assert.equal(again.payload[0].start, '2023-12-01T00:00:00+01:00', 'a new stream starts with all history');
  });

  it('refuses settings Metry or the flow cannot work with, naming the field', () => {
    assert.deepEqual(readStreamSettings({}), { granularity: 'day', maxReadings: 1000, confirmTimeoutMs: 120_000, idleMs: 300_000 });
    assert.equal(readStreamSettings({ granularity: 'all' }).granularity, null);
    for (const [config, field] of [[{ idleInterval: '30' }, 'When up to date'], [{ granularity: 'week' }, 'Granularity'], [{ maxReadings: '0' }, 'Readings per message'], [{ confirmTimeout: 'soon' }, 'Storage confirmation']] as const) {
      assert.throws(() => readStreamSettings(config), (error: unknown) => isConfigError(error) && error.field === field);
    }
  });

  it('stops at a config problem with a clear error instead of retrying', async () => {
    const problem = Object.assign(new Error('No Metry config node is selected. Open the node and choose or add one.'), { code: 'CONFIG' });
    const { out } = start({}, {
      requester: () => {
        throw problem;
      },
    });
    await until(() => out.errors.length === 1, 'the config error');
    assert.equal(out.errors[0], problem);
    assert.deepEqual(out.statuses.at(-1), { kind: 'error', fill: 'red', shape: 'ring', key: 'error', params: { code: 'config' } });
    assert.equal(clock.pending, 0, 'no retry');
    assert.equal(metry.server.requests.length, 0);
  });

  it('wakes on the clock only: a closed controller sends nothing more', async () => {
    const { controller, out } = start({ idleMs: 60_000 });
    for (let n = 1; n <= 3; n += 1) confirm(controller, await out.delivery(n));
    await until(() => out.statuses.at(-1)?.key === 'idle', 'the idle status');
    await controller.close();
    assert.equal(clock.pending, 0, 'the idle wait is cancelled');
    clock.advance(DAY);
    await settle();
    assert.equal(consumes().length, 4);
  });
});
