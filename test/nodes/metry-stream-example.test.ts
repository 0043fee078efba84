/**
 * Runs the metry-stream-import example as shipped, in the real runtime with the real core nodes
 * and node-red-node-sqlite, against the fake Metry's streams: all history into the table; a
 * write that fails (the batch comes again, nothing is committed meanwhile) with a corrected value
 * and a new day in it; a restart that goes on from the stream's last_offset without a duplicate.
 */
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NodeMessage } from 'node-red';
import { helper, nodeModule, repoRoot } from '../../testing/runtime';
import { FakeMetry, METRY_TEST_TOKEN, fakeValue } from '../../testing/fakes/metry';
import { ManualClock, settle, until } from '../../testing/manual-clock';
import { withCatalogs } from '../../testing/catalog';

/* eslint-disable @typescript-eslint/no-require-imports */
const core = (file: string): unknown => require(path.join(repoRoot, 'node_modules/@node-red/nodes/core', file));
const sqliteNode = require(path.join(repoRoot, 'node_modules/node-red-node-sqlite/sqlite.js'));
const sqlite3 = require('sqlite3');
/* eslint-enable @typescript-eslint/no-require-imports */

type FlowNode = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const flow = JSON.parse(fs.readFileSync(path.join(repoRoot, 'examples', 'metry-stream-import.json'), 'utf8')) as FlowNode[];
const byName = (name: string): FlowNode => flow.find((n) => n.name === name)!;

function query(file: string, sql: string, params: unknown[] = []): Promise<FlowNode[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file);
    db.all(sql, params, (err: Error | null, rows: FlowNode[]) => db.close(() => (err ? reject(err) : resolve(rows))));
  });
}

const at = (iso: string): number => Date.parse(iso);

