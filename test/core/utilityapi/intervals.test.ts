import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';
import { ManualClock } from '../../../testing/manual-clock';
import { validateReading } from '../../../src/core/readings';
import { IntervalPage, IntervalQuery, granularityOf, intervalBlockToReadings, intervalPages, windowOfMonths } from '../../../src/core/utilityapi/intervals';
import { FakeUtilityApi, UTILITYAPI_TEST_TOKEN, generateBlocks } from '../../../testing/fakes/utilityapi';

describe('UtilityAPI intervals', () => {
  let api: FakeUtilityApi;
  let client: ServiceHttpClient;

  before(async () => {
    api = await new FakeUtilityApi().start();
  });
  after(() => api.stop());
  beforeEach(() => {
    api.reset();
    client = new ServiceHttpClient({ service: 'utilityapi', baseURL: api.baseUrl, auth: bearerAuth(UTILITYAPI_TEST_TOKEN), clock: ManualClock.autoAdvancing(), random: () => 0.5 });
  });

  async function pages(uid: string, query: IntervalQuery = {}): Promise<IntervalPage[]> {
    const out: IntervalPage[] = [];
    for await (const page of intervalPages(client, uid, query)) out.push(page);
    return out;
  }

  it('follows next until null, page by page, oldest first', async () => {
    api.addMeter({ uid: 'm1', blocks: generateBlocks('m1', 5, 4) });
    api.intervalPageSize = 2;
    const result = await pages('m1');
    assert.deepEqual(result.map((p) => [p.index, p.last, p.readings.length]), [[1, false, 8], [2, false, 8], [3, true, 4]]);
    assert.equal(result[2].reached, '2024-02-01T04:45:00.000000-08:00', 'the newest reading so far');
    const requests = api.server.requestsTo('/api/v2/intervals');
    assert.equal(requests.length, 3);
    assert.equal(requests[0].query.get('meters'), 'm1');
    assert.equal(requests[0].query.get('order'), 'earliest_first');
    assert.equal(requests[0].query.get('allow_mixed'), null, 'only the main interval length unless asked');
    assert.equal(requests[2].query.get('after'), 'm1-iv4');
    for (const request of requests) assert.equal(request.headers.authorization, `Bearer ${UTILITYAPI_TEST_TOKEN}`);
  });

  for (const style of ['path', 'relative'] as const) {
    it(`resolves a ${style} next link against the URL of the response that carried it`, async () => {
      api.addMeter({ uid: 'm1', blocks: generateBlocks('m1', 5, 4) });
      api.intervalPageSize = 2;
      api.nextStyle = style;
      const result = await pages('m1');
      assert.equal(result.flatMap((p) => p.readings).length, 20);
      assert.deepEqual(api.server.requests.map((r) => r.path), ['/api/v2/intervals', '/api/v2/intervals', '/api/v2/intervals'], 'never /api/v2/api/v2/…');
      assert.deepEqual(api.server.requests.map((r) => r.query.get('after')), [null, 'm1-iv2', 'm1-iv4']);
    });
  }

  it('asks for the window and, with allow_mixed, for intervals of every length', async () => {
    const quarterHours = generateBlocks('m1', 4, 4);
    // A day the utility only had hourly readings for, filled in from another source.
    const hourly = {
      uid: 'm1-hourly',
      meter_uid: 'm1',
      readings: [
        { start: '2024-02-02T00:00:00.000000-08:00', end: '2024-02-02T01:00:00.000000-08:00', kwh: 1.1 },
        { start: '2024-02-02T01:00:00.000000-08:00', end: '2024-02-02T02:00:00.000000-08:00', kwh: 0.9 },
      ],
    };
    api.addMeter({ uid: 'm1', blocks: [...quarterHours, hourly] });
    api.intervalPageSize = 100;
    const main = await pages('m1', { window: { start: '2024-02-01T00:30:00-08:00' } });
    assert.deepEqual(main[0].readings.map((r) => r.granularity), Array(12).fill('15min'), 'the first block starts before the window; the hourly one is not the main length');
    const mixed = await pages('m1', { window: { start: '2024-02-01', end: '2024-03-01' }, allowMixed: true });
    assert.equal(mixed[0].readings.length, 18);
    assert.ok(mixed[0].readings.some((r) => r.granularity === 'hour'));
    const [first, second] = api.server.requestsTo('/api/v2/intervals');
    assert.equal(first.query.get('start'), '2024-02-01T00:30:00-08:00');
    assert.equal(first.query.get('end'), null);
    assert.deepEqual([second.query.get('start'), second.query.get('end'), second.query.get('allow_mixed')], ['2024-02-01', '2024-03-01', 'true']);
  });

  it('a default window covers the given months before now', () => {
    assert.deepEqual(windowOfMonths(Date.UTC(2024, 2, 31, 12), 12), { start: '2023-03-31' });
    assert.deepEqual(windowOfMonths(Date.UTC(2024, 0, 15), 36), { start: '2021-01-15' });
  });

  it('turns the readings into valid normalized readings with the utility offset kept', async () => {
    api.addMeter({ uid: 'm1', blocks: generateBlocks('m1', 3, 4) });
    const readings = (await pages('m1')).flatMap((p) => p.readings);
    assert.equal(readings.length, 12, 'the net datapoint equal to kwh is not repeated');
    for (const reading of readings) assert.deepEqual(validateReading(reading), []);
    assert.deepEqual(readings[0], {
      source: 'utilityapi',
      meterId: 'm1',
      metric: 'energy',
      unit: 'kWh',
      granularity: '15min',
      start: '2024-02-01T00:00:00.000000-08:00',
      end: '2024-02-01T00:15:00.000000-08:00',
      value: 0.2,
    });
    const starts = readings.map((r) => Date.parse(r.start));
    assert.deepEqual(starts, [...starts].sort((a, b) => a - b), 'in time order');
  });

  it('keeps missing values as null and other datapoints as their own metrics', () => {
    const readings = intervalBlockToReadings({
      meter_uid: '58',
      readings: [
        { start: '2024-03-10T00:00:00.000000-0800', end: '2024-03-10T01:00:00.000000-0800', kwh: null, datapoints: [] },
        {
          start: '2024-03-10T01:00:00-08:00',
          end: '2024-03-10T02:00:00-08:00',
          kwh: 1.5,
          datapoints: [
            { type: 'net', unit: 'kwh', value: 1.5 },
            { type: 'fwd', unit: 'kwh', value: 2 },
            { type: 'rev', unit: 'kwh', value: 0.5 },
            { type: 'demand', unit: 'kw', value: 3.2 },
          ],
        },
        { start: 'not a time', end: '2024-03-10T03:00:00-08:00', kwh: 1 },
      ],
    });
    assert.deepEqual(
      readings.map((r) => [r.metric, r.unit, r.value, r.granularity]),
      [
        ['energy', 'kWh', null, 'hour'],
        ['energy', 'kWh', 1.5, 'hour'],
        ['energy_fwd', 'kWh', 2, 'hour'],
        ['energy_rev', 'kWh', 0.5, 'hour'],
        ['demand_kw', 'kW', 3.2, 'hour'],
      ],
    );
    assert.equal(readings[0].start, '2024-03-10T00:00:00.000000-08:00', 'offset without colon is normalised');
  });

  it('derives granularity from the reading length, DST days included', () => {
    assert.equal(granularityOf(5 * 60_000), '5min');
    assert.equal(granularityOf(15 * 60_000), '15min');
    assert.equal(granularityOf(3_600_000), 'hour');
    assert.equal(granularityOf(23 * 3_600_000), 'day');
    assert.equal(granularityOf(25 * 3_600_000), 'day');
    assert.equal(granularityOf(30 * 86_400_000), 'month');
    assert.equal(granularityOf(30 * 60_000), 'interval');
  });

  it('refuses a next link to another server, so the token stays private', async () => {
    api.addMeter({ uid: 'm1' });
    // A first page whose next points elsewhere: the client must not follow it.
    api.server.fail({ kind: 'status', status: 200, body: { intervals: generateBlocks('m1', 1, 1), next: 'http://198.51.100.7/api/v2/intervals?page=2' } }, 1, /intervals/);
    await assert.rejects(pages('m1'), /pointed to another server/);
    assert.equal(api.server.requestsTo('/api/v2/intervals').length, 1);
  });

  it('explains a 404 for the meter\'s intervals', async () => {
    api.server.fail({ kind: 'status', status: 404, body: { error: 'Not found' } }, 1, /intervals/);
    await assert.rejects(pages('m9'), /found none of the meters \(m9\).*while fetching interval data/);
  });
});
