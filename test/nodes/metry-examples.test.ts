/**
 * Runs the two Metry example flows as shipped, in the real runtime with the real core nodes and
 * node-red-node-sqlite, against the fake Metry. The nightly export: twice (the cursor comes from
 * the table, each period stored once); a night whose writes fail, then a rerun that fetches what
 * was not stored; a night where Metry filled in a late value and corrected another (look-back).
 * Then the forced re-export (a tampered row is overwritten, no row added).
 */
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NodeMessage } from 'node-red';
import { helper, nodeModule, repoRoot } from '../../testing/runtime';
import { FakeMetry, METRY_TEST_TOKEN, fakeValue } from '../../testing/fakes/metry';
import { ManualClock, until } from '../../testing/manual-clock';

/* eslint-disable @typescript-eslint/no-require-imports */
const core = (file: string): unknown => require(path.join(repoRoot, 'node_modules/@node-red/nodes/core', file));
const sqliteNode = require(path.join(repoRoot, 'node_modules/node-red-node-sqlite/sqlite.js'));
const sqlite3 = require('sqlite3');
/* eslint-enable @typescript-eslint/no-require-imports */

type FlowNode = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function example(name: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.join(repoRoot, 'examples', name), 'utf8')) as FlowNode[];
}

function query(file: string, sql: string, params: unknown[] = []): Promise<FlowNode[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file);
    db.all(sql, params, (err: Error | null, rows: FlowNode[]) => db.close(() => (err ? reject(err) : resolve(rows))));
  });
}

const DAY = 86_400_000;
const at = (iso: string): number => Date.parse(iso);

