/**
 * metry-stream in the Node-RED runtime against the fake Metry, with its storage confirmation
 * wired the Node-RED way: a function node stands in for the storage (it stores, fails with
 * node.error, or holds a message), its output goes back into metry-stream, and a Catch node on it
 * too. Time is a ManualClock (Node-RED settings `energyExportClock`); the config node has no
 * requests-per-second limit, so only the stream's own waits are timers.
 */
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { NodeMessage } from 'node-red';
import { helper, nodeModule, repoRoot } from '../../testing/runtime';
import { FakeMetry, METRY_TEST_TOKEN, fakeValue } from '../../testing/fakes/metry';
import { ManualClock, settle, until } from '../../testing/manual-clock';
import { withCatalogs } from '../../testing/catalog';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Spied = { status: { args: { text?: string }[][] }; warn: { args: unknown[][] }; error: { args: unknown[][] } };

/* eslint-disable-next-line @typescript-eslint/no-require-imports */
const core = (file: string): unknown => require(path.join(repoRoot, 'node_modules/@node-red/nodes/core', file));

/**
 * The stand-in storage: global `storage` says what it does with the messages (store, fail, or
 * hold them without an answer); `storeLimit` holds every message after that many were stored.
 */
const STORAGE = `
const mode = global.get('storage') || 'store';
if (mode === 'fail') { node.error(new Error('SQLITE_FULL: database or disk is full'), msg); return null; }
const count = global.get('storedMessages') || 0;
const limit = global.get('storeLimit');
if (mode === 'hold' || (limit !== undefined && count >= limit)) { return null; }
global.set('storedMessages', count + 1);
global.set('stored', (global.get('stored') || []).concat(msg.payload));
return msg;`;

