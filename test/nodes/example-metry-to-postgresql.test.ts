/**
 * The metry-to-postgresql example as shipped, in the real runtime (its Function nodes load `pg`
 * through Node-RED's external-module loader) against the fake Metry and a real PostgreSQL: the
 * nightly export, the next night's new days from the database's own cursor, and a night whose
 * writes were lost fetched again without a row doubled.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { NodeMessage } from 'node-red';
import { coreNode, externalModulesUserDir, placeExample, readExample, type FlowNode } from '../../testing/examples';
import { FakeMetry, METRY_TEST_TOKEN, fakeValue } from '../../testing/fakes/metry';
import { ManualClock, until } from '../../testing/manual-clock';
import { pg, type PgPool } from '../../testing/pg';
import { helper, nodeModule } from '../../testing/runtime';
import { skipWithout, startPostgres, type PostgresServer } from '../../testing/servers';

const METERS = 3;

describe('example metry-to-postgresql with PostgreSQL', { skip: skipWithout('postgresql') }, () => {
  let postgres: PostgresServer;
  let db: PgPool;
  let metry: FakeMetry;
  let userDir: string;
  let dataUntil = '2024-01-01T00:00:00+01:00';
  const clock = ManualClock.autoAdvancing(Date.parse('2024-01-15T03:15:00+01:00'));
  const flow = readExample('metry-to-postgresql.json');
  const byName = (prefix: string): FlowNode => flow.find((n) => n.name?.startsWith(prefix))!;
  let received = new Map<string, NodeMessage[]>();

  before(async () => {
    postgres = await startPostgres();
    db = new pg.Pool({ ...postgres.connection, max: 1 });
    metry = await new FakeMetry().start();
    metry.addMeters(METERS, () => ({ dataFrom: '2023-12-01T00:00:00+01:00', dataUntil }));
    userDir = externalModulesUserDir(['pg']);
    helper.settings({ functionExternalModules: true, userDir, energyExportClock: clock } as never);
    await new Promise<void>((resolve) => helper.startServer(resolve));
  });
  after(async () => {
    await stop();
    helper.settings({ energyExportClock: undefined, userDir: undefined, functionExternalModules: undefined } as never);
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await db.end();
    await postgres.stop();
    await metry.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  /** Deploys the example with the database settings in the flow's environment, as the comment says. */
  async function deploy(): Promise<void> {
    const env = [
      { name: 'PGHOST', value: postgres.host },
      { name: 'PGPORT', value: String(postgres.port) },
      { name: 'PGDATABASE', value: postgres.database },
      { name: 'PGUSER', value: postgres.user },
    ];
    const placed = placeExample(flow, (n) => {
      if (n.type === 'energy-service') n.baseUrl = metry.baseUrl;
      // Step 3 of the comment: the user enables the function and the nightly inject.
      delete n.d;
    }, env);
    const modules = [nodeModule('energy-service'), nodeModule('metry-meters'), nodeModule('metry-consumption'), coreNode('common/20-inject.js'), coreNode('function/10-function.js'), coreNode('sequence/17-split.js'), coreNode('common/25-catch.js'), coreNode('common/90-comment.js')];
    const service = flow.find((n) => n.type === 'energy-service')!;
    await helper.load(modules as never, placed.nodes as never, { [service.id]: { token: METRY_TEST_TOKEN } });
    received = new Map(placed.helpers.map((id) => [id, [] as NodeMessage[]]));
    for (const id of placed.helpers) helper.getNode(id).on('input', (msg: NodeMessage) => received.get(id)!.push(msg));
  }

  const flowConnections = async (): Promise<number> =>
    Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [postgres.database])).rows[0].n);

  /**
   * Stops the flow as Node-RED does on a redeploy: nodes close first (the function's On Stop ends
   * its pool), then their context goes. helper.unload() alone clears the context first, so On Stop
   * would find no pool; stopFlows() is the runtime's own call for the first half.
   */
  async function stop(): Promise<void> {
    await (helper as unknown as { _redNodes: { stopFlows(): Promise<void> } })._redNodes.stopFlows();
    await helper.unload();
    // On Stop cannot be awaited by Node-RED; the pool closes its connections right after.
    await until(async () => (await flowConnections()) === 0, 'the function to close its connections');
  }

  async function runNightly(): Promise<void> {
    const reports = received.get(byName('export report').id)!;
    const errors = received.get(byName('errors').id)!;
    const stored = received.get(byName('rows stored').id)!;
    const [reportsBefore, storedBefore] = [reports.length, stored.length];
    helper.getNode(byName('every night').id).receive({} as NodeMessage);
    await until(() => errors.length > 0 || (reports.length > reportsBefore && stored.length > storedBefore), 'the export report and the stored rows');
    assert.deepEqual(errors.map((m) => (m as NodeMessage & { error: { message: string } }).error.message), []);
  }

  const count = async (): Promise<number> => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM readings')).rows[0].n);

  it('says what it needs, creates the table and stores every day of every meter once', async () => {
    assert.equal(flow[0].type, 'comment');
    assert.match(flow[0].info, /\*\*Modules\*\*: `pg`/);
    assert.match(flow[0].info, /functionExternalModules/);
    assert.ok(flow.every((n) => !n.credentials), 'no credentials in the example');
    for (const fn of flow.filter((n) => n.type === 'function')) assert.deepEqual(fn.libs, [{ var: 'pg', module: 'pg' }]);
    // Shipped disabled, so deploying the example as imported installs nothing and exports nothing.
    assert.deepEqual(flow.filter((n) => n.d).map((n) => n.type).sort(), ['function', 'function', 'inject']);

    await deploy();
    await runNightly();
    assert.equal(await count(), METERS * 31);
    const rows = (await db.query<{ meter_id: string; start: Date; value: number; granularity: string; unit: string }>('SELECT meter_id, start, value, granularity, unit FROM readings WHERE meter_id = $1 ORDER BY start', [FakeMetry.rootId(2)])).rows;
    assert.equal(rows.length, 31);
    const day = rows.find((r) => r.start.getTime() === Date.parse('2023-12-24T00:00:00+01:00'))!;
    assert.equal(day.value, fakeValue(2, 'energy', 'day', Date.parse('2023-12-24T00:00:00+01:00')));
    assert.deepEqual([day.granularity, day.unit], ['day', 'kWh']);
    // The join gathered the meters: one statement, every meter's rows confirmed in one message.
    const stored = received.get(byName('rows stored').id)!;
    assert.deepEqual(stored.map((m) => (m as NodeMessage & { stored: number }).stored), [METERS * 31]);
  });

  it('the next night starts from what the table holds (and the look-back) and stores the new days', async () => {
    dataUntil = '2024-01-11T00:00:00+01:00';
    clock.advance(86_400_000);
    metry.server.reset();
    await runNightly();
    const periods = metry.consumptionRequests().map((r) => [r.multi, r.period]);
    // December is stored up to the 31st: fetched from there minus the look-back (3 days), never from December 1st.
    assert.deepEqual(periods, [[true, '20231229-20240110']]);
    assert.equal(await count(), METERS * 41);
  });

  it('a night whose writes were lost is fetched again, and a late correction overwrites: no row added', async () => {
    await db.query("DELETE FROM readings WHERE meter_id = $1 AND start >= '2024-01-03T00:00:00+01:00'", [FakeMetry.rootId(1)]);
    await db.query("UPDATE readings SET value = -1 WHERE meter_id = $1 AND start = '2024-01-09T00:00:00+01:00'", [FakeMetry.rootId(2)]);
    assert.equal(await count(), METERS * 41 - 8);
    assert.ok((await flowConnections()) > 0, 'the deployed function holds its pool');
    await stop();
    await deploy();
    metry.server.reset();
    await runNightly();
    assert.equal(await count(), METERS * 41, 'the lost days are back, nothing doubled');
    const restored = await db.query<{ value: number }>("SELECT value FROM readings WHERE meter_id = $1 AND start = '2024-01-09T00:00:00+01:00'", [FakeMetry.rootId(2)]);
    assert.equal(restored.rows[0].value, fakeValue(2, 'energy', 'day', Date.parse('2024-01-09T00:00:00+01:00')), 'within the look-back, overwritten');
    const duplicates = await db.query('SELECT source, meter_id, metric, granularity, start FROM readings GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1');
    assert.equal(duplicates.rows.length, 0);
  });
});
