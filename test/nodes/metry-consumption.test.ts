import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import { helper, nodeModule } from '../../testing/runtime';
import { FakeMetry, METRY_TEST_TOKEN, fakeValue } from '../../testing/fakes/metry';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../testing/manual-clock';
import { withCatalogs } from '../../testing/catalog';
import { cursorKey } from '../../src/core/metry/cursor';
import { isPersistentContextStore } from '../../src/node-red/context-cursor-store';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Msg = Record<string, any>;

function collector(id: string) {
  const messages: Msg[] = [];
  let waiting: ((msg: Msg) => void)[] = [];
  helper.getNode(id).on('input', (msg: Msg) => {
    messages.push(msg);
    const resolvers = waiting;
    waiting = [];
    resolvers.forEach((resolve) => resolve(msg));
  });
  return { messages, next: () => new Promise<Msg>((resolve) => waiting.push(resolve)) };
}

describe('metry-consumption in the Node-RED runtime', () => {
  let metry: FakeMetry;
  let clock: ManualClock;
  let until: string;
  let cursorDir: string;

  before(async () => {
    metry = await new FakeMetry().start();
    await new Promise<void>((resolve) => helper.startServer(resolve));
  });
  after(async () => {
    helper.settings({ energyExportClock: undefined, metryCursorDir: undefined } as never);
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await metry.stop();
  });
  beforeEach(() => {
    clock = ManualClock.autoAdvancing(Date.parse('2024-01-15T12:00:00+01:00'));
    cursorDir = fs.mkdtempSync(path.join(os.tmpdir(), 'metry-node-cursors-'));
    helper.settings({ energyExportClock: clock, metryCursorDir: cursorDir } as never);
    metry.clearMeters();
    until = '2024-01-01T00:00:00+01:00';
  });
  afterEach(async () => {
    await helper.unload();
    metry.server.reset();
  });

  const meterDefaults = { mode: 'meters', output: 'all', subaccount: '', subaccountType: 'str', treeNode: '', treeNodeType: 'str', tags: '', tagsType: 'str', ean: '', eanType: 'str', meterType: '', box: 'active', mappings: [], useTags: false, tagPrefix: '' };

  async function load(props: Record<string, unknown> = {}, meterProps: Record<string, unknown> = {}) {
    const nodes = [
      { id: 'f1', type: 'tab', label: 'metry' },
      { id: 'cfg', z: 'f1', type: 'energy-service', service: 'metry', baseUrl: metry.baseUrl },
      { id: 'lister', z: 'f1', type: 'metry-meters', server: 'cfg', ...meterDefaults, wires: [['cons'], []], ...meterProps },
      { id: 'cons', z: 'f1', type: 'metry-consumption', server: 'cfg', granularity: 'month', metrics: 'energy', mode: 'incremental', period: '', periodType: 'str', cursorScope: 'node', cursorStore: '', output: 'meter', includeRaw: false, wires: [['readings'], ['report']], ...props },
      { id: 'readings', z: 'f1', type: 'helper' },
      { id: 'report', z: 'f1', type: 'helper' },
      { id: 'catcher', z: 'f1', type: 'catch', scope: ['cons'], uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'f1', type: 'helper' },
    ];
    await helper.load([nodeModule('energy-service'), withCatalogs(nodeModule('metry-meters')), withCatalogs(nodeModule('metry-consumption'))] as never, nodes as never, { cfg: { token: METRY_TEST_TOKEN } });
    return { readings: collector('readings'), report: collector('report'), caught: collector('caught') };
  }

  function statusTexts(id = 'cons'): string[] {
    return (helper.getNode(id) as unknown as { status: { args: { text?: string }[][] } }).status.args.map((a) => a[0].text ?? '');
  }

  const addMeters = (count: number, extra: (i: number) => Record<string, unknown> = () => ({})) =>
    metry.addMeters(count, (i) => ({ dataFrom: '2023-01-01T00:00:00+01:00', dataUntil: until, ...extra(i) }));

  const keptFile = () => path.join(cursorDir, 'node-cons.json');
  const keptCursor = (meter: number) => (JSON.parse(fs.readFileSync(keptFile(), 'utf8')) as Record<string, string>)[cursorKey(FakeMetry.rootId(meter), 'month', 'energy')];

  it('exports incrementally across two runs and a restart, each period once, the cursor kept in a file when context is in memory', async () => {
    addMeters(3);
    let out = await load({ lookBack: '0' });
    let report = out.report.next();
    helper.getNode('lister').receive({ payload: 'nightly' } as NodeMessage);
    const first = await report;
    assert.equal(first.payload.readings, 36);
    assert.equal(out.readings.messages.length, 3, 'one message per meter');
    const firstMsg = out.readings.messages[0];
    assert.equal(firstMsg.payload.length, 12);
    assert.equal(firstMsg.payload[0].source, 'metry');
    assert.equal(firstMsg.payload[0].start, '2023-01-01T00:00:00+01:00');
    assert.equal(firstMsg.meter.id, firstMsg.payload[0].meterId);
    assert.deepEqual(out.readings.messages.map((m) => m.parts.index), [0, 1, 2]);
    assert.equal(out.readings.messages[2].parts.count, 3);
    assert.equal(keptCursor(1), new Date('2023-12-01T00:00:00+01:00').toISOString());
    const firstReadings = out.readings.messages.slice();

    // Node-RED restarts (the default context store is in memory): the file keeps the cursors.
    await helper.unload();
    out = await load({ lookBack: '0' });
    until = '2024-03-01T00:00:00+01:00';
    clock.advance(65 * 86_400_000);
    metry.server.reset();
    report = out.report.next();
    helper.getNode('lister').receive({ payload: 'nightly' } as NodeMessage);
    const second = await report;
    assert.equal(second.payload.readings, 6);
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.multi, r.meters.length, r.period]), [[true, 3, '202401-202402']]);
    const periods = [...firstReadings, ...out.readings.messages].flatMap((m) => m.payload.map((r: Msg) => `${r.meterId}:${r.period}`));
    assert.equal(periods.length, 3 * 14);
    assert.equal(new Set(periods).size, periods.length, 'nothing delivered twice');
    assert.ok(statusTexts().includes('3/3 meters'));
    assert.equal(statusTexts().at(-1), '6 readings, 3 meters');
    assert.equal(keptCursor(1), new Date('2024-02-01T00:00:00+01:00').toISOString());
  });

  it('resumes from msg.lastStored, the user database, passed along by metry-meters', async () => {
    addMeters(2);
    const out = await load({ cursor: 'input', lookBack: '1' });
    const report = out.report.next();
    const lastStored = [{ meterId: FakeMetry.rootId(0), metric: 'energy', granularity: 'month', start: '2023-10-01T00:00:00+02:00' }];
    helper.getNode('lister').receive({ payload: 'nightly', lastStored } as unknown as NodeMessage);
    const summary = (await report).payload;
    assert.equal(summary.firstExport, 1, 'meter 1 has no row yet: from its first value');
    // One request serves both; meter 0 gets October again (look-back 1), then November and December.
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.meters.length, r.period]), [[2, '202301-202312']]);
    const periods = (meter: number) => out.readings.messages.filter((m) => m.meter.id === FakeMetry.rootId(meter)).flatMap((m) => m.payload.map((r: Msg) => r.period));
    assert.deepEqual(periods(0), ['202310', '202311', '202312']);
    assert.equal(periods(1).length, 12);
    assert.ok(out.readings.messages.every((m) => m.lastStored === undefined));
    assert.equal(fs.readdirSync(cursorDir).length, 0, 'no cursor of its own in input mode');
  });

  it('re-exports a forced meter and period from msg.force and leaves the cursor alone', async () => {
    addMeters(2);
    const out = await load();
    let report = out.report.next();
    helper.getNode('lister').receive({ payload: 'nightly' } as NodeMessage);
    await report;
    const cursor = keptCursor(1);
    metry.server.reset();
    report = out.report.next();
    const readings = out.readings.next();
    helper.getNode('cons').receive({ force: { meter: FakeMetry.rootId(1), period: '202305' } } as unknown as NodeMessage);
    const msg = await readings;
    await report;
    assert.deepEqual(msg.payload.map((r: Msg) => [r.meterId, r.period, r.value]), [[FakeMetry.rootId(1), '202305', fakeValue(1, 'energy', 'month', Date.parse('2023-05-01T00:00:00+02:00'))]]);
    assert.deepEqual(metry.consumptionRequests().map((r) => r.period), ['202305']);
    assert.equal(metry.server.requestsTo(/\/meters\/./).length, 0, 'the zone came from the listing, not GET /meters/{root._id}');
    assert.equal(keptCursor(1), cursor);
  });

  it('skips a 403 meter, warns and reports it, and delivers the others; nulls stay null', async () => {
    const nullMonth = Date.parse('2023-06-01T00:00:00+02:00');
    addMeters(4, (i) => ({ forbidden: i === 1, isNull: (_m: string, _g: string, slot: number) => slot === nullMonth }));
    const out = await load();
    const report = out.report.next();
    helper.getNode('lister').receive({ payload: 'nightly' } as NodeMessage);
    const summary = (await report).payload;
    assert.deepEqual(summary.skipped.map((s: Msg) => [s.meterId, s.status]), [[FakeMetry.rootId(1), 403]]);
    assert.equal(summary.readings, 36);
    const meters = new Set(out.readings.messages.map((m) => m.meter.id));
    assert.deepEqual([...meters].sort(), [0, 2, 3].map(FakeMetry.rootId));
    const june = out.readings.messages.flatMap((m) => m.payload).filter((r: Msg) => r.period === '202306');
    assert.equal(june.length, 3);
    assert.ok(june.every((r: Msg) => r.value === null), 'a missing value is null, not 0');
    const warnings = (helper.getNode('cons') as unknown as { warn: { args: unknown[][] } }).warn.args.map((a) => String(a[0]));
    assert.ok(warnings.some((w) => w.includes(FakeMetry.rootId(1)) && w.includes('403')));
    assert.equal(statusTexts().at(-1), '36 readings, 4 meters, 1 skipped');
    assert.equal(out.caught.messages.length, 0, 'a removed meter is not an error of the run');
  });

  it('gathers one-meter messages of a sequence into shared multi requests', async () => {
    addMeters(120);
    const out = await load({}, { output: 'each' });
    const reports: Msg[] = [];
    out.report.messages.length = 0;
    helper.getNode('lister').receive({ payload: 'nightly' } as NodeMessage);
    while (reports.reduce((sum, r) => sum + r.payload.meters, 0) < 120) reports.push(await out.report.next());
    const requests = metry.consumptionRequests();
    assert.ok(requests.length <= 3, `${requests.length} consumption requests for 120 meters`);
    assert.ok(requests.every((r) => r.multi));
    assert.equal(out.readings.messages.reduce((sum, m) => sum + m.payload.length, 0), 120 * 12);
    assert.ok(reports.every((r) => r.parts === undefined), 'a batch report is not part of the input sequence');
    assert.ok(statusTexts().includes('120/120 meters'));
  });

  it('sends everything in one message with the raw answers attached', async () => {
    addMeters(2);
    const out = await load({ output: 'all', includeRaw: true });
    const msg = out.readings.next();
    helper.getNode('lister').receive({ payload: 'nightly' } as NodeMessage);
    const all = await msg;
    assert.equal(all.payload.length, 24);
    assert.equal(all.raw.length, 2, 'one answer per meter and request');
    assert.ok(all.raw[0].periods[0].start_date.endsWith('+0000'));
  });

  it('takes an explicit period from a template and fetches hours across the DST change', async () => {
    metry.addMeters(1, () => ({ dataFrom: '2024-01-01T00:00:00+01:00', dataUntil: '2024-12-01T00:00:00+01:00' }));
    const out = await load({ mode: 'period', granularity: 'hour', period: '{{exportDay}}', periodType: 'str' });
    const msg = out.readings.next();
    helper.getNode('cons').receive({ payload: FakeMetry.rootId(0), exportDay: '20241027' } as unknown as NodeMessage);
    const readings = (await msg).payload as Msg[];
    assert.equal(readings.length, 25);
    assert.deepEqual(readings.slice(2, 4).map((r) => r.start), ['2024-10-27T02:00:00+02:00', '2024-10-27T02:00:00+01:00']);
  });

  it('reports bad input and a failed run to a catch node', async () => {
    addMeters(1);
    const out = await load({ mode: 'period', period: 'last month' });
    let caught = out.caught.next();
    helper.getNode('cons').receive({ payload: FakeMetry.rootId(0) } as unknown as NodeMessage);
    assert.match((await caught).error.message, /The period "last month" is not valid/);
    caught = out.caught.next();
    helper.getNode('cons').receive({ payload: [42] } as unknown as NodeMessage);
    assert.match((await caught).error.message, /not a Metry meter/);
    await helper.unload();
    const again = await load({ mode: 'period', period: 'period', periodType: 'msg' });
    const empty = again.caught.next();
    helper.getNode('cons').receive({ payload: FakeMetry.rootId(0), period: '' } as unknown as NodeMessage);
    assert.match((await empty).error.message, /the period is empty/);
    assert.equal(metry.server.requests.length, 0, 'nothing is asked of Metry for bad input');
  });

  it('refuses a bad setting at deploy, naming it, and reports it for every message', async () => {
    addMeters(1);
    const out = await load({ lookBack: 'three days' });
    const caught = out.caught.next();
    helper.getNode('cons').receive({ payload: FakeMetry.rootId(0) } as unknown as NodeMessage);
    const msg = await caught;
    assert.match(msg.error.message, /Look-back is "three days": enter a whole number from 0 to 10000 periods/);
    assert.equal(msg.errorCode, 'CONFIG');
    assert.equal(metry.server.requests.length, 0);
    const errors = (helper.getNode('cons') as unknown as { error: { args: unknown[][] } }).error.args.map((a) => String((a[0] as Error).message ?? a[0]));
    assert.ok(errors.some((e) => /Look-back/.test(e)), 'said at deploy, before any message');
  });

  it('fails the run on a 400 from Metry with the status code on the message', async () => {
    addMeters(2);
    const out = await load();
    metry.server.fail({ kind: 'status', status: 400, body: { code: 400, message: 'Too many values' } }, 1, /consumptions/);
    const caught = out.caught.next();
    helper.getNode('lister').receive({ payload: 'nightly' } as NodeMessage);
    const msg = await caught;
    assert.equal(msg.statusCode, 400);
    assert.match(msg.error.message, /Too many values/);
    assert.equal(statusTexts().at(-1), '400');
  });
});

describe('where metry-consumption keeps its cursors without a database', () => {
  it('knows which context stores survive a restart', () => {
    assert.equal(isPersistentContextStore(undefined, undefined), false, 'no contextStorage: memory');
    assert.equal(isPersistentContextStore({ default: { module: 'memory' } }, ''), false);
    assert.equal(isPersistentContextStore({ default: { module: 'localfilesystem' } }, undefined), true);
    const two = { default: 'file', memoryOnly: { module: 'memory' }, file: { module: 'localfilesystem' } };
    assert.equal(isPersistentContextStore(two, undefined), true, 'default names another store');
    assert.equal(isPersistentContextStore(two, 'memoryOnly'), false);
    assert.equal(isPersistentContextStore(two, 'unknown'), true, 'an unknown store falls back to the default');
    assert.equal(isPersistentContextStore({ mem: { module: 'memory' }, disk: { module: 'localfilesystem' } }, undefined), false, 'without default the first store is the default');
    assert.equal(isPersistentContextStore({ redis: { module: { get() {} } } }, undefined), true, 'a custom module persists');
  });
});

