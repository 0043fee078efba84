/**
 * Runs the two Metry example flows as shipped, in the real runtime with the real core nodes and
 * node-red-node-sqlite, against the fake Metry: the nightly export twice (no duplicates, only new
 * rows), then the forced re-export (a tampered row is overwritten, no row added).
 */
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NodeMessage } from 'node-red';
import { helper, nodeModule, repoRoot } from '../../testing/runtime';
import { FakeMetry, METRY_TEST_TOKEN, fakeValue } from '../../testing/fakes/metry';
import { ManualClock } from '../../testing/manual-clock';

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

describe('the Metry example flows', () => {
  let metry: FakeMetry;
  let clock: ManualClock;
  let dbFile: string;
  let until = '2024-01-01T00:00:00+01:00';

  before(async () => {
    metry = await new FakeMetry().start();
    await new Promise<void>((resolve) => helper.startServer(resolve));
    dbFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'metry-example-')), 'export.sqlite');
    clock = ManualClock.autoAdvancing(Date.parse('2024-01-15T03:15:00+01:00'));
    metry.addMeters(3, () => ({ dataFrom: '2023-12-01T00:00:00+01:00', dataUntil: until }));
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
      [nodeModule('energy-service'), nodeModule('metry-meters'), nodeModule('metry-consumption'), core('common/20-inject.js'), core('function/10-function.js'), core('common/90-comment.js'), sqliteNode] as never,
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

  async function until_(predicate: () => boolean | Promise<boolean>, what: string): Promise<void> {
    for (let i = 0; i < 500; i += 1) {
      if (await predicate()) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('01 exports new daily values every night into SQLite without duplicates', async () => {
    const flow = example('metry-daily-export.json');
    assert.equal(flow[0].type, 'comment', 'the example starts by explaining what to configure');
    assert.ok(flow.every((n) => !n.credentials), 'no credentials in the example');
    const received = await load(flow);
    const nightly = flow.find((n) => n.type === 'inject' && n.crontab)!;
    const report = flow.find((n) => n.name?.startsWith('export report'))!;
    const sqlite = flow.find((n) => n.type === 'sqlite')!;
    const reports = () => received.get(report.id)!;
    const written = () => received.get(`${sqlite.id}-done`)!;
    // The "create table on deploy" inject runs by itself.
    await until_(async () => (await query(dbFile, "SELECT name FROM sqlite_master WHERE name = 'readings'")).length === 1, 'the table');

    helper.getNode(nightly.id).receive({} as NodeMessage);
    await until_(() => reports().length === 1 && written().length === 1 + 3, 'the first export');
    assert.equal((await query(dbFile, 'SELECT COUNT(*) AS n FROM readings'))[0].n, 3 * 31);

    // The next night: ten more days in Metry.
    until = '2024-01-11T00:00:00+01:00';
    clock.advance(86_400_000);
    metry.server.reset();
    helper.getNode(nightly.id).receive({} as NodeMessage);
    await until_(() => reports().length === 2 && written().length === 1 + 6, 'the second export');
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.multi, r.period]), [[true, '20240101-20240110']]);
    const rows = await query(dbFile, 'SELECT meter_id, start, value, granularity FROM readings ORDER BY meter_id, start');
    assert.equal(rows.length, 3 * 41, 'December and ten January days, each once');
    const row = rows.find((r) => r.meter_id === FakeMetry.rootId(2) && r.start === '2024-01-05T00:00:00+01:00')!;
    assert.equal(row.value, fakeValue(2, 'energy', 'day', Date.parse('2024-01-05T00:00:00+01:00')));
    assert.equal(row.granularity, 'day');
  });

  // Uses the database the nightly export filled in the test above.
  it('02 re-exports a meter and period and overwrites the stored rows', async () => {
    const target = Date.parse('2023-12-24T00:00:00+01:00');
    await query(dbFile, 'UPDATE readings SET value = -1 WHERE meter_id = ? AND start >= ? AND start < ?', [FakeMetry.rootId(1), '2023-12-20', '2024']);
    assert.equal((await query(dbFile, 'SELECT COUNT(*) AS n FROM readings WHERE value = -1'))[0].n, 12, 'twelve rows tampered with');
    const before = (await query(dbFile, 'SELECT COUNT(*) AS n FROM readings'))[0].n;
    const flow = example('metry-force-reexport.json');
    const inject = flow.find((n) => n.type === 'inject')!;
    inject.props = [{ p: 'force', v: JSON.stringify({ meter: FakeMetry.rootId(1), period: '20231220-20231231' }), vt: 'json' }];
    const received = await load(flow);
    const sqlite = flow.find((n) => n.type === 'sqlite')!;
    metry.server.reset();
    helper.getNode(inject.id).receive({} as NodeMessage);
    await until_(() => received.get(`${sqlite.id}-done`)!.length === 1, 'the forced export');
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.meters, r.period]), [[[FakeMetry.rootId(1)], '20231220-20231231']]);
    assert.equal((received.get(`${sqlite.id}-done`)![0] as NodeMessage & { rows: number }).rows, 12);
    assert.equal((await query(dbFile, 'SELECT COUNT(*) AS n FROM readings'))[0].n, before, 'overwritten, not added');
    const restored = await query(dbFile, 'SELECT value FROM readings WHERE meter_id = ? AND start = ?', [FakeMetry.rootId(1), '2023-12-24T00:00:00+01:00']);
    assert.equal(restored[0].value, fakeValue(1, 'energy', 'day', target));
    assert.equal((await query(dbFile, 'SELECT COUNT(*) AS n FROM readings WHERE value = -1'))[0].n, 0);
  });
});
