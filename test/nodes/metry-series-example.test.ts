/**
 * Runs the costs / register readings / tree nodes example as shipped, in the real runtime with
 * the real core nodes and node-red-node-sqlite, against the fake Metry with its costs, readings
 * and trees: each capability lands in SQLite, a rerun overwrites instead of adding rows, and a
 * meter whose readings Metry blocked is reported and not stored.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NodeMessage } from 'node-red';
import { helper, nodeModule, repoRoot } from '../../testing/runtime';
import { FakeMetry, METRY_TEST_TOKEN, fakeValue } from '../../testing/fakes/metry';
import { FakeMetryExtras, fakeCost } from '../../testing/fakes/metry-extra';
import { ManualClock, until } from '../../testing/manual-clock';

/* eslint-disable @typescript-eslint/no-require-imports */
const core = (file: string): unknown => require(path.join(repoRoot, 'node_modules/@node-red/nodes/core', file));
const sqliteNode = require(path.join(repoRoot, 'node_modules/node-red-node-sqlite/sqlite.js'));
const sqlite3 = require('sqlite3');
/* eslint-enable @typescript-eslint/no-require-imports */

type FlowNode = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function query(file: string, sql: string, params: unknown[] = []): Promise<FlowNode[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file);
    db.all(sql, params, (err: Error | null, rows: FlowNode[]) => db.close(() => (err ? reject(err) : resolve(rows))));
  });
}

