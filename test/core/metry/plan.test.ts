import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bestGranularity, planMeter, planRequests, toConsumptionMeters, ConsumptionMeter, MeterNeed } from '../../../src/core/metry/plan';
import { isServiceError } from '../../../src/core/http/errors';

const STOCKHOLM = 'Europe/Stockholm';
const now = Date.parse('2024-06-15T12:00:00+02:00');

function meter(id: string, first: number | string, last: number | string | null = null, granularity: 'month' | 'day' | 'hour' = 'month'): ConsumptionMeter {
  return { id, timezone: STOCKHOLM, stats: { energy: { [granularity]: { count: 10, first, last } } } };
}

function needsOf(meters: ConsumptionMeter[], granularity: 'month' | 'day' | 'hour' = 'month', period?: string): MeterNeed[] {
  return meters.flatMap((m) => planMeter(m, { granularity, metrics: ['energy'], now, period }).needs);
}

describe('planning consumption requests', () => {
  it('reads meters from ids, meter objects or lists and refuses anything else', () => {
    const meters = toConsumptionMeters(['abc', { _id: 'ref', root: { _id: 'root' }, timezone: STOCKHOLM, mappedId: 'B-1', consumption_stats: {} }]);
    assert.deepEqual(meters.map((m) => [m.id, m.mappedId, m.timezone]), [['abc', undefined, undefined], ['root', 'B-1', STOCKHOLM]]);
    assert.deepEqual(toConsumptionMeters(undefined), []);
    assert.throws(() => toConsumptionMeters([42]), (e: unknown) => isServiceError(e) && /Item 1 of the input is not a Metry meter/.test(e.message));
  });

  it('takes the finest granularity consumption_stats has data for', () => {
    assert.equal(bestGranularity({ energy: { month: { count: 5, first: 202301 }, day: { count: 0, first: null }, hour: null } }), 'month');
    assert.equal(bestGranularity({ energy: { month: { count: 5, first: 202301 }, day: { count: 9, first: 20230101 } } }), 'day');
    assert.equal(bestGranularity({ flow: { hour: { count: 9, first: 2023010100 } } }, 'flow'), 'hour');
    assert.equal(bestGranularity(undefined), 'month');
  });

  it('plans incremental ranges from stats, then from the cursor, up to the last complete period', () => {
    const fresh = planMeter(meter('a', 202301), { granularity: 'month', metrics: ['energy'], now });
    assert.equal(fresh.needs.length, 1);
    assert.equal(new Date(fresh.needs[0].range.first).toISOString(), '2022-12-31T23:00:00.000Z');
    assert.equal(new Date(fresh.needs[0].range.last).toISOString(), '2024-04-30T22:00:00.000Z', 'May 2024 is the last complete month');
    const cursor = Date.parse('2024-03-01T00:00:00+01:00');
    const resumed = planMeter(meter('a', 202301), { granularity: 'month', metrics: ['energy'], now, lookBack: 0 }, { energy: cursor });
    assert.equal(new Date(resumed.needs[0].range.first).toISOString(), '2024-03-31T22:00:00.000Z', 'April follows the March cursor');
    const capped = planMeter(meter('a', 202301, 202402), { granularity: 'month', metrics: ['energy'], now, lookBack: 0 }, { energy: cursor });
    assert.deepEqual(capped.needs, []);
    assert.equal(capped.notices[0].kind, 'up-to-date');
    const unknown = planMeter({ id: 'x', timezone: STOCKHOLM, stats: { energy: { month: { count: 3, first: null } } } }, { granularity: 'month', metrics: ['energy'], now });
    assert.equal(unknown.notices[0].kind, 'unavailable');
  });

  it('looks back a number of stored periods, by default 2 months, 3 days or 72 hours, never before the first value', () => {
    const settings = (granularity: 'month' | 'day' | 'hour', lookBack?: number) => ({ granularity, metrics: ['energy'], now, lookBack });
    const first = (plan: ReturnType<typeof planMeter>) => new Date(plan.needs[0].range.first).toISOString();
    const march = Date.parse('2024-03-01T00:00:00+01:00');
    assert.equal(first(planMeter(meter('a', 202301), settings('month'), { energy: march })), '2024-01-31T23:00:00.000Z', 'February and March again, then April');
    const june10 = Date.parse('2024-06-10T00:00:00+02:00');
    assert.equal(first(planMeter(meter('d', 20230101, null, 'day'), settings('day'), { energy: june10 })), '2024-06-07T22:00:00.000Z', 'June 8, 9 and 10 again');
    const hour = Date.parse('2024-06-10T05:00:00+02:00');
    assert.equal(first(planMeter(meter('h', 2023010100, null, 'hour'), settings('hour'), { energy: hour })), new Date(hour - 71 * 3_600_000).toISOString());
    assert.equal(first(planMeter(meter('d', 20230101, null, 'day'), settings('day', 10), { energy: june10 })), '2024-05-31T22:00:00.000Z', 'a configured look-back');
    // Stored up to March, Metry has nothing after February any more: February is asked again, not up to date.
    const capped = planMeter(meter('a', 202301, 202402), settings('month'), { energy: march });
    assert.deepEqual(capped.needs.map((n) => [new Date(n.range.first).toISOString(), new Date(n.range.last).toISOString()]), [['2024-01-31T23:00:00.000Z', '2024-01-31T23:00:00.000Z']]);
    // A cursor one month after the first value: the look-back stops at the first value.
    assert.equal(first(planMeter(meter('n', 202402), settings('month', 12), { energy: march })), '2024-01-31T23:00:00.000Z');
  });

  it('keeps a multi request URL under the length limit however many meters may share it', () => {
    const long = Array.from({ length: 300 }, (_, i) => meter(`meter-with-a-long-id-${String(i).padStart(40, '0')}`, 202301, 202312));
    const requests = planRequests(needsOf(long), { maxMetersPerRequest: 1000, maxUrlLength: 6144, baseUrlLength: 40 });
    assert.ok(requests.length >= 3, `${requests.length} requests`);
    for (const request of requests) {
      const url = `https://app.metry.io/api/v2/consumptions/multi/month/${request.period}?meters=${encodeURIComponent(request.members.map((m) => m.need.meter.id).join(','))}&metrics=energy`;
      assert.ok(url.length <= 6144, `${url.length} characters`);
    }
    assert.equal(requests.reduce((sum, r) => sum + r.members.length, 0), 300, 'every meter in exactly one request');
    assert.equal(planRequests(needsOf(long.slice(0, 100))).length, 2, 'the default limit applies too');
  });

  it('batches equal ranges, up to the meter limit', () => {
    const meters = Array.from({ length: 250 }, (_, i) => meter(`m${i}`, 202301, 202312));
    const requests = planRequests(needsOf(meters), { maxMetersPerRequest: 100 });
    assert.deepEqual(requests.map((r) => [r.members.length, r.period, r.values]), [[100, '202301-202312', 1200], [100, '202301-202312', 1200], [50, '202301-202312', 600]]);
    assert.equal(planRequests(needsOf(meters.slice(0, 3)), { useMulti: false }).length, 3);
  });

  it('keeps ranges apart when aligning them would more than double a short one', () => {
    const requests = planRequests(needsOf([meter('old', 200001, 202312), meter('new', 202311, 202312)]));
    assert.deepEqual(requests.map((r) => [r.members.map((m) => m.need.meter.id), r.period]), [[['new'], '202311-202312'], [['old'], '200001-202312']]);
  });

  it('keeps every request within the values limit, splitting long ranges', () => {
    const meters = Array.from({ length: 30 }, (_, i) => meter(`h${i}`, 2023010100, 2023123123, 'hour'));
    const requests = planRequests(needsOf(meters, 'hour'), { maxValuesPerRequest: 20_000 });
    for (const request of requests) assert.ok(request.values <= 20_000, `${request.values} values`);
    const covered = requests.reduce((sum, r) => sum + r.values, 0);
    assert.equal(covered, 30 * 8760);
    const single = planRequests(needsOf([meter('long', 2010010100, 2023123123, 'hour')], 'hour'), { maxValuesPerRequest: 20_000 });
    assert.ok(single.length >= 6);
    assert.ok(single.every((r) => r.values <= 20_000));
  });

  it('plans an explicit period the same for every meter, even without stats', () => {
    const needs = needsOf([{ id: 'a', timezone: STOCKHOLM }, { id: 'b', timezone: 'Etc/GMT-1' }], 'day', '20240101-20240131');
    const requests = planRequests(needs);
    assert.deepEqual(requests.map((r) => [r.members.length, r.period]), [[2, '20240101-20240131']]);
  });
});
