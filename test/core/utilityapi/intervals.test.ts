import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';
import { ManualClock } from '../../../testing/manual-clock';
import { validateReading } from '../../../src/core/readings';
import { fetchIntervalBlocks, fetchMeterReadings, granularityOf, intervalBlockToReadings } from '../../../src/core/utilityapi/intervals';
import { collect } from '../../../src/core/http/pagination';
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

  it('follows next until null and returns every block of the meter, oldest first', async () => {
    api.addMeter({ uid: 'm1', blocks: generateBlocks('m1', 5, 4) });
    api.intervalPageSize = 2;
    const blocks = await collect(fetchIntervalBlocks(client, 'm1'));
    assert.deepEqual(blocks.map((b) => b.uid), ['m1-iv1', 'm1-iv2', 'm1-iv3', 'm1-iv4', 'm1-iv5']);
    const requests = api.server.requestsTo('/api/v2/intervals');
    assert.equal(requests.length, 3);
    assert.equal(requests[0].query.get('meters'), 'm1');
    assert.equal(requests[0].query.get('order'), 'earliest_first');
    assert.equal(requests[2].query.get('page'), '3');
    for (const request of requests) assert.equal(request.headers.authorization, `Bearer ${UTILITYAPI_TEST_TOKEN}`);
  });

  it('turns the readings into valid normalized readings with the utility offset kept', async () => {
    api.addMeter({ uid: 'm1', blocks: generateBlocks('m1', 3, 4) });
    const readings = await fetchMeterReadings(client, 'm1');
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
    await assert.rejects(collect(fetchIntervalBlocks(client, 'm1')), /pointed to another server/);
    assert.equal(api.server.requestsTo('/api/v2/intervals').length, 1);
  });

  it('explains a 404 for the meter\'s intervals', async () => {
    api.server.fail({ kind: 'status', status: 404, body: { error: 'Not found' } }, 1, /intervals/);
    await assert.rejects(fetchMeterReadings(client, 'm9'), /found none of the meters \(m9\).*while fetching interval data/);
  });
});
