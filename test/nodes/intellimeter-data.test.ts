import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { editorDefinition } from '../../testing/editor-definition';
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { helper, nodeModule, repoRoot } from '../../testing/runtime';
import { withCatalogs } from '../../testing/catalog';
import { FakeIntellimeter, FAKE_API_KEY } from '../../testing/fakes/intellimeter';
import { ManualClock, until } from '../../testing/manual-clock';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Msg = Record<string, any>;
type Spied = Node & { status: { args: unknown[][] }; warn: { args: unknown[][] } };

const START = Date.UTC(2019, 9, 30, 17, 15); // 13:15 EDT in Toronto

/** The node with `RED._` over the package's catalogs: the status texts a user sees. */
const intellimeterData = withCatalogs(nodeModule('intellimeter-data'));

describe('intellimeter-data in the Node-RED runtime', () => {
  let fake: FakeIntellimeter;
  let clock: ManualClock;

  before(async () => {
    fake = await new FakeIntellimeter().start();
    await new Promise<void>((resolve) => helper.startServer(resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await fake.stop();
  });
  afterEach(async () => {
    await helper.unload();
    fake.reset();
  });

  async function load(props: Record<string, unknown> = {}, options: { apiKey?: string; service?: string; second?: Record<string, unknown> } = {}) {
    clock = new ManualClock(START);
    fake.clock = clock;
    helper.settings({ energyExportClock: clock } as never);
    const nodes: Record<string, unknown>[] = [
      { id: 'tab1', type: 'tab', label: 'test' },
      { id: 'cfg1', z: 'tab1', type: 'energy-service', service: options.service ?? 'intellimeter', baseUrl: fake.url, requestsPerSecond: 0, maxConcurrent: 1 },
      { id: 'im1', z: 'tab1', type: 'intellimeter-data', server: 'cfg1', operation: 'data', timeZone: 'America/Toronto', unit: 'kWh', poll: false, onlyNew: true, persist: true, wires: [['out1']], ...props },
      { id: 'out1', z: 'tab1', type: 'helper' },
      { id: 'catch1', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['caught1']] },
      { id: 'caught1', z: 'tab1', type: 'helper' },
    ];
    if (options.second) nodes.push({ id: 'im2', z: 'tab1', type: 'intellimeter-data', server: 'cfg1', operation: 'interval', timeZone: 'America/Toronto', wires: [['out1']], ...options.second });
    await helper.load([nodeModule('energy-service'), intellimeterData] as never, nodes as never, { cfg1: { apiKey: options.apiKey ?? FAKE_API_KEY } });
  }

  function next(id: string): Promise<Msg> {
    return new Promise((resolve) => helper.getNode(id).once('input', (msg: Msg) => resolve(msg)));
  }

  function collect(id: string): Msg[] {
    const messages: Msg[] = [];
    helper.getNode(id).on('input', (msg: Msg) => messages.push(msg));
    return messages;
  }

  function lastStatus(id = 'im1'): unknown {
    return (helper.getNode(id) as Spied).status.args.at(-1)?.[0];
  }

  it('answers a message with the latest readings, normalized, keeping the other message properties', async () => {
    await load();
    const output = next('out1');
    helper.getNode('im1').receive({ payload: 'go', topic: 'meters', _keep: 1 } as NodeMessage);
    const msg = await output;
    assert.equal(msg.topic, 'meters');
    assert.equal(msg._keep, 1);
    assert.deepEqual(
      msg.payload.map((r: Record<string, unknown>) => [r.source, r.meterId, r.metric, r.unit, r.start]),
      [['intellimeter', 'meter1', 'register', 'kWh', '2019-10-30T13:15:00-04:00'], ['intellimeter', 'meter2', 'register', 'kWh', '2019-10-30T13:15:00-04:00']],
    );
    assert.deepEqual(lastStatus(), { fill: 'green', shape: 'dot', text: `2 readings, ${new Date(START).toTimeString().slice(0, 5)}` });
    assert.deepEqual(fake.server.requests.map((r) => `${r.method} ${r.path}`), ['PUT /session', 'GET /data']);
  });

  it('still runs a flow saved with an XML or YAML response type, and asks for JSON', async () => {
    // Before version 2 the node offered responseType json/xml/yaml and a history file type.
    await load({ operation: 'interval', responseType: 'xml', fileType: 'yaml', version: 1, onlyNew: false });
    const output = next('out1');
    helper.getNode('im1').receive({ payload: '' } as NodeMessage);
    const msg = await output;
    assert.deepEqual(msg.payload.map((r: Record<string, unknown>) => [r.meterId, r.metric, r.start]), [['meter1', 'interval', '2019-10-30T13:15:00-04:00'], ['meter2', 'interval', '2019-10-30T13:15:00-04:00']]);
    assert.deepEqual(fake.server.requestsTo('/interval').map((r) => r.query.get('responseType')), ['json']);
    assert.equal(fake.server.requests.some((r) => /xml|yaml/.test(r.query.toString())), false);
  });

  it('logs in again once when the session expired and carries on', async () => {
    await load({ onlyNew: false });
    let output = next('out1');
    helper.getNode('im1').receive({} as NodeMessage);
    await output;
    fake.expireSessions();
    output = next('out1');
    helper.getNode('im1').receive({} as NodeMessage);
    assert.equal((await output).payload.length, 2);
    assert.equal(fake.logins, 2);
  });

  it('reports a 401 that survives a new login to Catch nodes, after exactly one re-login', async () => {
    await load();
    fake.refuseData = true;
    const caught = next('caught1');
    helper.getNode('im1').receive({ payload: 'x' } as NodeMessage);
    const msg = await caught;
    assert.match(msg.error.message, /401 \(not logged in\) to \/data even after logging in again/);
    assert.equal(msg.statusCode, 401);
    assert.equal(msg.errorCode, 'UNAUTHORIZED');
    assert.equal(fake.logins, 2);
    assert.deepEqual(lastStatus(), { fill: 'red', shape: 'ring', text: '401' });
    const everything = JSON.stringify(msg) + JSON.stringify(helper.log().args);
    assert.ok(!everything.includes(FAKE_API_KEY), 'the key never shows');
  });

  it('reports a refused login with what to check', async () => {
    await load({}, { apiKey: 'not-the-key-0123456789' });
    const caught = next('caught1');
    helper.getNode('im1').receive({} as NodeMessage);
    const msg = await caught;
    assert.match(msg.error.message, /refused the login \(HTTP 401\) with the API key from the config node/);
    assert.equal(fake.refusedLogins, 1);
    assert.equal(fake.server.requestsTo('/data').length, 0);
  });

  it('logs out with DELETE /session when the node closes', async () => {
    await load();
    const output = next('out1');
    helper.getNode('im1').receive({} as NodeMessage);
    await output;
    assert.equal(fake.sessions.size, 1);
    await helper.unload();
    const deletes = fake.server.requestsTo('/session').filter((r) => r.method === 'DELETE');
    assert.equal(deletes.length, 1);
    assert.equal(fake.logouts, 1);
    assert.equal(fake.sessions.size, 0);
  });

  it('keeps a shared session while another node still uses it, and logs out with the last', async () => {
    await load({}, { second: {} });
    const output = next('out1');
    helper.getNode('im1').receive({} as NodeMessage);
    await output;
    await (helper.getNode('im1') as unknown as { close(removed: boolean): Promise<void> }).close(true);
    assert.equal(fake.logouts, 0, 'im2 still uses the session');
    const second = next('out1');
    helper.getNode('im2').receive({} as NodeMessage);
    assert.equal((await second).payload[0].metric, 'interval');
    assert.equal(fake.logins, 1);
    await (helper.getNode('im2') as unknown as { close(removed: boolean): Promise<void> }).close(true);
    assert.equal(fake.logouts, 1);
  });

  it('polls every N minutes and sends only readings it has not sent before', async () => {
    fake.window = 3;
    await load({ poll: true, pollMinutes: 5 });
    const messages = collect('out1');
    // The poll at start is still logging in (real I/O) when the listeners are attached.
    await next('out1');
    await clock.whenTimers(1);
    assert.equal(messages.length, 1, 'a poll at start');
    // A message between polls, while the API has nothing new, must not repeat readings.
    const manual = next('out1');
    helper.getNode('im1').receive({} as NodeMessage);
    assert.deepEqual((await manual).payload, []);
    for (let i = 0; i < 4; i += 1) {
      const polled = next('out1');
      clock.advance(5 * 60_000);
      await polled;
      await clock.whenTimers(1);
    }
    assert.deepEqual(clock.pendingDelays(), [5 * 60_000], 'the next poll is a full interval away');
    clock.advance(60_000); // one minute: no poll due
    const polled = messages.filter((m) => m.payload.length > 0);
    assert.equal(polled.length, 5);
    assert.equal(fake.server.requestsTo('/data').length, 6);
    const keys = polled.flatMap((m) => m.payload.map((r: Record<string, unknown>) => `${r.meterId} ${r.start}`));
    assert.equal(new Set(keys).size, keys.length, 'no duplicates');
    assert.equal(keys.length, 2 * (3 + 4));
    const seen = helper.getNode('im1').context().get('intellimeterNewestSeen') as Record<string, number>;
    assert.deepEqual(Object.keys(seen).sort(), ['register|meter1', 'register|meter2']);
    assert.equal(seen['register|meter1'], START + 20 * 60_000);
  });

  it('reports a failed poll to Catch nodes once, and recovers', async () => {
    await load({ poll: true, pollMinutes: 5 });
    const errors = collect('caught1');
    await next('out1');
    await clock.whenTimers(1);
    fake.server.fail({ kind: 'status', status: 404 }, 2, /^\/data$/);
    const caught = next('caught1');
    clock.advance(5 * 60_000);
    assert.match((await caught).error.message, /Intellimeter found no such resource \(reading the latest readings\)/);
    await clock.whenTimers(1);
    clock.advance(5 * 60_000); // fails the same way again
    await clock.whenTimers(1);
    assert.deepEqual(lastStatus(), { fill: 'red', shape: 'ring', text: '404' });
    const recovered = next('out1');
    clock.advance(5 * 60_000);
    const msg = await recovered;
    assert.equal(msg.payload[0].start, '2019-10-30T13:30:00-04:00');
    assert.equal(errors.length, 1, 'the same error twice is reported once');
    assert.equal(fake.server.requestsTo('/data').length, 4);
    assert.equal((lastStatus() as { fill: string }).fill, 'green');
  });

  it('reads a history file for the dates in the message', async () => {
    fake.time = START;
    await load({ operation: 'file', start: 'start', startType: 'msg', end: 'end', endType: 'msg', meter: 'meter1', meterType: 'str', historyMetric: 'register' });
    clock.advance(11 * 3600_000); // 00:15 on the 31st in Toronto
    const output = next('out1');
    helper.getNode('im1').receive({ start: '2019-10-30', end: new Date(Date.UTC(2019, 9, 30, 12)) } as unknown as NodeMessage);
    const msg = await output;
    assert.equal(msg.payload.length, 288);
    assert.equal(msg.payload[0].start, '2019-10-30T00:00:00-04:00');
    const request = fake.server.requestsTo('/file')[0];
    assert.deepEqual([request.query.get('start'), request.query.get('end'), request.query.get('type'), request.query.get('meter')], ['2019-10-30', '2019-10-30', 'json', 'meter1']);
  });

  it('refuses a bad history date with a clear error and sends nothing', async () => {
    await load({ operation: 'file', start: 'start', startType: 'msg', end: 'end', endType: 'msg' });
    const caught = next('caught1');
    helper.getNode('im1').receive({ start: '30.10.2019', end: '2019-10-31' } as unknown as NodeMessage);
    const msg = await caught;
    assert.match(msg.error.message, /history start date "30\.10\.2019" is not a date\. Give the start date as YYYY-MM-DD/);
    assert.equal(msg.errorCode, 'CONFIG');
    assert.equal(fake.server.requests.length, 0);
  });

  it('reads meter information by a name from the message', async () => {
    await load({ operation: 'point', pointBy: 'name', meter: 'payload', meterType: 'msg' });
    const output = next('out1');
    helper.getNode('im1').receive({ payload: 'meter2' } as NodeMessage);
    const msg = await output;
    assert.deepEqual(msg.payload, { id: 2, MeterId: 'meter2', ModbusId: 2, Port: 'USB0', NoPhases: '3', MeterType: 'I-45/MFX/636', ModbusMap: 'Priority.ici', SaveEvery: 5, startAddress: 1100 });
    const caught = next('caught1');
    helper.getNode('im1').receive({ payload: 'meter9' } as NodeMessage);
    assert.match((await caught).error.message, /Intellimeter has no meter name "meter9"/);
  });

  it('says what is wrong with its configuration, at start and on every message, without sending anything', async () => {
    await load({ timeZone: 'Mars/Olympus', poll: true });
    const caught = next('caught1');
    helper.getNode('im1').receive({} as NodeMessage);
    assert.match((await caught).error.message, /"Mars\/Olympus" is not a time zone/);
    assert.ok(helper.log().args.some((args: unknown[]) => args.some((entry) => /"Mars\/Olympus" is not a time zone/.test(String((entry as { msg?: unknown })?.msg)))), 'also reported when the flow starts');
    assert.deepEqual(lastStatus(), { fill: 'red', shape: 'ring', text: 'config' });
    await helper.unload();
    await load({}, { service: 'metry' });
    const wrong = next('caught1');
    helper.getNode('im1').receive({} as NodeMessage);
    assert.match((await wrong).error.message, /The selected config node is for Metry, not Intellimeter/);
    assert.equal(fake.server.requests.length, 0);
  });

  it('warns about records it left out and lists them in msg.skipped', async () => {
    await load();
    fake.server.fail({ kind: 'status', status: 200, headers: { 'Content-Type': 'application/json' }, body: [{ MeterParam: 'meter1', TimeStamping: '2019-10-30 13:15:00', value: 1 }, { MeterParam: 'meter2', TimeStamping: 'soon', value: 2 }] }, 1, /^\/data$/);
    const output = next('out1');
    helper.getNode('im1').receive({} as NodeMessage);
    const msg = await output;
    assert.equal(msg.payload.length, 1);
    assert.deepEqual(msg.skipped, ['record 2 (meter2): "soon" is not a time stamp (YYYY-MM-DD HH:MM:SS)']);
    const warnings = (helper.getNode('im1') as Spied).warn.args.map((a) => String(a[0]));
    assert.ok(warnings.some((w) => /1 record\(s\) that are not readings/.test(w) && /"soon"/.test(w)), warnings.join('|'));
  });

  describe('the example flow examples/intellimeter-to-sqlite.json', () => {
    const coreNode = (file: string): unknown => require(require.resolve(`@node-red/nodes/core/${file}`, { paths: [repoRoot] }));
    const example = JSON.parse(fs.readFileSync(path.join(repoRoot, 'examples', 'intellimeter-to-sqlite.json'), 'utf8')) as Msg[];
    let dbFile: string;

    function query<T>(sql: string): Promise<T[]> {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const sqlite3 = require(require.resolve('sqlite3', { paths: [path.join(repoRoot, 'node_modules', 'node-red-node-sqlite')] }));
      const db = new sqlite3.Database(dbFile);
      return new Promise((resolve, reject) => db.all(sql, (err: Error | null, rows: T[]) => db.close(() => (err ? reject(err) : resolve(rows)))));
    }

    it('is a flow array of core, sqlite and our node types, led by a comment, without credentials', () => {
      assert.ok(Array.isArray(example));
      assert.equal(example[0].type, 'comment');
      assert.match(example[0].info, /What to configure/);
      const known = new Set(['comment', 'inject', 'debug', 'function', 'catch', 'intellimeter-data', 'energy-service', 'sqlite', 'sqlitedb']);
      for (const node of example) assert.ok(known.has(node.type), `unexpected node type ${node.type}`);
      assert.equal(new Set(example.map((n) => n.id)).size, example.length, 'unique ids');
      for (const node of example) assert.equal(node.credentials, undefined);
      const config = example.find((n) => n.type === 'energy-service')!;
      assert.equal(config.service, 'intellimeter');
      for (const node of example.filter((n) => n.type === 'intellimeter-data')) assert.equal(node.server, config.id);
      assert.ok(example.some((n) => n.type === 'function' && /INSERT INTO readings[\s\S]*ON CONFLICT\(source, meter_id, metric, granularity, start\) DO UPDATE/.test(n.func)));
      assert.equal(example.find((n) => n.type === 'sqlite')!.sqlquery, 'batch');
    });

    it('runs as imported: polls, backfills and upserts each reading once', async () => {
      dbFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'intellimeter-example-')), 'readings.sqlite');
      clock = new ManualClock(Date.UTC(2019, 9, 31, 4, 0)); // 00:00 on the 31st in Toronto
      fake.clock = clock;
      fake.window = 3;
      helper.settings({ energyExportClock: clock } as never);
      const flowNodes = example.map((node) => {
        const copy: Msg = { ...node };
        if (copy.type !== 'energy-service' && copy.type !== 'sqlitedb') copy.z = 'ex';
        if (copy.type === 'debug') copy.type = 'helper';
        if (copy.type === 'energy-service') Object.assign(copy, { baseUrl: fake.url, requestsPerSecond: 0 });
        if (copy.type === 'sqlitedb') copy.db = dbFile;
        return copy;
      });
      const config = example.find((n) => n.type === 'energy-service')!;
      await helper.load(
        [nodeModule('energy-service'), intellimeterData, coreNode('common/20-inject.js'), coreNode('function/10-function.js'), coreNode('common/90-comment.js'), coreNode('common/25-catch.js'), require(require.resolve('node-red-node-sqlite/sqlite.js', { paths: [repoRoot] }))] as never,
        [{ id: 'ex', type: 'tab', label: 'example' }, ...flowNodes] as never,
        { [config.id]: { apiKey: FAKE_API_KEY } },
      );
      const stored = example.find((n) => n.type === 'debug' && n.name === 'Stored')!;
      const problems = example.find((n) => n.type === 'debug' && n.name === 'What to do')!;
      const storedMessages = collect(stored.id);
      helper.getNode(problems.id).on('input', (msg: Msg) => assert.fail(`the example reported: ${msg.error?.message}`));
      // Messages pass through SQLite (real I/O): wait for them with the one `until`.
      const storedCount = async (count: number) => {
        await until(() => storedMessages.length >= count, `${count} stored messages`);
        assert.equal(storedMessages.length, count);
      };

      await storedCount(1); // the poll at start: three readings for each of two meters
      assert.equal(storedMessages[0].payload, 'Stored 6 Intellimeter readings');
      for (let i = 0; i < 2; i += 1) {
        await clock.whenTimers();
        clock.advance(5 * 60_000);
        await storedCount(2 + i);
      }
      // Backfill the day before: overlaps the polled readings, which are updated, not duplicated.
      const backfill = example.find((n) => n.type === 'inject' && /Backfill/.test(n.name))!;
      // As configured, the inject asks for yesterday and today by the real calendar (nothing there in the fake).
      helper.getNode(backfill.id).receive({} as NodeMessage);
      await until(() => fake.server.requestsTo('/file').length > 0, 'the backfill request');
      const asked = fake.server.requestsTo('/file')[0].query;
      assert.match(String(asked.get('start')), /^\d{4}-\d{2}-\d{2}$/);
      assert.equal(Date.parse(String(asked.get('end'))) - Date.parse(String(asked.get('start'))), 86400_000);
      // The same inject with the fake's dates, as "inject now" with edited properties would send them.
      helper.getNode(backfill.id).receive({ __user_inject_props__: [{ p: 'start', v: '2019-10-30', vt: 'str' }, { p: 'end', v: '2019-10-30', vt: 'str' }] } as unknown as NodeMessage);
      await storedCount(4);
      assert.equal(storedMessages[3].payload, 'Stored 576 Intellimeter readings');
      const rows = await query<{ meter_id: string; n: number; distinct_starts: number }>('SELECT meter_id, COUNT(*) AS n, COUNT(DISTINCT start) AS distinct_starts FROM readings GROUP BY meter_id ORDER BY meter_id');
      // 288 slots of the 30th, plus the polled 00:00–00:10 on the 31st (23:50 and 23:55 were in both).
      assert.deepEqual(rows, [
        { meter_id: 'meter1', n: 288 + 3, distinct_starts: 288 + 3 },
        { meter_id: 'meter2', n: 288 + 3, distinct_starts: 288 + 3 },
      ]);
      const [sample] = await query<Record<string, unknown>>("SELECT * FROM readings WHERE meter_id = 'meter1' ORDER BY start DESC LIMIT 1");
      assert.deepEqual(sample, { source: 'intellimeter', meter_id: 'meter1', metric: 'register', unit: 'kWh', granularity: '', start: '2019-10-31T00:10:00-04:00', end: null, value: fake.register(fake.meters[0], Date.UTC(2019, 9, 31, 4, 10)) });
      await helper.unload();
      assert.equal(fake.logins, 1, 'both nodes shared one session');
      assert.equal(fake.logouts, 1);
    });
  });

  describe('the editor definition (nodes/intellimeter-data.html)', () => {
    type Validator = (this: Record<string, unknown>, value: unknown, opt?: unknown) => unknown;
    let definition: { defaults: Record<string, { value?: unknown; validate?: Validator; filter?: (config: unknown) => boolean; type?: string; required?: boolean }>; category: string; icon: string; inputs: number; outputs: number; label: (this: Record<string, unknown>) => string };

    before(() => {
      // The dialog is closed: no inputs exist, so validators read the node's own properties.
      const jquery = () => ({ length: 0, val: () => undefined, is: () => false });
      definition = editorDefinition<typeof definition>('intellimeter-data', jquery, { Intl });
    });

    function valid(property: string, value: unknown, node: Record<string, unknown> = {}): boolean {
      return definition.defaults[property].validate!.call({ ...node, _: (key: string) => key }, value, {}) === true;
    }

    it('offers only Intellimeter config nodes and has one input and one output', () => {
      const server = definition.defaults.server;
      assert.equal(server.type, 'energy-service');
      assert.equal(server.required, true);
      assert.equal(server.filter!({ service: 'intellimeter' }), true);
      assert.equal(server.filter!({ service: 'utilityapi' }), false);
      assert.equal(definition.category, 'energy');
      assert.equal(definition.icon, 'intellimeter.svg');
      assert.deepEqual([definition.inputs, definition.outputs], [1, 1]);
      assert.deepEqual(definition.defaults.version.value, 2);
      assert.equal(definition.label.call({ operation: 'data', poll: true }), 'Intellimeter latest readings (poll)');
    });

    it('checks operation, dates, meter, zone and poll interval, and offers no response type', () => {
      assert.equal(definition.defaults.responseType, undefined, 'JSON always');
      assert.equal(definition.defaults.fileType, undefined);
      assert.ok(valid('operation', 'file'));
      assert.ok(!valid('operation', 'graphics'));
      assert.ok(valid('start', '2019-10-30', { operation: 'file', startType: 'str' }));
      assert.ok(!valid('start', '30.10.2019', { operation: 'file', startType: 'str' }));
      assert.ok(!valid('end', '', { operation: 'file', endType: 'msg' }));
      assert.ok(valid('end', '', { operation: 'file', endType: 'date' }));
      assert.ok(valid('start', '', { operation: 'data', startType: 'str' }), 'dates matter only for history');
      assert.ok(!valid('meter', '', { operation: 'point', meterType: 'str', pointBy: 'name' }));
      assert.ok(!valid('meter', 'meter1', { operation: 'point', meterType: 'str', pointBy: 'id' }));
      assert.ok(valid('meter', '7', { operation: 'point', meterType: 'str', pointBy: 'id' }));
      assert.ok(valid('meter', '', { operation: 'file', meterType: 'str' }), 'all meters');
      assert.ok(valid('timeZone', ''));
      assert.ok(valid('timeZone', 'America/Toronto'));
      assert.ok(!valid('timeZone', 'Mars/Olympus'));
      assert.ok(!valid('pollMinutes', 0.5, { poll: true, operation: 'data' }));
      assert.ok(valid('pollMinutes', 0.5, { poll: false, operation: 'data' }));
      assert.ok(valid('pollMinutes', 5, { poll: true, operation: 'interval' }));
      assert.ok(!valid('pollMinutes', 1441, { poll: true, operation: 'interval' }));
    });
  });
});
