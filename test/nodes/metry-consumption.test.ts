import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import { helper, nodeModule } from '../../testing/runtime';
import { FakeMetry, METRY_TEST_TOKEN, fakeValue } from '../../testing/fakes/metry';
import { ManualClock } from '../../testing/manual-clock';
import { cursorKey } from '../../src/core/metry/cursor';

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
    clock = ManualClock.autoAdvancing(Date.parse('2024-01-15T12:00:00+01:00'));
    helper.settings({ energyExportClock: clock } as never);
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
    await helper.load([nodeModule('energy-service'), nodeModule('metry-meters'), nodeModule('metry-consumption')] as never, nodes as never, { cfg: { token: METRY_TEST_TOKEN } });
    return { readings: collector('readings'), report: collector('report'), caught: collector('caught') };
  }

  function statusTexts(id = 'cons'): string[] {
    return (helper.getNode(id) as unknown as { status: { args: { text?: string }[][] } }).status.args.map((a) => a[0].text ?? '');
  }

  const addMeters = (count: number, extra: (i: number) => Record<string, unknown> = () => ({})) =>
    metry.addMeters(count, (i) => ({ dataFrom: '2023-01-01T00:00:00+01:00', dataUntil: until, ...extra(i) }));

  it('exports incrementally across two runs, each period once, with the cursor in node context', async () => {
    addMeters(3);
    const out = await load();
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
    const context = helper.getNode('cons').context();
    assert.equal(context.get(cursorKey(FakeMetry.rootId(1), 'month', 'energy')), new Date('2023-12-01T00:00:00+01:00').toISOString());

    until = '2024-03-01T00:00:00+01:00';
    clock.advance(65 * 86_400_000);
    metry.server.reset();
    report = out.report.next();
    helper.getNode('lister').receive({ payload: 'nightly' } as NodeMessage);
    const second = await report;
    assert.equal(second.payload.readings, 6);
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.multi, r.meters.length, r.period]), [[true, 3, '202401-202402']]);
    const periods = out.readings.messages.flatMap((m) => m.payload.map((r: Msg) => `${r.meterId}:${r.period}`));
    assert.equal(periods.length, 3 * 14);
    assert.equal(new Set(periods).size, periods.length, 'nothing delivered twice');
    assert.ok(statusTexts().includes('3/3 meters'));
    assert.equal(statusTexts().at(-1), '6 readings, 3 meters');
  });

  it('re-exports a forced meter and period from msg.force and leaves the cursor alone', async () => {
    addMeters(2);
    const out = await load();
    let report = out.report.next();
    helper.getNode('lister').receive({ payload: 'nightly' } as NodeMessage);
    await report;
    const cursor = helper.getNode('cons').context().get(cursorKey(FakeMetry.rootId(1), 'month', 'energy'));
    metry.server.reset();
    report = out.report.next();
    const readings = out.readings.next();
    helper.getNode('cons').receive({ force: { meter: FakeMetry.rootId(1), period: '202305' } } as unknown as NodeMessage);
    const msg = await readings;
    await report;
    assert.deepEqual(msg.payload.map((r: Msg) => [r.meterId, r.period, r.value]), [[FakeMetry.rootId(1), '202305', fakeValue(1, 'energy', 'month', Date.parse('2023-05-01T00:00:00+02:00'))]]);
    assert.deepEqual(metry.consumptionRequests().map((r) => r.period), ['202305']);
    assert.equal(helper.getNode('cons').context().get(cursorKey(FakeMetry.rootId(1), 'month', 'energy')), cursor);
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
