import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeMetry, METRY_TEST_TOKEN } from '../../../testing/fakes/metry';
import { FakeMetryExtras, fakeCost } from '../../../testing/fakes/metry-extra';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';
import { ServiceError } from '../../../src/core/http/errors';
import { ManualClock } from '../../../testing/manual-clock';
import { CostExportOptions, exportCosts, parseCostMetrics } from '../../../src/core/metry/costs';
import type { ExportEvent, ReadingsEvent, SkippedEvent } from '../../../src/core/metry/export';
import { validateReading } from '../../../src/core/readings';

describe('costs as normalized readings against the fake Metry', () => {
  let metry: FakeMetry;
  let client: ServiceHttpClient;

  before(async () => {
    metry = await new FakeMetry().start();
    new FakeMetryExtras(metry);
  });
  after(() => metry.stop());
  beforeEach(() => {
    metry.server.reset();
    metry.clearMeters();
    client = new ServiceHttpClient({ service: 'metry', baseURL: metry.baseUrl, auth: bearerAuth(METRY_TEST_TOKEN), clock: ManualClock.autoAdvancing(), random: () => 0.5 });
  });

  async function run(meters: unknown[], options: Partial<CostExportOptions> = {}) {
    const events: ExportEvent[] = [];
    for await (const event of exportCosts(client, meters, { metrics: ['retail_total', 'grid_total'], period: '202301-202312', now: Date.parse('2024-02-10T00:00:00Z'), ...options })) events.push(event);
    return {
      readings: events.filter((e): e is ReadingsEvent => e.type === 'readings').flatMap((e) => e.readings),
      skipped: events.filter((e): e is SkippedEvent => e.type === 'skipped'),
    };
  }

  it('reads cost metrics as Metry names them, with or without the cost_ prefix, and refuses unknown ones', () => {
    assert.deepEqual(parseCostMetrics('retail_total, cost_grid_total'), ['retail_total', 'grid_total']);
    assert.deepEqual(parseCostMetrics(''), ['retail_total', 'grid_total']);
    assert.throws(() => parseCostMetrics('energy'), (error: ServiceError) => error.code === 'CONFIG' && /energy/.test(error.message));
  });

  it('turns a year of monthly costs into readings in the meter\'s zone across both DST changes, nulls kept', async () => {
    metry.addMeters(1, { timezone: 'Europe/Stockholm' });
    const { readings, skipped } = await run([FakeMetry.rootId(0), 'unknown0000000000000000']);
    assert.deepEqual(skipped.map((s) => [s.meterId, s.code]), [['unknown0000000000000000', 'NOT_LISTED']]);
    // One page of the meter listing for the zone of the bare id, then one costs request for the whole year.
    assert.deepEqual(metry.server.requests.map((r) => r.path), ['/api/v2/meters', `/api/v2/costs/${FakeMetry.rootId(0)}/month/202301-202312`]);
    assert.equal(metry.server.requests[1].query.get('metrics'), 'retail_total,grid_total');
    assert.equal(readings.length, 24);
    for (const reading of readings) assert.deepEqual(validateReading(reading), []);
    const grid = readings.filter((r) => r.metric === 'cost_grid_total');
    const retail = readings.filter((r) => r.metric === 'cost_retail_total');
    assert.equal(grid.length, 12);
    assert.ok(grid.every((r) => r.unit === 'SEK' && r.granularity === 'month' && r.meterId === FakeMetry.rootId(0)));
    const march = grid.find((r) => r.period === '202303')!;
    assert.equal(march.start, '2023-03-01T00:00:00+01:00');
    assert.equal(march.end, '2023-04-01T00:00:00+02:00', 'summer time from the last Sunday of March');
    assert.equal(grid.find((r) => r.period === '202310')!.end, '2023-11-01T00:00:00+01:00');
    assert.equal(march.value, fakeCost(0, 'grid_total', Date.parse('2023-03-01T00:00:00+01:00')));
    assert.equal(retail.find((r) => r.period === '202301')!.value, null, 'a month without a value stays null');
    assert.equal(typeof retail.find((r) => r.period === '202302')!.value, 'number');
  });

  it('keeps each meter\'s own zone and skips a meter Metry refuses', async () => {
    metry.addMeters(1, { timezone: 'America/New_York' });
    metry.addMeters(1, { forbidden: true });
    const meters = [0, 1].map((i) => metry.meterAt(i));
    const { readings, skipped } = await run(meters, { period: '202311', metrics: ['grid_total'] });
    assert.deepEqual(readings.map((r) => [r.start, r.end]), [['2023-11-01T00:00:00-04:00', '2023-12-01T00:00:00-05:00']]);
    assert.deepEqual(skipped.map((s) => [s.meterId, s.status]), [[FakeMetry.rootId(1), 403]]);
  });
});
