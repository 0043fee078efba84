import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';
import { isServiceError } from '../../../src/core/http/errors';
import { StatusView, statusView } from '../../../src/core/runtime/status';
import { HistoricalRequest, HistoricalRunHandlers, MeterDelivery, MeterFailure, retryStatus, runHistoricalCollection } from '../../../src/core/utilityapi/historical-run';
import { ServiceError } from '../../../src/core/http/errors';
import { readHistoricalSettings } from '../../../src/core/utilityapi/settings';
import { ManualClock } from '../../../testing/manual-clock';
import { statusText } from '../../../testing/catalog';
import { FakeUtilityApi, UTILITYAPI_TEST_TOKEN, generateBlocks } from '../../../testing/fakes/utilityapi';

const INTERVALS = '/api/v2/intervals';

describe('UtilityAPI historical run (trigger, wait, export intervals per meter)', () => {
  let api: FakeUtilityApi;
  let clock: ManualClock;
  let client: ServiceHttpClient;

  before(async () => {
    api = await new FakeUtilityApi().start();
  });
  after(() => api.stop());
  beforeEach(() => {
    api.reset();
    clock = ManualClock.autoAdvancing(Date.UTC(2024, 5, 15));
    client = new ServiceHttpClient({ service: 'utilityapi', baseURL: api.baseUrl, auth: bearerAuth(UTILITYAPI_TEST_TOKEN), clock, random: () => 0.5 });
  });

  interface Recorded {
    statuses: StatusView[];
    delivered: MeterDelivery[];
    failed: MeterFailure[];
  }

  async function run(request: HistoricalRequest, config: Record<string, unknown> = {}, signal?: AbortSignal): Promise<Recorded & { summary: Awaited<ReturnType<typeof runHistoricalCollection>> }> {
    const recorded: Recorded = { statuses: [], delivered: [], failed: [] };
    const handlers: HistoricalRunHandlers = {
      status: (view) => recorded.statuses.push(view),
      triggered: () => undefined,
      delivered: (delivery) => recorded.delivered.push(delivery),
      failed: (failure) => recorded.failed.push(failure),
    };
    const settings = readHistoricalSettings({ wait: true, fetchIntervals: true, pollInterval: 30, waitTimeout: 60, ...config });
    const summary = await runHistoricalCollection(client, settings, request, handlers, { clock, signal });
    return { ...recorded, summary };
  }

  it('one meter whose intervals fail is reported with its uid; the other meters are delivered and the wait goes on', async () => {
    api.addMeter({ uid: 'a1', pollsUntilDone: 1, blocks: generateBlocks('a1', 3, 4) });
    api.addMeter({ uid: 'b2', pollsUntilDone: 1, blocks: generateBlocks('b2', 3, 4) });
    api.addMeter({ uid: 'c3', pollsUntilDone: 3, blocks: generateBlocks('c3', 1, 4) });
    // Every attempt at a1's intervals fails (1 + 4 retries); the requests after it succeed.
    api.server.fail({ kind: 'status', status: 500, body: '' }, 5, /intervals/);
    const { delivered, failed, statuses, summary } = await run({ meters: ['a1', 'b2', 'c3'] });

    assert.equal(failed.length, 1);
    assert.equal(failed[0].outcome.uid, 'a1');
    assert.equal(failed[0].error.code, 'SERVER_ERROR');
    assert.equal(failed[0].error.status, 500);
    assert.match(failed[0].error.message, /^Meter a1: the interval export failed\. UtilityAPI had an internal error while fetching interval data \(HTTP 500\) after 5 attempts.*None of its readings were sent\. The other meters were not affected\./);
    assert.equal(failed[0].intervals, undefined);

    assert.deepEqual([...new Set(delivered.map((d) => d.outcome.uid))], ['b2', 'c3'], 'b2 in the same poll as a1, c3 after more polling');
    assert.equal(delivered.filter((d) => d.outcome.uid === 'b2').flatMap((d) => d.readings ?? []).length, 12);
    assert.equal(api.server.requestsTo(INTERVALS).filter((r) => r.query.get('meters') === 'a1').length, 5);
    assert.deepEqual(summary.failed, 1);
    assert.deepEqual(statuses.at(-1), { kind: 'warning', fill: 'yellow', shape: 'ring', key: 'collectedFailed', params: { collected: 3, failed: 1 } });
  });

  it('delivers a meter page by page with how far it has come, over the collection\'s months by default', async () => {
    api.intervalPageSize = 2;
    api.addMeter({ uid: 'a1', pollsUntilDone: 0, blocks: generateBlocks('a1', 5, 4) });
    const { delivered, statuses } = await run({ meters: ['a1'], collectionDuration: 6 });
    assert.deepEqual(delivered.map((d) => [d.readings?.length, d.intervals?.page, d.intervals?.last, d.intervals?.readings]), [[8, 1, false, 8], [8, 2, false, 16], [4, 3, true, 20]]);
    assert.deepEqual(delivered[2].intervals?.window, { start: '2023-12-15' }, 'six months before now, as collected');
    assert.equal(delivered[1].intervals?.reached, '2024-02-01T03:45:00.000000-08:00');
    assert.equal(api.server.requestsTo(INTERVALS)[0].query.get('start'), '2023-12-15');
    assert.ok(statuses.some((s) => s.key === 'intervals' && s.params?.uid === 'a1' && s.params?.page === 3 && s.params?.reached === '2024-02-01'), JSON.stringify(statuses));
    assert.deepEqual(statuses.at(-1), { kind: 'success', fill: 'green', shape: 'dot', key: 'collected', params: { collected: 1 } });
  });

  it('every status it shows has a catalog text with all its values', async () => {
    api.intervalPageSize = 1;
    api.addMeter({ uid: 'a1', pollsUntilDone: 1, blocks: generateBlocks('a1', 2, 4) }).addMeter({ uid: 'r1', revoked: true });
    const { statuses } = await run({ meters: ['a1', 'r1'] }, { batchSize: 1 });
    const texts = statuses.map((view) => statusText('utilityapi-historical', view));
    assert.deepEqual(texts, ['triggering', '1/2 batches', '2/2 batches', 'waiting 0/1', 'waiting 0/1', 'waiting 1/1', 'a1 p.1 2023-06-15', 'a1 p.2 2024-02-01', 'a1 p.3 2024-02-01', '1 collected']);
    const limited = retryStatus({ attempt: 1, delayMs: 29_500, error: new ServiceError('x', { code: 'RATE_LIMITED', status: 429 }) });
    assert.equal(statusText('utilityapi-historical', limited), '429, retry in 30 s');
    assert.equal(statusText('utilityapi-historical', retryStatus({ attempt: 2, delayMs: 1000, error: new ServiceError('x', { code: 'SERVER_ERROR', status: 503 }) })), '503, retry 2');
    for (const view of [
      statusView('success', 'triggered', { triggered: 2, ignored: 0 }),
      statusView('warning', 'triggeredIgnored', { triggered: 2, ignored: 1 }),
      statusView('warning', 'collectedNotes', { collected: 2, notes: 1 }),
      statusView('warning', 'collectedFailed', { collected: 3, failed: 1 }),
    ]) {
      assert.ok(statusText('utilityapi-historical', view));
    }
  });

  it('uses the message\'s window and the configured months over the collection\'s', async () => {
    api.addMeter({ uid: 'a1', blocks: generateBlocks('a1', 1, 4) });
    await run({ meters: ['a1'], window: { start: '2024-01-01', end: '2024-03-01' } }, { allowMixed: true });
    await run({ meters: ['a1'], collectionDuration: 6 }, { intervalMonths: 24 });
    const [first, second] = api.server.requestsTo(INTERVALS);
    assert.deepEqual([first.query.get('start'), first.query.get('end'), first.query.get('allow_mixed')], ['2024-01-01', '2024-03-01', 'true']);
    assert.equal(second.query.get('start'), '2022-06-15');
  });

  it('a failure after some pages says what was sent and where to resume', async () => {
    api.intervalPageSize = 2;
    api.addMeter({ uid: 'a1', blocks: generateBlocks('a1', 5, 4) });
    let pages = 0;
    const recorded: MeterFailure[] = [];
    const settings = readHistoricalSettings({ wait: true, fetchIntervals: true });
    await runHistoricalCollection(client, settings, { meters: ['a1'] }, {
      status: () => undefined,
      triggered: () => undefined,
      delivered: () => {
        pages += 1;
        // The third page breaks for good.
        if (pages === 2) api.server.fail({ kind: 'status', status: 503, body: '' }, 5, /intervals/);
      },
      failed: (failure) => recorded.push(failure),
    }, { clock });
    assert.equal(pages, 2);
    assert.deepEqual(recorded[0].intervals && { page: recorded[0].intervals.page, readings: recorded[0].intervals.readings, last: recorded[0].intervals.last }, { page: 2, readings: 16, last: false });
    assert.match(recorded[0].error.message, /2 page\(s\) with 16 reading\(s\) up to 2024-02-01T03:45:00\.000000-08:00 of this meter were sent before; to fetch the rest, send the meter again with msg\.start = "2024-02-01T03:45:00\.000000-08:00"/);
  });

  it('without Intervals, each collected meter is delivered once without readings', async () => {
    api.addMeters(2, 'm', { pollsUntilDone: 1 });
    const { delivered } = await run({ meters: ['m1', 'm2'] }, { fetchIntervals: false });
    assert.deepEqual(delivered.map((d) => [d.outcome.uid, d.readings]), [['m1', undefined], ['m2', undefined]]);
    assert.equal(api.server.requestsTo(INTERVALS).length, 0);
  });

  it('a closing node ends the whole run, not just one meter', async () => {
    api.addMeters(2, 'm', { history: { startMs: Date.UTC(2024, 0, 1, 8), days: 30 } });
    api.intervalPageSize = 1;
    const controller = new AbortController();
    const delivered: MeterDelivery[] = [];
    const failed: MeterFailure[] = [];
    const settings = readHistoricalSettings({ wait: true, fetchIntervals: true });
    const running = runHistoricalCollection(client, settings, { meters: ['m1', 'm2'] }, {
      status: () => undefined,
      triggered: () => undefined,
      delivered: (delivery) => {
        delivered.push(delivery);
        if (delivered.length === 3) controller.abort();
      },
      failed: (failure) => failed.push(failure),
    }, { clock, signal: controller.signal });
    await assert.rejects(running, (error: unknown) => isServiceError(error) && error.code === 'CANCELLED');
    assert.equal(delivered.length, 3);
    assert.deepEqual(failed, []);
  });
});