describe('the Metry costs, register readings and tree nodes example', () => {
  let metry: FakeMetry;
  let dbFile: string;
  const flow = JSON.parse(fs.readFileSync(path.join(repoRoot, 'examples', 'metry-costs-readings-trees.json'), 'utf8')) as FlowNode[];
  const id = (name: string, type?: string): string => flow.find((n) => n.name === name && (!type || n.type === type))!.id;
  const received = new Map<string, NodeMessage[]>();

  before(async () => {
    metry = await new FakeMetry().start();
    const extras = new FakeMetryExtras(metry);
    metry.addMeters(3, { timezone: 'Europe/Stockholm' });
    extras.blockedReadings.add(2);
    extras.addTreeNode({ _id: '5927dd3b28592700ad618501', name: 'Customer 1', parent: null, custom_identifier: 'CUST-1', meters: [0, 1] });
    extras.addTreeNode({ _id: '5927dd3b28592700ad618502', name: 'Customer 2', parent: null, custom_identifier: 'CUST-2', meters: [2] });
    await new Promise<void>((resolve) => helper.startServer(resolve));
    helper.settings({ energyExportClock: ManualClock.autoAdvancing(Date.parse('2024-02-10T03:00:00Z')) } as never);
    dbFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'metry-series-')), 'export.sqlite');
    const tab = { id: 'ex-tab', type: 'tab', label: 'example' };
    const nodes: FlowNode[] = flow.map((node) => {
      const copy: FlowNode = { ...node, z: tab.id };
      if (copy.type === 'energy-service') copy.baseUrl = metry.baseUrl;
      if (copy.type === 'sqlitedb') copy.db = dbFile;
      if (copy.type === 'debug') return { id: copy.id, z: tab.id, type: 'helper', name: copy.name };
      if (copy.type === 'sqlite') copy.wires = [[...(copy.wires[0] ?? []), 'sqlite-done']];
      return copy;
    });
    nodes.push({ id: 'sqlite-done', z: tab.id, type: 'helper' });
    const config = flow.find((n) => n.type === 'energy-service')!;
    await helper.load(
      [nodeModule('energy-service'), nodeModule('metry-meters'), nodeModule('metry-consumption'), core('common/20-inject.js'), core('common/25-catch.js'), core('function/10-function.js'), core('common/90-comment.js'), sqliteNode] as never,
      [tab, ...nodes] as never,
      { [config.id]: { token: METRY_TEST_TOKEN } },
    );
    for (const node of nodes.filter((n) => n.type === 'helper')) {
      const list: NodeMessage[] = [];
      received.set(node.id, list);
      helper.getNode(node.id).on('input', (msg: NodeMessage) => list.push(msg));
    }
    await until(() => received.get('sqlite-done')!.length === 2, 'the two tables created on deploy');
  });
  after(async () => {
    await helper.unload();
    helper.settings({ energyExportClock: undefined } as never);
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await metry.stop();
  });

  /** Presses an inject; resolves when its report came and every message it stored was written. */
  async function run(inject: string, writes: number): Promise<FlowNode> {
    const reports = received.get(id('reports (skipped meters, readings_blocked)'))!;
    const done = received.get('sqlite-done')!;
    const errors = received.get(id('errors'))!;
    const [r, d] = [reports.length, done.length];
    helper.getNode(id(inject, 'inject')).receive({ payload: '' } as NodeMessage);
    await until(() => reports.length === r + 1 && done.length >= d + writes, `${inject} to be stored`);
    assert.deepEqual(errors, [], 'no storage or Metry errors');
    return reports[reports.length - 1].payload as FlowNode;
  }

  it('is a documented example without credentials', () => {
    assert.equal(flow[0].type, 'comment');
    assert.ok(flow.every((n) => !n.credentials));
    assert.match(flow[0].info, /Authorize/);
  });

  it('stores a year of monthly costs per meter, with the currency, and a rerun adds no row', async () => {
    await run('costs', 3);
    const rows = await query(dbFile, "SELECT * FROM readings WHERE metric LIKE 'cost_%' ORDER BY meter_id, metric, start");
    assert.equal(rows.length, 3 * 12 * 2);
    assert.ok(rows.every((row) => row.unit === 'SEK' && row.granularity === 'month'));
    const april = rows.find((row) => row.meter_id === FakeMetry.rootId(1) && row.metric === 'cost_grid_total' && row.period === '202304')!;
    assert.equal(april.start, '2023-04-01T00:00:00+02:00');
    assert.equal(april.value, fakeCost(1, 'grid_total', Date.parse('2023-04-01T00:00:00+02:00')));
    assert.equal(rows.filter((row) => row.metric === 'cost_retail_total' && row.value === null).length, 3, 'January has no retail value');
    await run('costs', 3);
    assert.equal((await query(dbFile, "SELECT COUNT(*) AS n FROM readings WHERE metric LIKE 'cost_%'"))[0].n, 72);
  });

  it('stores register readings with their status and leaves out the meter Metry blocked', async () => {
    const report = await run('register readings', 2);
    assert.deepEqual(report.skipped.map((s: FlowNode) => [s.meterId, s.code]), [[FakeMetry.rootId(2), 'READINGS_BLOCKED']]);
    const rows = await query(dbFile, 'SELECT meter_id, time, status FROM register_readings ORDER BY meter_id, time');
    assert.deepEqual([...new Set(rows.map((row) => row.meter_id))], [FakeMetry.rootId(0), FakeMetry.rootId(1)]);
    // December: every sixth UTC hour (124) and the 31 local midnights, interpolated.
    assert.equal(rows.filter((row) => row.meter_id === FakeMetry.rootId(0)).length, 155);
    assert.ok(rows.some((row) => row.status === 'interpolated' && row.time === '2023-12-24T00:00:00+01:00'));
    assert.ok(rows.some((row) => row.status === 'recorded' && row.time === '2023-12-24T01:00:00+01:00'));
  });

  it('stores each customer tree node\'s consumption under the node id with the customer\'s id', async () => {
    await run('customers\' tree nodes', 2);
    const rows = await query(dbFile, "SELECT * FROM readings WHERE metric = 'energy' ORDER BY meter_id, start");
    assert.equal(rows.length, 2 * 12);
    assert.deepEqual([...new Set(rows.map((row) => `${row.meter_id} ${row.mapped_id}`))], ['5927dd3b28592700ad618501 CUST-1', '5927dd3b28592700ad618502 CUST-2']);
    const january = Date.parse('2023-01-01T00:00:00+01:00');
    const sum = Math.round((fakeValue(0, 'energy', 'month', january) + fakeValue(1, 'energy', 'month', january)) * 1000) / 1000;
    assert.equal(rows[0].value, sum);
    assert.ok(metry.server.requests.every((r) => !r.path.includes('/consumptions/multi/')), 'tree nodes one request each');
  });
});
