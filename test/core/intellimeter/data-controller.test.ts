import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeIntellimeter, FAKE_API_KEY } from '../../../testing/fakes/intellimeter';
import { ManualClock } from '../../../testing/manual-clock';
import { statusText } from '../../../testing/catalog';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { isConfigError } from '../../../src/core/runtime/options';
import type { StatusView } from '../../../src/core/runtime/status';
import { createIntellimeterSessionAuth } from '../../../src/core/intellimeter/session';
import { IntellimeterApi } from '../../../src/core/intellimeter/api';
import { DataController, SeenMemory, resultFields } from '../../../src/core/intellimeter/data-controller';
import { IntellimeterDataConfig, OperationResult, readDataSettings } from '../../../src/core/intellimeter/operation';

const MINUTE = 60_000;
const START = Date.UTC(2019, 9, 30, 17, 15); // 13:15 EDT in Toronto

describe('intellimeter-data settings', () => {
  it('reads the settings with their bounds; old response and file types are ignored', () => {
    const settings = readDataSettings({ operation: 'interval', responseType: 'xml', fileType: 'yaml', timeZone: 'America/Toronto', poll: true, pollMinutes: '10' } as IntellimeterDataConfig);
    assert.deepEqual(settings, { operation: 'interval', pointBy: 'name', historyMetric: 'register', unit: 'kWh', zone: 'America/Toronto', pollMs: 10 * MINUTE, onlyNew: true, persist: true });
    assert.equal(readDataSettings({ operation: 'file', poll: true, pollMinutes: 0 }).pollMs, 0, 'only latest readings poll');
    for (const [config, text] of [
      [{ operation: 'graphics' }, /Operation is "graphics": choose one of data, interval, file, point/],
      [{ poll: true, pollMinutes: 0.5 }, /Every is "0\.5": enter a number from 1 to 1440 minutes/],
      [{ poll: true, pollMinutes: 2 ** 31 }, /Every is "2147483648"/],
      [{ pointBy: 'serial' }, /Find meter by is "serial"/],
      [{ timeZone: 'Mars/Olympus' }, /"Mars\/Olympus" is not a time zone/],
    ] as const) {
      assert.throws(() => readDataSettings(config), (error: unknown) => isConfigError(error) && text.test(error.message), JSON.stringify(config));
    }
  });
});

