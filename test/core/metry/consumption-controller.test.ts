import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeMetry, METRY_TEST_TOKEN, fakeValue } from '../../../testing/fakes/metry';
import { statusText } from '../../../testing/catalog';
import { ManualClock } from '../../../testing/manual-clock';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';
import { ConsumptionController, ConsumptionHost, ConsumptionInput, ConsumptionSettings, readConsumptionSettings } from '../../../src/core/metry/consumption-controller';
import { MemoryCursorStore, cursorKey, keptCursors } from '../../../src/core/metry/cursor';
import { isConfigError } from '../../../src/core/runtime/options';
import type { StatusView } from '../../../src/core/runtime/status';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('metry-consumption without Node-RED', () => {
  let metry: FakeMetry;
  let client: ServiceHttpClient;
  let clock: ManualClock;
  let statuses: StatusView[];
  let store: MemoryCursorStore;
  let warnings: string[];

  before(async () => {
    metry = await new FakeMetry().start();
  });
  after(() => metry.stop());
  beforeEach(() => {
    metry.server.reset();
    metry.clearMeters();
    metry.addMeters(3, () => ({ dataFrom: '2023-01-01T00:00:00+01:00', dataUntil: '2024-01-01T00:00:00+01:00' }));
    client = new ServiceHttpClient({ service: 'metry', baseURL: metry.baseUrl, auth: bearerAuth(METRY_TEST_TOKEN), clock: ManualClock.autoAdvancing(), random: () => 0.5 });
    clock = new ManualClock(Date.parse('2024-01-15T03:00:00+01:00'));
    statuses = [];
    warnings = [];
    store = new MemoryCursorStore();
  });

  function controller(settings: Partial<ConsumptionSettings> = {}, host: Partial<ConsumptionHost> = {}): ConsumptionController {
    let id = 0;
    return new ConsumptionController({ ...readConsumptionSettings({}), ...settings }, {
      connection: () => ({ requester: client, concurrency: 4, baseUrlLength: metry.baseUrl.length }),
      keptCursors: () => keptCursors(store),
      clock,
      evaluatePeriod: async (msg) => String(msg.period ?? ''),
      newId: () => `out-${(id += 1)}`,
      status: (view) => statuses.push(view),
      warn: (text) => warnings.push(text),
      ...host,
    });
  }

  function input(msg: Msg): ConsumptionInput & { sent: [number, Msg][] } {
    const sent: [number, Msg][] = [];
    return { msg, send: (port, out) => sent.push([port, out]), sent };
  }

  const meterObjects = async () => (await client.request<{ data: Msg[] }>({ path: '/meters', responseType: 'json' })).data.data;
  const texts = () => statuses.map((view) => statusText('metry-consumption', view));

  it('gathers the one-meter messages of a sequence into one request, and sends per meter then a report', async () => {
    const meters = await meterObjects();
    metry.server.reset();
    const node = controller();
    const inputs = meters.map((payload, index) => input({ payload, topic: 'nightly', parts: { id: 'seq', index, count: 3, type: 'array' } }));
    await Promise.all(inputs.map((i) => node.receive(i)));
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.multi, r.meters.length, r.period]), [[true, 3, '202301-202312']]);
    const readings = inputs.flatMap((i) => i.sent.filter(([port]) => port === 0).map(([, msg]) => msg));
    assert.deepEqual(readings.map((m) => [m.meter.id, m.payload.length, m.parts.index, m.parts.count]), [0, 1, 2].map((i) => [FakeMetry.rootId(i), 12, i, i === 2 ? 3 : undefined]));
    assert.ok(readings.every((m, i) => (inputs[i].msg.payload as Msg).root._id === m.meter.id), 'each answer goes with its own message');
    const [[port, report]] = inputs[2].sent.filter(([p]) => p === 1);
    assert.equal(port, 1);
    assert.equal(report.parts, undefined, 'the report stands for the batch, not for one part of the sequence');
    assert.deepEqual([report.payload.meters, report.payload.readings, report.payload.firstExport], [3, 36, 3]);
    assert.deepEqual(texts(), ['requesting', '1/3 meters', '2/3 meters', '3/3 meters', '36 readings, 3 meters']);
    assert.equal(store.values.get(cursorKey(FakeMetry.rootId(1), 'month', 'energy')), new Date('2023-12-01T00:00:00+01:00').toISOString(), 'the kept cursor moved');
  });

  it('waits for the rest of a sequence without a count for a moment on the clock, then exports what came', async () => {
    const meters = await meterObjects();
    metry.server.reset();
    const node = controller();
    const done = meters.slice(0, 2).map((payload, index) => node.receive(input({ payload, parts: { id: 'seq', index } })));
    await clock.whenTimers(1);
    assert.equal(metry.consumptionRequests().length, 0, 'still gathering');
    clock.advance(200);
    await Promise.all(done);
    assert.deepEqual(metry.consumptionRequests().map((r) => r.meters.length), [2]);
  });

  it('resumes from msg.lastStored (the user database), looks back, and does not pass lastStored on', async () => {
    const node = controller({ granularity: 'month', cursor: 'input' }, { keptCursors: () => assert.fail('the node keeps no cursor of its own in input mode') });
    const lastStored = [0, 1, 2].map((i) => ({ meterId: FakeMetry.rootId(i), metric: 'energy', granularity: 'month', start: '2023-10-01T00:00:00+02:00' }));
    const one = input({ payload: await meterObjects(), lastStored });
    metry.server.reset();
    await node.receive(one);
    assert.deepEqual(metry.consumptionRequests().map((r) => r.period), ['202309-202312'], 'September and October again (look-back 2), then November and December');
    const messages = one.sent.map(([, msg]) => msg);
    assert.ok(messages.every((m) => !('lastStored' in m)));
    assert.equal(messages.at(-1)!.payload.firstExport, 0);
    assert.equal(store.values.size, 0);
    assert.deepEqual(warnings, []);
  });

  it('warns when it should take the cursor from the input and the input has none', async () => {
    const node = controller({ cursor: 'input' });
    const payload = await meterObjects();
    await node.receive(input({ payload, lastStored: [] }));
    assert.deepEqual(warnings, [], 'an empty list is a database with nothing stored yet');
    await node.receive(input({ payload }));
    assert.match(warnings[0], /Cursor is set to "from the input" but the message has no msg\.lastStored: every meter is exported from its first value/);
  });

  it('refuses an unreadable msg.lastStored before asking Metry anything', async () => {
    const node = controller({ cursor: 'input' });
    metry.server.reset();
    await assert.rejects(node.receive(input({ payload: FakeMetry.rootId(0), lastStored: [{ meterId: FakeMetry.rootId(0), start: 'last week' }] })), /start is "last week"/);
    assert.equal(metry.server.requests.length, 0);
  });

  it('takes the period from the node or from msg.force, and says so when it is empty', async () => {
    const node = controller({ mode: 'period' });
    await assert.rejects(node.receive(input({ payload: FakeMetry.rootId(0), period: ' ' })), /set to an explicit period but the period is empty/);
    const forced = input({ payload: 'ignored', force: { meter: FakeMetry.rootId(2), period: '202305' } });
    metry.server.reset();
    await controller().receive(forced);
    assert.deepEqual(forced.sent[0][1].payload.map((r: Msg) => [r.meterId, r.period, r.value]), [[FakeMetry.rootId(2), '202305', fakeValue(2, 'energy', 'month', Date.parse('2023-05-01T00:00:00+02:00'))]]);
    assert.equal(store.values.size, 0, 'a forced export moves no cursor');
  });

  it('sends everything in one message when asked, and warns about a skipped meter', async () => {
    metry.addMeters(1, () => ({ forbidden: true }));
    const node = controller({ output: 'all' });
    const one = input({ payload: await meterObjects() });
    await node.receive(one);
    const [[, all], [, report]] = one.sent;
    assert.equal(all.payload.length, 36);
    assert.deepEqual(report.payload.skipped.map((s: Msg) => [s.meterId, s.status]), [[FakeMetry.rootId(3), 403]]);
    assert.match(warnings[0], new RegExp(`Skipped Metry meter ${FakeMetry.rootId(3)}: Metry refused access`));
    assert.equal(statusText('metry-consumption', statuses.at(-1)!), '36 readings, 4 meters, 1 skipped');
  });

  it('ends messages still gathering when the node closes, without exporting them', async () => {
    const node = controller();
    const waiting = node.receive(input({ payload: FakeMetry.rootId(0), parts: { id: 'seq', index: 0, count: 5 } }));
    assert.equal(node.close(), 1);
    await waiting;
    assert.equal(metry.server.requests.length, 0);
  });

  it('checks its settings at deploy, naming the field', () => {
    const refuses = (config: Record<string, unknown>, field: string, pattern?: RegExp) =>
      assert.throws(() => readConsumptionSettings(config), (e: unknown) => isConfigError(e) && e.field === field && (!pattern || pattern.test(e.message)));
    refuses({ granularity: 'week' }, 'Granularity');
    refuses({ metrics: 'energy, power' }, 'Metrics', /Unknown metric "power"/);
    refuses({ lookBack: '-1' }, 'Look-back', /from 0 to 10000 periods/);
    refuses({ lookBack: '2.5' }, 'Look-back');
    refuses({ cursor: 'database' }, 'Cursor');
    refuses({ output: 'each' }, 'Output');
    const defaults = readConsumptionSettings({});
    assert.deepEqual(defaults, { fetch: 'consumption', costMetrics: ['retail_total', 'grid_total'], granularity: 'month', metrics: ['energy'], mode: 'incremental', output: 'meter', includeRaw: false, cursor: 'context', lookBack: undefined });
    refuses({ fetch: 'invoices' }, 'Fetch');
    refuses({ fetch: 'costs', costMetrics: 'energy' }, 'Cost metrics', /Unknown cost metric "energy"/);
    refuses({ fetch: 'readings' }, 'Export', /fetched for a period/);
    assert.deepEqual(readConsumptionSettings({ fetch: 'costs', mode: 'period', costMetrics: 'cost_grid_usage' }).costMetrics, ['grid_usage']);
    assert.equal(readConsumptionSettings({ lookBack: '0', cursor: 'input' }).lookBack, 0);
  });
});