describe('the metry-stream-import example', () => {
  let metry: FakeMetry;
  let clock: ManualClock;
  let dbFile: string;

  before(async () => {
    metry = await new FakeMetry().start();
    await new Promise<void>((resolve) => helper.startServer(resolve));
    dbFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'metry-stream-example-')), 'readings.sqlite');
    clock = new ManualClock(at('2024-01-15T12:00:00+01:00'));
    metry.streamBatchSize = 40;
    // 3 meters × 31 December days: batches of 40, 40 and 13 values.
    metry.addMeters(3, { dataFrom: '2023-12-01T00:00:00+01:00', dataUntil: '2024-01-01T00:00:00+01:00' });
    // The table as the example's deploy inject makes it (here before the flow starts: a first
    // batch that came before the table would only be delivered again, after a wait on the clock).
    await query(dbFile, byName('create table on deploy').topic);
  });
  after(async () => {
    helper.settings({ energyExportClock: undefined } as never);
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await metry.stop();
  });
  beforeEach(() => helper.settings({ energyExportClock: clock } as never));
  afterEach(() => helper.unload());

  /** Loads the example pointed at the fake and the temp database; debug nodes become helpers. */
  async function load(): Promise<{ statuses: () => string[]; warnings: () => string[]; rejected: NodeMessage[] }> {
    const tab = { id: 'ex-tab', type: 'tab', label: 'example' };
    const nodes = flow.map((node) => {
      const copy: FlowNode = { ...node, z: tab.id };
      // No requests-per-second limit: the limiter's timers would run on the test clock too.
      if (copy.type === 'energy-service') Object.assign(copy, { baseUrl: metry.baseUrl, requestsPerSecond: '0' });
      if (copy.type === 'sqlitedb') copy.db = dbFile;
      if (copy.type === 'debug') return { id: copy.id, z: tab.id, type: 'helper', name: copy.name };
      return copy;
    });
    const config = flow.find((n) => n.type === 'energy-service')!;
    await helper.load(
      [nodeModule('energy-service'), withCatalogs(nodeModule('metry-stream')), core('common/20-inject.js'), core('common/25-catch.js'), core('function/10-function.js'), core('common/90-comment.js'), sqliteNode] as never,
      [tab, ...nodes] as never,
      { [config.id]: { token: METRY_TEST_TOKEN } },
    );
    const node = helper.getNode(byName('metry stream').id) as unknown as { status: { args: { text?: string }[][] }; warn: { args: unknown[][] } };
    const rejected: NodeMessage[] = [];
    helper.getNode(byName('rejected values: keep them').id).on('input', (msg: NodeMessage) => rejected.push(msg));
    return { statuses: () => node.status.args.map((a) => a[0].text ?? ''), warnings: () => node.warn.args.map((a) => String(a[0])), rejected };
  }

  const count = async () => (await query(dbFile, 'SELECT COUNT(*) AS n FROM readings'))[0].n as number;
  const stored = async (meter: number, start: string) =>
    (await query(dbFile, "SELECT value FROM readings WHERE source = 'metry' AND meter_id = ? AND granularity = 'day' AND start = ?", [FakeMetry.rootId(meter), start]))[0]?.value as number | undefined;

  it('01 imports all history through the stream, each batch committed after its rows are stored', async () => {
    assert.equal(flow[0].type, 'comment', 'the example starts by explaining what to configure');
    assert.match(flow[0].info, /node-red-node-sqlite/);
    assert.match(flow[0].info, /Manage palette/);
    assert.ok(flow.every((n) => !n.credentials), 'no credentials in the example');
    const stream = byName('metry stream');
    const table = byName('readings table');
    assert.deepEqual(table.wires, [[stream.id]], 'the storage confirmation is wired back');
    assert.ok(byName('storage errors').scope.includes(table.id) && byName('storage errors').wires[0].includes(stream.id), 'and a failed write too');
    assert.equal(byName('create table on deploy').topic, JSON.parse(fs.readFileSync(path.join(repoRoot, 'examples', 'metry-daily-export.json'), 'utf8')).find((n: FlowNode) => n.name === 'create table on deploy').topic, 'the table and key of the nightly export');

    const example = await load();
    await until(() => example.statuses().includes('up to date, 93 stored'), 'the history stored');
    assert.equal(await count(), 93);
    assert.equal(await stored(2, '2023-12-24T00:00:00+01:00'), fakeValue(2, 'energy', 'day', at('2023-12-24T00:00:00+01:00')));
    const sent = metry.sentOffsets();
    assert.equal(sent.length, 4, 'three batches and the empty answer');
    assert.equal(sent[0], 'null');
    assert.equal(metry.lastOffsetOf(metry.streams[0]._id), sent[3], 'the last batch committed, every digit');
    assert.equal(example.rejected.length, 0);
  });

  it('02 loses nothing when a write fails: the batch comes again and is committed only once stored', async () => {
    const example = await load();
    await until(() => example.statuses().some((s) => s.startsWith('up to date')), 'the stream read from its last_offset');
    const committed = metry.lastOffsetOf(metry.streams[0]._id)!;
    assert.equal(metry.sentOffsets().at(-1), committed, 'after the deploy it went on from last_offset');
    await query(dbFile, "CREATE TRIGGER disk_full BEFORE INSERT ON readings BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    // Metry corrects meter 0's December 5 and adds January 1 for meter 1.
    metry.pushToStreams([
      { meter: 0, metric: 'energy', granularity: 'day', slot: at('2023-12-05T00:00:00+01:00'), value: 123.4 },
      { meter: 1, metric: 'energy', granularity: 'day', slot: at('2024-01-01T00:00:00+01:00'), value: 7.5 },
    ]);
    const waits = example.warnings().length;
    await clock.whenTimers(1);
    clock.advance(clock.pendingDelays()[0]); // the idle wait
    await until(() => example.warnings().length > waits, 'the failed write reported');
    assert.match(example.warnings().at(-1)!, /was not stored: the storage reported: .*database or disk is full/);
    assert.equal(metry.lastOffsetOf(metry.streams[0]._id), committed, 'not committed');
    assert.equal(await count(), 93);

    await query(dbFile, 'DROP TRIGGER disk_full');
    await clock.whenTimers(1);
    clock.advance(clock.pendingDelays()[0]); // the wait before delivering it again
    await until(async () => (await count()) === 94, 'the batch stored');
    await until(() => metry.lastOffsetOf(metry.streams[0]._id) !== committed, 'the batch committed');
    assert.equal(await stored(0, '2023-12-05T00:00:00+01:00'), 123.4, 'the corrected value overwrote the row');
    assert.equal(await stored(1, '2024-01-01T00:00:00+01:00'), 7.5);
  });

  it('03 goes on from last_offset after a restart, without a duplicate row', async () => {
    metry.server.reset();
    const committed = metry.lastOffsetOf(metry.streams[0]._id)!;
    const example = await load();
    await until(() => example.statuses().some((s) => s.startsWith('up to date')), 'the stream read');
    await settle();
    assert.deepEqual(metry.sentOffsets(), [committed]);
    assert.equal(metry.server.requestsTo('/api/v2/streams').filter((r) => r.method === 'POST').length, 0, 'the stream is reused');
    assert.equal(await count(), 94);
  });
});