describe('the Metry example flows', () => {
  let metry: FakeMetry;
  let clock: ManualClock;
  let dbFile: string;
  let dataUntil = '2024-01-01T00:00:00+01:00';
  /** Meter 2's January 12 reaches Metry late. */
  let late = true;
  /** Metry's correction of meter 0's January 13, once it made one. */
  let correction: number | undefined;

  before(async () => {
    metry = await new FakeMetry().start();
    await new Promise<void>((resolve) => helper.startServer(resolve));
    dbFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'metry-example-')), 'export.sqlite');
    clock = ManualClock.autoAdvancing(at('2024-01-15T03:15:00+01:00'));
    metry.addMeters(3, (i) => ({
      dataFrom: '2023-12-01T00:00:00+01:00',
      dataUntil,
      isNull: (_metric, _granularity, slot) => late && i === 2 && slot === at('2024-01-12T00:00:00+01:00'),
      correct: (_metric, _granularity, slot) => (i === 0 && slot === at('2024-01-13T00:00:00+01:00') ? correction : undefined),
    }));
  });
  after(async () => {
    helper.settings({ energyExportClock: undefined } as never);
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await metry.stop();
  });
  beforeEach(() => helper.settings({ energyExportClock: clock } as never));
  afterEach(() => helper.unload());

  /** Loads an example with its config pointed at the fake and the database in a temp dir; sinks become helpers. */
  async function load(flow: FlowNode[]): Promise<Map<string, NodeMessage[]>> {
    const tab = { id: 'ex-tab', type: 'tab', label: 'example' };
    const received = new Map<string, NodeMessage[]>();
    const nodes: FlowNode[] = flow.map((node) => {
      const copy: FlowNode = { ...node, z: tab.id };
      if (copy.type === 'energy-service') copy.baseUrl = metry.baseUrl;
      if (copy.type === 'sqlitedb') copy.db = dbFile;
      if (copy.type === 'debug') return { id: copy.id, z: tab.id, type: 'helper', name: copy.name };
      if (copy.type === 'sqlite') copy.wires = [[...(copy.wires[0] ?? []), `${copy.id}-done`]];
      return copy;
    });
    for (const sqlite of flow.filter((n) => n.type === 'sqlite')) nodes.push({ id: `${sqlite.id}-done`, z: tab.id, type: 'helper' });
    const config = flow.find((n) => n.type === 'energy-service')!;
    await helper.load(
      [
        nodeModule('energy-service'),
        nodeModule('metry-meters'),
        nodeModule('metry-consumption'),
        core('common/20-inject.js'),
        core('common/25-catch.js'),
        core('function/10-function.js'),
        core('function/15-change.js'),
        core('common/90-comment.js'),
        sqliteNode,
      ] as never,
      [tab, ...nodes] as never,
      { [config.id]: { token: METRY_TEST_TOKEN } },
    );
    for (const node of nodes.filter((n) => n.type === 'helper')) {
      const list: NodeMessage[] = [];
      received.set(node.id, list);
      helper.getNode(node.id).on('input', (msg: NodeMessage) => list.push(msg));
    }
    return received;
  }

  /** The nightly example, loaded, with a way to run one night and wait until it is done. */
  async function nightlyExample() {
    const flow = example('metry-daily-export.json');
    const received = await load(flow);
    const id = (predicate: (n: FlowNode) => boolean) => flow.find(predicate)!.id;
    const nightly = id((n) => n.type === 'inject' && n.crontab);
    const reports = received.get(id((n) => n.name?.startsWith('export report')))!;
    const errors = received.get(id((n) => n.name?.startsWith('storage errors')))!;
    const written = received.get(`${id((n) => n.type === 'sqlite' && n.name === 'readings table')}-done`)!;
    // The "create table on deploy" inject runs by itself, through the same sqlite node.
    await until(() => written.length === 1, 'the table created on deploy');
    /** Runs a night; resolves when its report came and every meter's upsert either was written or failed. */
    const night = async (): Promise<void> => {
      const [r, w, e] = [reports.length, written.length, errors.length];
      metry.server.reset();
      helper.getNode(nightly).receive({} as NodeMessage);
      await until(() => reports.length === r + 1 && written.length + errors.length >= w + e + 3, 'the night to end');
    };
    return { flow, night, errors, written };
  }

  const count = async (where = '1 = 1', params: unknown[] = []) => (await query(dbFile, `SELECT COUNT(*) AS n FROM readings WHERE ${where}`, params))[0].n as number;
  const stored = async (meter: number, start: string) =>
    (await query(dbFile, 'SELECT value FROM readings WHERE meter_id = ? AND start = ?', [FakeMetry.rootId(meter), start]))[0]?.value as number | null | undefined;

  it('01 exports new daily values every night into SQLite, the cursor read from the table', async () => {
    const { flow, night } = await nightlyExample();
    assert.equal(flow[0].type, 'comment', 'the example starts by explaining what to configure');
    assert.ok(flow.every((n) => !n.credentials), 'no credentials in the example');
    const consumption = flow.find((n) => n.type === 'metry-consumption')!;
    assert.deepEqual([consumption.cursor, consumption.lookBack], ['input', ''], 'the database cursor, the default look-back');

    await night();
    assert.equal(await count(), 3 * 31);
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.meters.length, r.period]), [[3, '20231201-20231231']]);

    // The next night: ten more days in Metry.
    dataUntil = '2024-01-11T00:00:00+01:00';
    clock.advance(DAY);
    await night();
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.multi, r.period]), [[true, '20231229-20240110']], 'from the last stored day, 3 days back');
    const rows = await query(dbFile, 'SELECT meter_id, start, value, granularity FROM readings ORDER BY meter_id, start');
    assert.equal(rows.length, 3 * 41, 'December and ten January days, each once');
    const row = rows.find((r) => r.meter_id === FakeMetry.rootId(2) && r.start === '2024-01-05T00:00:00+01:00')!;
    assert.equal(row.value, fakeValue(2, 'energy', 'day', at('2024-01-05T00:00:00+01:00')));
    assert.equal(row.granularity, 'day');
  });

  // Each test below goes on with the database the one before left.
  it('02 loses no day when the writes fail: the rerun fetches what was not stored', async () => {
    const { night, errors } = await nightlyExample();
    dataUntil = '2024-01-14T00:00:00+01:00';
    clock.advance(3 * DAY);
    await query(dbFile, "CREATE TRIGGER disk_full BEFORE INSERT ON readings BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    await night();
    assert.equal(errors.length, 3, 'every meter failed to store');
    assert.match(String((errors[0] as NodeMessage & { error: { message: string } }).error.message), /disk is full/);
    assert.equal(await count(), 3 * 41, 'nothing of January 11-13 stored');

    await query(dbFile, 'DROP TRIGGER disk_full');
    await night();
    assert.deepEqual(metry.consumptionRequests().map((r) => r.period), ['20240108-20240113'], 'the table still ends on January 10');
    assert.equal(await count(), 3 * 44);
    for (const meter of [0, 1]) {
      for (const day of ['11', '12', '13']) {
        const start = `2024-01-${day}T00:00:00+01:00`;
        assert.equal(await stored(meter, start), fakeValue(meter, 'energy', 'day', at(start)));
      }
    }
    assert.equal(await stored(2, '2024-01-12T00:00:00+01:00'), null, 'meter 2 has no January 12 in Metry yet');
  });

  it('03 picks up a value Metry added late and a value it corrected, within the look-back', async () => {
    const { night } = await nightlyExample();
    late = false;
    correction = 123.4;
    dataUntil = '2024-01-15T00:00:00+01:00';
    clock.advance(DAY);
    await night();
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.meters.length, r.period]), [[3, '20240111-20240114']]);
    assert.equal(await stored(2, '2024-01-12T00:00:00+01:00'), fakeValue(2, 'energy', 'day', at('2024-01-12T00:00:00+01:00')), 'the late value');
    assert.equal(await stored(0, '2024-01-13T00:00:00+01:00'), 123.4, 'the corrected value');
    assert.equal(await count(), 3 * 45, 'upserted: one row per day, no duplicates');
  });

  it('04 re-exports a meter and period and overwrites the stored rows', async () => {
    const target = at('2023-12-24T00:00:00+01:00');
    await query(dbFile, 'UPDATE readings SET value = -1 WHERE meter_id = ? AND start >= ? AND start < ?', [FakeMetry.rootId(1), '2023-12-20', '2024']);
    assert.equal(await count('value = -1'), 12, 'twelve rows tampered with');
    const before = await count();
    const flow = example('metry-force-reexport.json');
    const inject = flow.find((n) => n.type === 'inject')!;
    inject.props = [{ p: 'force', v: JSON.stringify({ meter: FakeMetry.rootId(1), period: '20231220-20231231' }), vt: 'json' }];
    const received = await load(flow);
    const sqlite = flow.find((n) => n.type === 'sqlite')!;
    metry.server.reset();
    helper.getNode(inject.id).receive({} as NodeMessage);
    await until(() => received.get(`${sqlite.id}-done`)!.length === 1, 'the forced export');
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.meters, r.period]), [[[FakeMetry.rootId(1)], '20231220-20231231']]);
    assert.equal(metry.server.requestsTo(/\/meters\/./).length, 0, 'the meter was found in the listing, not by GET /meters/{root._id}');
    assert.equal((received.get(`${sqlite.id}-done`)![0] as NodeMessage & { rows: number }).rows, 12);
    assert.equal(await count(), before, 'overwritten, not added');
    assert.equal(await stored(1, '2023-12-24T00:00:00+01:00'), fakeValue(1, 'energy', 'day', target));
    assert.equal(await count('value = -1'), 0);
  });
});