describe('metry-stream in the Node-RED runtime', () => {
  let metry: FakeMetry;
  let clock: ManualClock;

  before(async () => {
    metry = await new FakeMetry().start();
    await new Promise<void>((resolve) => helper.startServer(resolve));
  });
  after(async () => {
    helper.settings({ energyExportClock: undefined } as never);
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await metry.stop();
  });
  beforeEach(() => {
    clock = new ManualClock(Date.parse('2024-01-15T12:00:00+01:00'));
    helper.settings({ energyExportClock: clock } as never);
    metry.server.reset();
    metry.clearMeters();
    metry.streams.length = 0;
    metry.streamBatchSize = 25;
    // 2 meters × 31 December days: batches of 25, 25 and 12 values.
    metry.addMeters(2, { dataFrom: '2023-12-01T00:00:00+01:00', dataUntil: '2024-01-01T00:00:00+01:00' });
  });
  afterEach(() => helper.unload());

  async function load(props: Record<string, unknown> = {}, confirmWired = true) {
    const nodes = [
      { id: 'f1', type: 'tab', label: 'stream' },
      { id: 'cfg', z: 'f1', type: 'energy-service', service: 'metry', baseUrl: metry.baseUrl, requestsPerSecond: '0' },
      { id: 'str', z: 'f1', type: 'metry-stream', server: 'cfg', granularity: 'day', maxReadings: '', confirmTimeout: '', idleInterval: '60', wires: [['store', 'emitted'], ['rejected']], ...props },
      { id: 'store', z: 'f1', type: 'function', func: STORAGE, outputs: 1, wires: [confirmWired ? ['str'] : []] },
      { id: 'storageErrors', z: 'f1', type: 'catch', scope: ['store'], uncaught: false, wires: [['str']] },
      { id: 'emitted', z: 'f1', type: 'helper' },
      { id: 'rejected', z: 'f1', type: 'helper' },
    ];
    await helper.load([nodeModule('energy-service'), withCatalogs(nodeModule('metry-stream')), core('function/10-function.js')] as never, nodes as never, { cfg: { token: METRY_TEST_TOKEN } });
    const collect = (id: string): Msg[] => {
      const list: Msg[] = [];
      helper.getNode(id).on('input', (msg: NodeMessage) => list.push(msg as Msg));
      return list;
    };
    const node = helper.getNode('str') as unknown as Spied;
    // Before the first batch can arrive (it needs several requests): a fresh storage.
    const global = helper.getNode('store').context().global;
    for (const key of ['storage', 'storeLimit', 'storedMessages', 'stored']) global.set(key, undefined);
    return {
      emitted: collect('emitted'),
      // The node's errors as a Catch node would get them (node.error(err, msg)).
      errors: () => node.error.args.map((a) => a[0] as Error),
      statuses: () => node.status.args.map((a) => a[0].text ?? ''),
      warnings: () => node.warn.args.map((a) => String(a[0])),
      stored: () => (helper.getNode('store').context().global.get('stored') as Msg[] | undefined) ?? [],
      storage: (mode: 'store' | 'fail' | 'hold') => global.set('storage', mode),
      storeLimit: (messages: number) => global.set('storeLimit', messages),
    };
  }

  const offsetsOf = (emitted: Msg[]) => [...new Set(emitted.map((m) => m.streamBatch.offset as string))];

  it('creates the stream on deploy, stores batch after batch through the confirmation wire, then waits 60 s', async () => {
    const flow = await load();
    flow.storage('store');
    await until(() => flow.statuses().includes('up to date, 62 stored'), 'the stream read to its end');
    assert.deepEqual(metry.streams.map((s) => s.granularity), ['day']);
    const stored = flow.stored();
    assert.equal(stored.length, 62);
    const first = stored.find((r) => r.meterId === FakeMetry.rootId(1) && r.period === '20231224')!;
    assert.deepEqual([first.start, first.end, first.value, first.updated], ['2023-12-24T00:00:00+01:00', '2023-12-25T00:00:00+01:00', fakeValue(1, 'energy', 'day', Date.parse('2023-12-24T00:00:00+01:00')), false]);
    const offsets = offsetsOf(flow.emitted);
    assert.equal(offsets.length, 3);
    // Each offset went back with every digit, and only once its batch was stored.
    assert.deepEqual(metry.sentOffsets(), ['null', ...offsets]);
    assert.ok(offsets.every((o) => /^\d{19}$/.test(o) && BigInt(o) > BigInt(Number.MAX_SAFE_INTEGER)));
    assert.equal(metry.lastOffsetOf(metry.streams[0]._id), offsets[2]);

    await clock.whenTimers(1);
    assert.deepEqual(clock.pendingDelays(), [60_000]);
    clock.advance(59_999);
    await settle();
    assert.equal(metry.sentOffsets().length, 4, 'not before 60 s');
    metry.pushToStreams([{ meter: 0, metric: 'energy', granularity: 'day', slot: Date.parse('2023-12-31T00:00:00+01:00'), value: 99.5 }]);
    clock.advance(1);
    await until(() => flow.stored().length === 63, 'the corrected value stored');
    assert.deepEqual(flow.stored().at(-1)!.value, 99.5);
    assert.equal(flow.stored().at(-1)!.updated, true);
    assert.equal(flow.errors().length, 0);
  });

  it('delivers a batch again after a storage failure caught by a Catch node, and never commits it', async () => {
    const flow = await load();
    flow.storage('fail');
    await clock.whenTimers(1);
    await until(() => flow.warnings().some((w) => /was not stored/.test(w)), 'the failure reported');
    assert.match(flow.warnings().at(-1)!, /the storage reported: (Error: )?SQLITE_FULL: database or disk is full\. Its offset is not committed; the batch is delivered again in \d+ s/);
    assert.match(flow.statuses().at(-1)!, /^not stored, again in \d+ s$/);
    assert.deepEqual(metry.sentOffsets(), ['null']);
    assert.equal(metry.lastOffsetOf(metry.streams[0]._id), null);

    flow.storage('store');
    clock.advance(clock.pendingDelays()[0]);
    await until(() => flow.statuses().includes('up to date, 62 stored'), 'the stream read to its end');
    const offsets = offsetsOf(flow.emitted);
    assert.deepEqual(metry.sentOffsets(), ['null', 'null', ...offsets], 'the first batch asked for again, then on');
    assert.equal(flow.stored().length, 62);
    assert.equal(flow.emitted.filter((m) => m.streamBatch.offset === offsets[0]).length, 2, 'the first batch delivered twice');
  });

  it('says how to wire the confirmation when none comes, and delivers the batch again', async () => {
    const flow = await load({ confirmTimeout: '10' }, false);
    flow.storage('store');
    await until(() => flow.emitted.length === 1, 'the first batch');
    await clock.whenTimers(1);
    assert.deepEqual(clock.pendingDelays(), [10_000]);
    clock.advance(10_000);
    await until(() => flow.warnings().some((w) => /no storage confirmation came within 10 s/.test(w)), 'the warning');
    assert.match(flow.warnings().at(-1)!, /Wire the storage node's output \(or a complete node watching it\) back into this node's input, keeping msg\.streamBatch/);
    await clock.whenTimers(1);
    clock.advance(clock.pendingDelays()[0]);
    await until(() => flow.emitted.length === 2, 'the batch again');
    assert.equal(flow.emitted[1].streamBatch.offset, flow.emitted[0].streamBatch.offset);
    assert.deepEqual(metry.sentOffsets(), ['null', 'null']);
  });

  it('resumes after a restart from the stream’s last_offset: the batch being stored comes again', async () => {
    let flow = await load();
    flow.storeLimit(1);
    await until(() => flow.emitted.length === 3, 'the first batch (one meter) stored, the second (two meters) delivered');
    const [committed, unconfirmed] = offsetsOf(flow.emitted);
    await settle();
    assert.equal(metry.lastOffsetOf(metry.streams[0]._id), committed, 'the batch being stored is not committed');
    await helper.unload(); // Node-RED stops (or crashes) while the second batch is being stored

    metry.server.reset();
    flow = await load();
    flow.storage('store');
    await until(() => flow.emitted.length >= 2, 'the second batch again');
    assert.deepEqual(metry.sentOffsets()[0], committed, 'from last_offset, every digit');
    assert.equal(flow.emitted[0].streamBatch.offset, unconfirmed);
    assert.equal(metry.streams.length, 1, 'the same stream');
  });

  it('reports 429 from a second consumer once, as an error for Catch nodes, and reads on when it is gone', async () => {
    const created = await fetch(`${metry.baseUrl}/streams`, { method: 'POST', headers: { authorization: `Bearer ${METRY_TEST_TOKEN}`, 'content-type': 'application/json' }, body: '{"resource":"consumption","granularity":"day"}' });
    const streamId = ((await created.json()) as { data: { _id: string } }).data._id;
    const release = metry.holdConsume();
    const other = fetch(`${metry.baseUrl}/streams/${streamId}/consume`, { method: 'POST', headers: { authorization: `Bearer ${METRY_TEST_TOKEN}` }, body: '{"offset":null}' });
    await until(() => metry.sentOffsets().length === 1, 'the other consumer’s request');

    const flow = await load();
    flow.storage('store');
    await until(() => flow.errors().length === 1, 'the 429 reported');
    assert.match(flow.errors()[0].message, /Only one consumer may read a stream at a time/);
    assert.match(flow.statuses().at(-1)!, /^429: another consumer\? \d+ s$/);
    await clock.whenTimers(1);
    clock.advance(clock.pendingDelays()[0]);
    await until(() => flow.statuses().filter((s) => s.startsWith('429')).length === 2, 'the second 429');
    assert.equal(flow.errors().length, 1, 'reported once');

    release();
    await other;
    await clock.whenTimers(1);
    clock.advance(clock.pendingDelays()[0]);
    await until(() => flow.statuses().includes('up to date, 62 stored'), 'the stream read');
    assert.equal(metry.streams.length, 1);
  });

  it('refuses a bad setting at deploy, naming it', async () => {
    const flow = await load({ idleInterval: '10' });
    const node = helper.getNode('str') as unknown as Spied;
    await until(() => node.error.args.length === 1, 'the config error');
    assert.match(String((node.error.args[0][0] as Error).message), /When up to date is "10": enter a number from 60 to 86400 seconds/);
    assert.deepEqual(flow.statuses(), ['config']);
    assert.equal(metry.server.requests.length, 0);
  });
});
