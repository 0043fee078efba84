import { describe, it, before, after, afterEach, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { editorDefinition } from '../../testing/editor-definition';
import type { NodeAPI, NodeMessage } from 'node-red';
import { helper, nodeModule, repoRoot } from '../../testing/runtime';
import { withCatalogs } from '../../testing/catalog';
import { ManualClock, settle } from '../../testing/manual-clock';
import { validateReading, Reading } from '../../src/core/readings';
import { FakeUtilityApi, UTILITYAPI_TEST_TOKEN, generateBlocks } from '../../testing/fakes/utilityapi';

const COLLECT = '/api/v2/meters/historical-collection';
const INTERVALS = '/api/v2/intervals';

/** The node with `RED._` over the package's catalogs: the status texts a user sees. */
const utilityApiHistorical = withCatalogs(nodeModule('utilityapi-historical'));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Msg = { [key: string]: any };

interface Outcome {
  triggered: Msg[];
  collected: Msg[];
  /** Every message the Catch node got, in order. */
  errors: Msg[];
  error?: Msg;
}

describe('utilityapi-historical in the Node-RED runtime', () => {
  let api: FakeUtilityApi;
  let clock: ManualClock;

  before(async () => {
    api = await new FakeUtilityApi().start();
    await new Promise<void>((resolve) => helper.startServer(resolve));
  });
  after(async () => {
    helper.settings({ energyExportClock: undefined } as never);
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await api.stop();
  });
  beforeEach(() => {
    clock = ManualClock.autoAdvancing();
    // The runtime setting the config node reads: every wait (backoff, Retry-After, polling) is virtual.
    helper.settings({ energyExportClock: clock } as never);
  });
  afterEach(async () => {
    await helper.unload();
    api.reset();
  });

  async function load(props: Record<string, unknown> = {}, token = UTILITYAPI_TEST_TOKEN): Promise<void> {
    const nodes = [
      { id: 'f1', type: 'tab', label: 'utilityapi' },
      { id: 'cfg', z: 'f1', type: 'energy-service', service: 'utilityapi', baseUrl: api.baseUrl },
      { id: 'uapi', z: 'f1', type: 'utilityapi-historical', server: 'cfg', meters: 'payload', metersType: 'msg', duration: '', durationType: 'num', batchSize: 100, wait: false, pollInterval: 60, waitTimeout: 60, fetchIntervals: false, ...props, wires: [['out1'], ['out2']] },
      { id: 'out1', z: 'f1', type: 'helper' },
      { id: 'out2', z: 'f1', type: 'helper' },
      { id: 'catcher', z: 'f1', type: 'catch', scope: ['uapi'], uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'f1', type: 'helper' },
      { id: 'completer', z: 'f1', type: 'complete', scope: ['uapi'], uncaught: false, wires: [['completed']] },
      { id: 'completed', z: 'f1', type: 'helper' },
    ];
    await helper.load([nodeModule('energy-service'), utilityApiHistorical] as never, nodes, { cfg: { token } });
  }

  /**
   * Sends one message and resolves when the node called done: the Complete node fires, or the
   * Catch node gets the input's own error (`done(err)`, which carries the message's `_msgid`).
   * Errors of single meters also reach the Catch node, with the wait going on.
   */
  function run(msg: Record<string, unknown>): Promise<Outcome> {
    const outcome: Outcome = { triggered: [], collected: [], errors: [] };
    helper.getNode('out1').on('input', (m: Msg) => outcome.triggered.push(m));
    helper.getNode('out2').on('input', (m: Msg) => outcome.collected.push(m));
    const finished = new Promise<Outcome>((resolve) => {
      helper.getNode('completed').on('input', () => resolve(outcome));
      helper.getNode('caught').on('input', (m: Msg) => {
        outcome.errors.push(m);
        if (m.error?.source?.id === 'uapi' && !m.payload?.uid) {
          outcome.error = m;
          resolve(outcome);
        }
      });
    });
    helper.getNode('uapi').receive(msg as NodeMessage);
    return finished;
  }

  function statuses(): Array<{ fill?: string; shape?: string; text?: string }> {
    return (helper.getNode('uapi') as unknown as { status: { args: unknown[][] } }).status.args.map((a) => a[0] as { text?: string });
  }

  it('triggers the meters in msg.payload and reports the silently ignored ones', async () => {
    api.addMeter({ uid: '123' }).addMeter({ uid: '234', revoked: true }).addMeter({ uid: '345' });
    await load({ duration: '6' });
    const { triggered, collected, error } = await run({ payload: ['123', { uid: '234' }, '345'], topic: 'site-a' });
    assert.equal(error, undefined);
    assert.equal(triggered.length, 1);
    assert.equal(triggered[0].topic, 'site-a', 'the rest of the message passes through');
    assert.deepEqual(triggered[0].payload, { triggered: ['123', '345'], ignored: ['234'], collectionDuration: 6, requested: 3, batches: 1, rejected: [] });
    assert.equal(collected.length, 0, 'no per-meter messages without Wait');
    const [post] = api.server.requestsTo(COLLECT);
    assert.equal(post.headers.authorization, `Bearer ${UTILITYAPI_TEST_TOKEN}`);
    assert.deepEqual(JSON.parse(post.body), { meters: ['123', '234', '345'], collection_duration: 6 });
    assert.deepEqual(statuses().at(-1), { fill: 'yellow', shape: 'ring', text: '2 triggered, 1 ignored' });
  });

  it('takes the meters from the node configuration when set there', async () => {
    api.addMeters(3);
    await load({ meters: 'm1, m2,m3', metersType: 'str' });
    const { triggered } = await run({ payload: 1700000000000 });
    assert.deepEqual(triggered[0].payload.triggered, ['m1', 'm2', 'm3']);
    assert.equal(triggered[0].payload.collectionDuration, 12, 'UtilityAPI default when no months are set');
    assert.deepEqual(JSON.parse(api.server.requestsTo(COLLECT)[0].body), { meters: ['m1', 'm2', 'm3'] });
  });

  it('takes the duration from a message property', async () => {
    api.addMeters(1);
    await load({ duration: 'months', durationType: 'msg' });
    await run({ payload: ['m1'], months: 24 });
    assert.equal(JSON.parse(api.server.requestsTo(COLLECT)[0].body).collection_duration, 24);
  });

  for (const [label, props, msg, text] of [
    ['an empty meter list', {}, { payload: [] }, /No meters to collect: msg\.payload is empty/],
    ['a payload that is no meter list', {}, { payload: true }, /msg\.payload is boolean true, not a meter list/],
    ['a configured duration of 40 months', { duration: '40' }, { payload: ['m1'] }, /collection duration must be a whole number of months from 1 to 36 \(got 40\)/],
    ['a duration of 0 from the message', { duration: 'months', durationType: 'msg' }, { payload: ['m1'], months: 0 }, /in msg\.months must be a whole number of months from 1 to 36/],
  ] as const) {
    it(`refuses ${label} with a clear error and sends nothing`, async () => {
      api.addMeters(1);
      await load(props);
      const { triggered, error } = await run(msg);
      assert.ok(error, 'the Catch node got the error');
      assert.match(error.error.message, text);
      assert.match(error.error.message, /Nothing was sent to UtilityAPI/);
      assert.equal(error.errorCode, 'INVALID_INPUT');
      assert.equal(triggered.length, 0);
      assert.equal(api.server.requests.length, 0);
      assert.deepEqual(statuses().at(-1), { fill: 'red', shape: 'ring', text: 'invalid input' });
    });
  }

  it('sends large lists in batches of the configured size', async () => {
    const uids = api.addMeters(5);
    await load({ batchSize: 2 });
    const { triggered } = await run({ payload: uids });
    const posts = api.server.requestsTo(COLLECT).map((r) => JSON.parse(r.body).meters);
    assert.deepEqual(posts, [['m1', 'm2'], ['m3', 'm4'], ['m5']]);
    assert.deepEqual(triggered[0].payload.triggered, uids);
    assert.equal(triggered[0].payload.batches, 3);
    assert.ok(statuses().some((s) => s.text === '2/3 batches'));
  });

  it('honours Retry-After on a 429 through the runtime clock setting, then succeeds', async () => {
    api.addMeters(1);
    api.server.fail({ kind: 'status', status: 429, headers: { 'Retry-After': '30' }, body: '' }, 1, /historical-collection/);
    await load();
    const started = clock.now();
    const { triggered, error } = await run({ payload: ['m1'] });
    assert.equal(error, undefined);
    assert.deepEqual(triggered[0].payload.triggered, ['m1']);
    assert.equal(api.server.requestsTo(COLLECT).length, 2);
    assert.ok(clock.sleeps.some((ms) => ms >= 30_000), `virtual sleeps: ${clock.sleeps.join(', ')}`);
    assert.ok(clock.now() - started >= 30_000);
    assert.ok(statuses().some((s) => s.fill === 'yellow' && s.text === '429, retry in 30 s'));
  });

  const errorCases: Array<{ status: number; label?: string; setup: (api: FakeUtilityApi) => void; message: RegExp; requests: number; code: string }> = [
    { status: 400, label: '400 expired_or_revoked', setup: (a) => a.addMeter({ uid: 'm1', revoked: true }), message: /authorization of every meter in the request \(m1\) is expired or revoked \(HTTP 400 expired_or_revoked\).*The customer must renew the authorization/, requests: 1, code: 'BAD_REQUEST' },
    { status: 400, label: '400 invalid_param', setup: (a) => (a.addMeters(1), a.server.fail({ kind: 'status', status: 400, body: { errors: [{ type: 'invalid_param', msg: 'Values in the meters list are invalid.' }] } }, 1, /collection/)), message: /refused values in the meters list \(HTTP 400 invalid_param\).*Check that they are meter uids as UtilityAPI shows them.*UtilityAPI said: "Values in the meters list are invalid\."/, requests: 1, code: 'BAD_REQUEST' },
    { status: 400, label: '400 required_param_missing', setup: (a) => (a.addMeters(1), a.server.fail({ kind: 'status', status: 400, body: { errors: [{ type: 'required_param_missing', msg: 'Missing the meters list.' }] } }, 1, /collection/)), message: /carried no meters list \(HTTP 400 required_param_missing\).*check the proxy settings of the UtilityAPI config node/, requests: 1, code: 'BAD_REQUEST' },
    { status: 402, setup: (a) => ((a.balanceEmpty = true), a.addMeters(1)), message: /Top up the balance in your UtilityAPI settings.*Not retried/, requests: 1, code: 'PAYMENT_REQUIRED' },
    { status: 404, setup: () => undefined, message: /found none of the meters \(m1\), or the API token may not see them/, requests: 1, code: 'NOT_FOUND' },
    { status: 429, setup: (a) => (a.addMeters(1), a.server.fail({ kind: 'status', status: 429, headers: { 'Retry-After': '2' } }, 99, /collection/)), message: /kept rate limiting .* after 5 attempts/, requests: 5, code: 'RATE_LIMITED' },
    { status: 500, setup: (a) => (a.addMeters(1), a.server.fail({ kind: 'status', status: 500, body: '' }, 99, /collection/)), message: /internal error .* after 5 attempts.*try again later/, requests: 5, code: 'SERVER_ERROR' },
    { status: 503, setup: (a) => (a.addMeters(1), a.server.fail({ kind: 'status', status: 503, body: '<html><title>Maintenance</title></html>' }, 99, /collection/)), message: /down for maintenance .* after 5 attempts/, requests: 5, code: 'UNAVAILABLE' },
    { status: 504, setup: (a) => (a.addMeters(1), a.server.fail({ kind: 'status', status: 504, body: '' }, 99, /collection/)), message: /timed out building its answer .* after 5 attempts/, requests: 5, code: 'SERVER_ERROR' },
  ];
  for (const c of errorCases) {
    it(`reports ${c.label ?? `HTTP ${c.status}`} to the Catch node with what to do (${c.requests === 1 ? 'not retried' : 'after retries'})`, async () => {
      c.setup(api);
      await load();
      const { triggered, error } = await run({ payload: ['m1'] });
      assert.ok(error);
      assert.match(error.error.message, c.message);
      assert.equal(error.statusCode, c.status);
      assert.equal(error.errorCode, c.code);
      assert.equal(triggered.length, 0);
      assert.equal(api.server.requestsTo(COLLECT).length, c.requests);
      assert.deepEqual(statuses().at(-1), { fill: 'red', shape: 'ring', text: String(c.status) });
    });
  }

  it('reports a wrong token as 401 without showing it anywhere', async () => {
    api.addMeters(1);
    await load({}, 'wrong-token-0a1b2c3d4e5f');
    const { error } = await run({ payload: ['m1'] });
    assert.ok(error);
    assert.match(error.error.message, /did not accept the API token .*Check the token in the UtilityAPI config node/);
    assert.equal(error.statusCode, 401);
    assert.equal(api.server.requests.length, 1);
    assert.ok(!(JSON.stringify(error) + JSON.stringify(helper.log().args)).includes('wrong-token-0a1b2c3d4e5f'));
  });

  it('waits until collected and sends each meter, its intervals as readings page by page', async () => {
    api.intervalPageSize = 2;
    api.addMeter({ uid: 'a1', pollsUntilDone: 1, blocks: generateBlocks('a1', 5, 4) });
    api.addMeter({ uid: 'b2', pollsUntilDone: 3, notesWhenDone: [{ type: 'intervals_empty', msg: 'no data' }], blocks: [] });
    await load({ wait: true, pollInterval: 30, waitTimeout: 10, fetchIntervals: true });
    const { triggered, collected, error } = await run({ payload: ['a1', 'b2'], topic: 'import' });
    assert.equal(error, undefined, error?.error?.message);
    assert.deepEqual(triggered[0].payload.triggered, ['a1', 'b2']);
    assert.deepEqual(collected.map((m) => [m.payload.uid, m.payload.status, m.readings.length, m.intervals.page, m.intervals.last]), [
      ['a1', 'updated', 8, 1, false],
      ['a1', 'updated', 8, 2, false],
      ['a1', 'updated', 4, 3, true],
      ['b2', 'updated', 0, 1, true],
    ]);
    assert.equal(collected[0].topic, 'import');
    const readings = collected.filter((m) => m.payload.uid === 'a1').flatMap((m) => m.readings as Reading[]);
    assert.equal(readings.length, 20);
    for (const reading of readings) assert.deepEqual(validateReading(reading), []);
    assert.deepEqual(new Set(readings.map((r) => `${r.source}|${r.meterId}|${r.metric}|${r.unit}|${r.granularity}`)), new Set(['utilityapi|a1|energy|kWh|15min']));
    assert.equal(readings[0].start, '2024-02-01T00:00:00.000000-08:00');
    assert.deepEqual(collected[2].intervals, { page: 3, last: true, readings: 20, window: { start: '2023-01-01' }, reached: '2024-02-01T04:45:00.000000-08:00' });
    assert.equal(api.server.requestsTo(INTERVALS).filter((r) => r.query.get('meters') === 'a1').length, 3, 'every page fetched');
    assert.match(collected[3].payload.problems[0], /no interval data/);
    assert.ok(clock.sleeps.includes(30_000), 'polls one interval apart');
    assert.ok(statuses().some((s) => s.text === 'waiting 1/2'));
    assert.ok(statuses().some((s) => s.text === 'a1 p.3 2024-02-01'), JSON.stringify(statuses()));
    assert.deepEqual(statuses().at(-1), { fill: 'yellow', shape: 'ring', text: '2 collected, 1 with notes' });
  });

  it('one meter\'s interval failure costs only that meter: the others are delivered, the failure goes to Catch with its uid', async () => {
    api.addMeter({ uid: 'a1', pollsUntilDone: 1, blocks: generateBlocks('a1', 2, 4) });
    api.addMeter({ uid: 'b2', pollsUntilDone: 1, blocks: generateBlocks('b2', 2, 4) });
    api.addMeter({ uid: 'c3', pollsUntilDone: 2, blocks: generateBlocks('c3', 2, 4) });
    // a1 and b2 finish in the same poll; every attempt at a1's intervals fails (1 + 4 retries).
    api.server.fail({ kind: 'status', status: 500, body: '' }, 5, /intervals/);
    await load({ wait: true, pollInterval: 30, waitTimeout: 10, fetchIntervals: true });
    const { collected, errors, error } = await run({ payload: ['a1', 'b2', 'c3'], topic: 'import' });
    assert.equal(error, undefined, 'the run itself ends well (Complete node)');
    assert.deepEqual([...new Set(collected.map((m) => m.payload.uid))], ['b2', 'c3']);
    assert.equal(collected.flatMap((m) => m.readings).length, 16);
    assert.equal(errors.length, 1);
    const [failure] = errors;
    assert.equal(failure.payload.uid, 'a1');
    assert.equal(failure.payload.status, 'updated');
    assert.equal(failure.topic, 'import');
    assert.equal(failure.statusCode, 500);
    assert.equal(failure.errorCode, 'SERVER_ERROR');
    assert.match(failure.error.message, /Meter a1: the interval export failed\. UtilityAPI had an internal error .*after 5 attempts.*None of its readings were sent\. The other meters were not affected\./);
    assert.deepEqual(statuses().at(-1), { fill: 'yellow', shape: 'ring', text: '3 collected, 1 failed' });
  });

  it('exports a long history page by page: a year of 15-minute readings in 13 messages', async () => {
    api.intervalPageSize = 30;
    api.addMeter({ uid: 'long', history: { startMs: Date.UTC(2023, 0, 1, 8), days: 365 } });
    await load({ wait: true, pollInterval: 30, fetchIntervals: true, intervalMonths: 24 });
    const { collected, error } = await run({ payload: ['long'] });
    assert.equal(error, undefined, error?.error?.message);
    assert.equal(collected.length, 13);
    assert.deepEqual(collected.map((m) => m.readings.length), [...Array(12).fill(30 * 96), 5 * 96]);
    assert.deepEqual(collected.map((m) => m.intervals.page), Array.from({ length: 13 }, (_, i) => i + 1));
    assert.equal(collected.at(-1)!.intervals.readings, 365 * 96);
    const starts = collected.flatMap((m) => m.readings.map((r: Reading) => r.start));
    assert.equal(new Set(starts).size, 365 * 96, 'nothing doubled');
    assert.equal(starts[0], '2023-01-01T00:00:00.000000-08:00');
    assert.equal(starts.at(-1), '2023-12-31T23:45:00.000000-08:00');
  });

  for (const style of ['path', 'relative'] as const) {
    it(`follows a ${style} next link to the next page (not /api/v2/api/v2/…)`, async () => {
      api.nextStyle = style;
      api.intervalPageSize = 1;
      api.meterPageSize = 1;
      api.addMeter({ uid: 'a1', blocks: generateBlocks('a1', 3, 4) }).addMeter({ uid: 'b2', blocks: generateBlocks('b2', 1, 4) });
      await load({ wait: true, fetchIntervals: true });
      const { collected, errors } = await run({ payload: ['a1', 'b2'] });
      assert.deepEqual(errors, []);
      assert.deepEqual(collected.map((m) => [m.payload.uid, m.intervals.page]), [['a1', 1], ['a1', 2], ['a1', 3], ['b2', 1]]);
      assert.ok(api.server.requests.every((r) => !r.path.includes('/api/v2/api/v2')));
      assert.deepEqual(api.server.requestsTo(INTERVALS).map((r) => r.query.get('after')), [null, 'a1-iv1', 'a1-iv2', null]);
      assert.equal(api.server.requestsTo('/api/v2/meters')[1].query.get('after'), 'a1', 'the meters listing follows it too');
    });
  }

  it('asks for the window in msg.start and msg.end, with allow_mixed when set', async () => {
    api.addMeter({ uid: 'a1', blocks: generateBlocks('a1', 2, 4) });
    await load({ wait: true, fetchIntervals: true, allowMixed: true });
    const { collected } = await run({ payload: ['a1'], start: '2024-02-01', end: new Date(Date.UTC(2024, 2, 1)) });
    assert.equal(collected.length, 1);
    const [request] = api.server.requestsTo(INTERVALS);
    assert.deepEqual([request.query.get('start'), request.query.get('end'), request.query.get('allow_mixed')], ['2024-02-01', '2024-03-01T00:00:00.000Z', 'true']);
  });

  it('refuses a bad window before anything is sent (a collection costs money)', async () => {
    api.addMeters(1);
    await load({ wait: true, fetchIntervals: true });
    const { error } = await run({ payload: ['m1'], start: 'last year' });
    assert.ok(error);
    assert.match(error.error.message, /msg\.start is "last year", not a date.*Nothing was sent to UtilityAPI/);
    assert.equal(api.server.requests.length, 0);
  });

  it('refuses a setting out of bounds at deploy, naming the field, and sends nothing', async () => {
    api.addMeters(1);
    await load({ batchSize: 5000 });
    assert.deepEqual(statuses().at(-1), { fill: 'red', shape: 'ring', text: 'config' });
    assert.ok(helper.log().args.some((args: unknown[]) => args.some((entry) => /Batch size is "5000"/.test(String((entry as { msg?: unknown })?.msg)))), 'reported when the flow starts');
    const { error } = await run({ payload: ['m1'] });
    assert.ok(error);
    assert.match(error.error.message, /Batch size is "5000": enter a whole number from 1 to 1000 meters/);
    assert.equal(error.errorCode, 'CONFIG');
    assert.equal(api.server.requests.length, 0);
  });

  it('ends the wait with a timeout naming the meters still pending, after sending the finished ones', async () => {
    api.addMeter({ uid: 'ok', pollsUntilDone: 0 }).addMeter({ uid: 'stuck', pollsUntilDone: 10_000 });
    await load({ wait: true, pollInterval: 60, waitTimeout: 5 });
    const { collected, error } = await run({ payload: ['ok', 'stuck'] });
    assert.deepEqual(collected.map((m) => m.payload.uid), ['ok']);
    assert.ok(error);
    assert.match(error.error.message, /1 of 2 meter\(s\) were still pending after waiting 5 min: stuck/);
    assert.equal(error.errorCode, 'TIMEOUT');
    assert.deepEqual(statuses().at(-1), { fill: 'red', shape: 'ring', text: 'timeout' });
  });

  it('stops polling when the flow is stopped during a wait', async () => {
    // Time moves only when this test says so: each poll is one step.
    clock = new ManualClock();
    helper.settings({ energyExportClock: clock } as never);
    api.addMeter({ uid: 'slow', pollsUntilDone: 1_000_000 });
    await load({ wait: true, pollInterval: 60, waitTimeout: 10_080 });
    helper.getNode('uapi').receive({ payload: ['slow'] } as NodeMessage);
    for (let poll = 0; poll < 3; poll += 1) {
      await clock.whenTimers(1); // waiting for the next check
      clock.advance(60_000);
    }
    await clock.whenTimers(1);
    assert.equal(api.server.requestsTo('/api/v2/meters').length, 3);
    await helper.unload();
    assert.equal(clock.pending, 0, 'no timer left that could send another request');
    const afterClose = api.server.requests.length;
    clock.advance(3_600_000);
    await settle();
    assert.equal(api.server.requests.length, afterClose, 'no request after the node closed');
    assert.equal(api.server.inFlight, 0);
  });

  describe('the example flow examples/utilityapi-historical-collection.json', () => {
    const coreNode = (file: string): unknown => require(require.resolve(`@node-red/nodes/core/${file}`, { paths: [repoRoot] }));
    let dbFile: string;

    before(() => {
      dbFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'uapi-example-')), 'readings.sqlite');
    });

    function query<T>(sql: string): Promise<T[]> {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const sqlite3 = require(require.resolve('sqlite3', { paths: [path.join(repoRoot, 'node_modules', 'node-red-node-sqlite')] }));
      const db = new sqlite3.Database(dbFile);
      return new Promise((resolve, reject) =>
        db.all(sql, (err: Error | null, rows: T[]) => db.close(() => (err ? reject(err) : resolve(rows)))),
      );
    }

    it('imports with only core, sqlite and our node types, and stores the readings with an upsert', async () => {
      const example = JSON.parse(fs.readFileSync(path.join(repoRoot, 'examples', 'utilityapi-historical-collection.json'), 'utf8')) as Array<Record<string, any>>;
      assert.ok(Array.isArray(example));
      assert.equal(example[0].type, 'comment', 'starts with a comment saying what to configure');
      const known = new Set(['comment', 'inject', 'debug', 'function', 'catch', 'utilityapi-historical', 'energy-service', 'sqlite', 'sqlitedb']);
      for (const node of example) assert.ok(known.has(node.type), `unexpected node type ${node.type}`);
      const sqliteNode = example.find((n) => n.type === 'sqlite')!;
      assert.equal(sqliteNode.sqlquery, 'batch');
      const upsert = example.find((n) => n.type === 'function' && /ON CONFLICT\(source, meter_id, metric, granularity, start\) DO UPDATE/.test(n.func));
      assert.ok(upsert, 'a function builds INSERT … ON CONFLICT … DO UPDATE');

      // Run it as imported, pointed at the local fake and a temporary database; debug nodes become helpers to observe.
      const flowNodes = example.map((node) => {
        const copy: Record<string, any> = { ...node };
        if (copy.type !== 'energy-service' && copy.type !== 'sqlitedb') copy.z = 'ex';
        if (copy.type === 'debug') copy.type = 'helper';
        if (copy.type === 'energy-service') copy.baseUrl = api.baseUrl;
        if (copy.type === 'sqlitedb') copy.db = dbFile;
        return copy;
      });
      const config = example.find((n) => n.type === 'energy-service')!;
      const inject = example.find((n) => n.type === 'inject')!;
      const meterUids = JSON.parse(inject.payload) as string[];
      for (const uid of meterUids) api.addMeter({ uid, pollsUntilDone: 2, blocks: generateBlocks(uid, 3, 4) });
      await helper.load(
        [nodeModule('energy-service'), nodeModule('utilityapi-historical'), coreNode('common/20-inject.js'), coreNode('function/10-function.js'), coreNode('common/90-comment.js'), require(require.resolve('node-red-node-sqlite/sqlite.js', { paths: [repoRoot] }))] as never,
        [{ id: 'ex', type: 'tab', label: 'example' }, ...flowNodes] as never,
        { [config.id]: { token: UTILITYAPI_TEST_TOKEN } },
      );
      const stored = example.find((n) => n.type === 'debug' && n.name === 'Stored')!;
      const errors = example.find((n) => n.type === 'debug' && n.name === 'What to do')!;

      /** Runs the flow once; resolves with the Stored messages when every meter's last page is stored. */
      async function runOnce(): Promise<Msg[]> {
        const messages: Msg[] = [];
        const done = new Promise<Msg[]>((resolve, reject) => {
          helper.getNode(stored.id).on('input', (msg: Msg) => {
            messages.push(msg);
            if (messages.filter((m) => /, done\)$/.test(m.payload)).length === meterUids.length) resolve(messages);
          });
          helper.getNode(errors.id).on('input', (msg: Msg) => reject(new Error(String(msg.error?.message))));
        });
        helper.getNode(inject.id).receive({} as NodeMessage);
        return done;
      }

      const first = await runOnce();
      // The fake pages two Interval objects of four readings: pages of 8 and 4 readings.
      assert.deepEqual(first.map((m) => m.payload).sort(), meterUids.flatMap((uid) => [`Stored 8 readings of meter ${uid} (page 1)`, `Stored 4 readings of meter ${uid} (page 2, done)`]).sort());
      const rows = await query<{ meter_id: string; n: number }>('SELECT meter_id, COUNT(*) AS n FROM readings GROUP BY meter_id ORDER BY meter_id');
      assert.deepEqual(rows, meterUids.map((uid) => ({ meter_id: uid, n: 12 })).sort((a, b) => a.meter_id.localeCompare(b.meter_id)));
      const [sample] = await query<Record<string, unknown>>(`SELECT * FROM readings WHERE meter_id = '${meterUids[0]}' ORDER BY start LIMIT 1`);
      assert.deepEqual(sample, { source: 'utilityapi', meter_id: meterUids[0], metric: 'energy', unit: 'kWh', granularity: '15min', start: '2024-02-01T00:00:00.000000-08:00', end: '2024-02-01T00:15:00.000000-08:00', value: 0.2 });

      // A second run with a corrected value updates the row instead of adding one.
      const corrected = generateBlocks(meterUids[0], 3, 4);
      corrected[0].readings![0] = { ...corrected[0].readings![0], kwh: 9.75, datapoints: [{ type: 'net', unit: 'kwh', value: 9.75 }] };
      api.addMeter({ uid: meterUids[0], pollsUntilDone: 1, blocks: corrected });
      await runOnce();
      const [{ total }] = await query<{ total: number }>('SELECT COUNT(*) AS total FROM readings');
      assert.equal(total, 12 * meterUids.length);
      const [updated] = await query<{ value: number }>(`SELECT value FROM readings WHERE meter_id = '${meterUids[0]}' AND start = '2024-02-01T00:00:00.000000-08:00'`);
      assert.equal(updated.value, 9.75);
    });
  });

  describe('the editor definition (nodes/utilityapi-historical.html)', () => {
    type Validator = (this: Record<string, unknown>, value: unknown, opt?: unknown) => unknown;
    let definition: { defaults: Record<string, { value?: unknown; validate?: Validator; filter?: (config: unknown) => boolean; type?: string; required?: boolean }>; outputs: number; category: string; icon: string };

    before(() => {
      // The dialog is closed: no inputs exist, so validators read the node's own properties.
      const jquery = () => ({ length: 0, val: () => undefined });
      definition = editorDefinition<typeof definition>('utilityapi-historical', jquery);
    });

    function valid(property: string, value: unknown, node: Record<string, unknown> = {}): boolean {
      return definition.defaults[property].validate!.call({ ...node, _: (key: string) => key }, value, {}) === true;
    }

    it('offers only UtilityAPI config nodes in the selector', () => {
      const server = definition.defaults.server;
      assert.equal(server.type, 'energy-service');
      assert.equal(server.required, true);
      assert.equal(server.filter!({ service: 'utilityapi' }), true);
      assert.equal(server.filter!({ service: 'metry' }), false);
      assert.equal(definition.category, 'energy');
      assert.equal(definition.outputs, 2);
    });

    it('refuses a duration outside 1–36 months, allows empty for the default', () => {
      for (const ok of ['', '1', '12', '36']) assert.ok(valid('duration', ok, { durationType: 'num' }), `duration ${ok}`);
      for (const bad of ['0', '37', '2.5', '-1', 'x']) assert.ok(!valid('duration', bad, { durationType: 'num' }), `duration ${bad}`);
      assert.ok(valid('duration', 'months', { durationType: 'msg' }));
      assert.ok(!valid('duration', '', { durationType: 'msg' }));
    });

    it('refuses an empty meter list', () => {
      assert.ok(valid('meters', '123, 234', { metersType: 'str' }));
      assert.ok(!valid('meters', ' , ', { metersType: 'str' }));
      assert.ok(valid('meters', '["123",{"uid":"234"}]', { metersType: 'json' }));
      assert.ok(!valid('meters', '[]', { metersType: 'json' }));
      assert.ok(!valid('meters', '[{"id":1}]', { metersType: 'json' }));
      assert.ok(valid('meters', 'payload', { metersType: 'msg' }));
      assert.ok(!valid('meters', '', { metersType: 'msg' }));
    });

    it('checks batch size and wait settings', () => {
      assert.ok(valid('batchSize', 100));
      assert.ok(!valid('batchSize', 0));
      assert.ok(!valid('batchSize', 5000));
      assert.ok(valid('pollInterval', 1, { wait: false }), 'ignored without Wait');
      assert.ok(!valid('pollInterval', 1, { wait: true }));
      assert.ok(valid('waitTimeout', 120, { wait: true }));
    });

    it('checks the interval months only when intervals are exported: empty or 1 to 120', () => {
      const exporting = { wait: true, fetchIntervals: true };
      for (const ok of ['', '1', '60', '120']) assert.ok(valid('intervalMonths', ok, exporting), `months ${ok}`);
      for (const bad of ['0', '121', '2.5', 'x']) assert.ok(!valid('intervalMonths', bad, exporting), `months ${bad}`);
      assert.ok(valid('intervalMonths', '500', { wait: true, fetchIntervals: false }), 'ignored without Intervals');
      assert.equal(definition.defaults.allowMixed.value, false);
    });
  });
});