describe('DataController', () => {
  let fake: FakeIntellimeter;
  let client: ServiceHttpClient;
  let clock: ManualClock;
  let controller: DataController | undefined;

  before(async () => {
    fake = await new FakeIntellimeter().start();
    client = new ServiceHttpClient({ service: 'intellimeter', baseURL: fake.url, auth: createIntellimeterSessionAuth({ apiKey: FAKE_API_KEY }), maxConcurrent: 1, requestsPerSecond: 0, clock: ManualClock.autoAdvancing(), retry: { maxRetries: 0 } });
  });
  after(async () => {
    await client.close();
    await fake.stop();
  });
  beforeEach(() => {
    fake.reset({ sessions: false });
    clock = new ManualClock(START);
    fake.clock = clock;
  });
  afterEach(() => controller?.stop());

  function make(config: IntellimeterDataConfig, memory?: SeenMemory) {
    const statuses: StatusView[] = [];
    const warnings: Array<[string, Record<string, string | number>]> = [];
    controller = new DataController({
      api: new IntellimeterApi(client),
      settings: readDataSettings({ timeZone: 'America/Toronto', ...config }),
      clock,
      memory,
      status: (view) => statuses.push(view),
      warn: (key, params) => warnings.push([key, params]),
    });
    return { controller, statuses, warnings };
  }

  it('runs the operation and says how many readings, and how many of them are new', async () => {
    fake.window = 2;
    const { controller, statuses } = make({ operation: 'data' });
    const time = new Date(START).toTimeString().slice(0, 5);
    const first = await controller.run();
    assert.equal(first.kind === 'readings' && first.readings.length, 4);
    assert.deepEqual(statuses.map((s) => s.key), ['requesting', 'readings']);
    assert.deepEqual(statuses[1].params, { count: 4, time });
    const again = await controller.run();
    assert.deepEqual(resultFields(again), { payload: [] }, 'nothing new since the last run');
    assert.deepEqual(statuses.at(-1), { kind: 'success', fill: 'green', shape: 'dot', key: 'new', params: { count: 0, time } });
    assert.deepEqual(statuses.map((view) => statusText('intellimeter-data', view)), ['requesting', `4 readings, ${time}`, 'requesting', `0 new, ${time}`]);
  });

  it('remembers the newest readings in node context, and starts from them after a restart', async () => {
    const stored: { value?: unknown } = {};
    const memory: SeenMemory = { get: () => stored.value, set: (state) => (stored.value = state) };
    await make({ operation: 'data' }, memory).controller.run();
    assert.deepEqual(Object.keys(stored.value as object).sort(), ['register|meter1', 'register|meter2']);
    const restarted = make({ operation: 'data' }, memory).controller;
    assert.deepEqual(resultFields(await restarted.run()), { payload: [] });
    const forgetful = make({ operation: 'data', persist: false }, memory).controller;
    assert.equal((resultFields(await forgetful.run()).payload as unknown[]).length, 2, 'persist off: context is not read');
  });

  it('warns once and keeps the state in memory when the context store cannot be used synchronously', async () => {
    const memory: SeenMemory = {
      get: () => {
        throw new Error('context store is asynchronous');
      },
      set: () => assert.fail('not used after it failed'),
    };
    const { controller, warnings } = make({ operation: 'data' }, memory);
    await controller.run();
    assert.deepEqual(resultFields(await controller.run()), { payload: [] }, 'still no duplicates');
    assert.deepEqual(warnings, [['memory', { error: 'context store is asynchronous' }]]);
  });

  it('lists the records it left out and warns about them', async () => {
    fake.server.fail({ kind: 'status', status: 200, headers: { 'Content-Type': 'application/json' }, body: [{ MeterParam: 'meter1', TimeStamping: '2019-10-30 13:15:00', value: 1 }, { MeterParam: 'meter2', TimeStamping: 'soon', value: 2 }] }, 1, /^\/data$/);
    const { controller, warnings } = make({ operation: 'data' });
    const fields = resultFields(await controller.run());
    assert.equal((fields.payload as unknown[]).length, 1);
    assert.deepEqual(fields.skipped, ['record 2 (meter2): "soon" is not a time stamp (YYYY-MM-DD HH:MM:SS)']);
    assert.deepEqual(warnings, [['skipped', { count: 1, problems: 'record 2 (meter2): "soon" is not a time stamp (YYYY-MM-DD HH:MM:SS)' }]]);
  });

  it('polls: sends only new readings, reports the same failure once, and recovers', async () => {
    const { controller, statuses } = make({ operation: 'data', poll: true, pollMinutes: 5 });
    const sent: OperationResult[] = [];
    const failures: Array<[string, boolean]> = [];
    controller.startPolling((result) => sent.push(result), (error, report) => failures.push([(error as Error).message, report]));
    await clock.whenTimers(1);
    assert.equal(sent.length, 1, 'a poll at start');
    fake.server.fail({ kind: 'status', status: 404 }, 2, /^\/data$/);
    for (let i = 0; i < 3; i += 1) {
      clock.advance(5 * MINUTE);
      await clock.whenTimers(1);
    }
    assert.deepEqual(failures.map(([, report]) => report), [true, false], 'the same error twice is reported once');
    assert.match(failures[0][0], /Intellimeter found no such resource \(reading the latest readings\)/);
    assert.equal(sent.length, 2);
    assert.equal(sent[1].kind === 'readings' && sent[1].readings[0].start, '2019-10-30T13:30:00-04:00');
    assert.equal(statuses.at(-1)?.key, 'readings');
    await controller.stop();
    assert.equal(clock.pending, 0);
  });
});
