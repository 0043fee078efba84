import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeMetry, MAX_VALUES, METRY_TEST_TOKEN, fakeValue } from '../../../testing/fakes/metry';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';
import { ManualClock } from '../../../testing/manual-clock';
import { collect } from '../../../src/core/http/pagination';
import { isServiceError } from '../../../src/core/http/errors';
import { listMeters } from '../../../src/core/metry/meters';
import { InputCursors, MemoryCursorStore, cursorKey, keptCursors } from '../../../src/core/metry/cursor';
import { ConsumptionExport, ExportEvent, ExportOptions, ReadingsEvent, SkippedEvent } from '../../../src/core/metry/export';
import type { Reading } from '../../../src/core/readings';

const STOCKHOLM = 'Europe/Stockholm';

describe('consumption export against the fake Metry', () => {
  let metry: FakeMetry;
  let client: ServiceHttpClient;
  let cursors: MemoryCursorStore;
  let until: string;

  before(async () => {
    metry = await new FakeMetry().start();
  });
  after(() => metry.stop());
  beforeEach(() => {
    metry.server.reset();
    metry.clearMeters();
    cursors = new MemoryCursorStore();
    until = '2024-01-01T00:00:00+01:00';
    client = new ServiceHttpClient({ service: 'metry', baseURL: metry.baseUrl, auth: bearerAuth(METRY_TEST_TOKEN), clock: ManualClock.autoAdvancing(), random: () => 0.5 });
  });

  async function run(meters: unknown, options: Partial<ExportOptions> & { now: number }) {
    const exporter = new ConsumptionExport(client, { granularity: 'month', metrics: ['energy'], cursors: keptCursors(cursors), lookBack: 0, ...options });
    const events: ExportEvent[] = [];
    for await (const event of exporter.run(Array.isArray(meters) ? meters : [meters])) events.push(event);
    const readings = events.filter((e): e is ReadingsEvent => e.type === 'readings').flatMap((e) => e.readings);
    const skipped = events.filter((e): e is SkippedEvent => e.type === 'skipped');
    return { events, readings, skipped, summary: exporter.summary };
  }

  const listed = () => collect(listMeters(client));
  const key = (r: Reading) => `${r.meterId}|${r.metric}|${r.period}`;

  it('exports incrementally: two runs fetch every period exactly once', async () => {
    metry.addMeters(3, () => ({ dataFrom: '2023-01-01T00:00:00+01:00', dataUntil: until }));
    const first = await run(await listed(), { now: Date.parse('2024-01-15T12:00:00+01:00') });
    assert.equal(first.readings.length, 3 * 12);
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.multi, r.meters.length, r.period]), [[true, 3, '202301-202312']]);
    assert.equal(await cursors.get(cursorKey(FakeMetry.rootId(0), 'month', 'energy')), new Date('2023-12-01T00:00:00+01:00').toISOString());

    // Two months later Metry has January and February; March is not complete yet.
    metry.server.reset();
    until = '2024-03-01T00:00:00+01:00';
    const second = await run(await listed(), { now: Date.parse('2024-03-20T08:00:00+01:00') });
    assert.deepEqual(metry.consumptionRequests().map((r) => r.period), ['202401-202402']);
    assert.equal(second.readings.length, 3 * 2);
    const all = [...first.readings, ...second.readings].map(key);
    assert.equal(new Set(all).size, all.length, 'no period delivered twice');
    assert.equal(all.length, 3 * 14);

    // A third run the same day has nothing new and makes no consumption request.
    metry.server.reset();
    const third = await run(await listed(), { now: Date.parse('2024-03-20T09:00:00+01:00') });
    assert.equal(third.readings.length, 0);
    assert.equal(metry.consumptionRequests().length, 0);
    assert.equal(third.summary.upToDate, 3);
  });

  it('keeps null as null and fetches a trailing missing value again next time', async () => {
    const missingMay = Date.parse('2023-05-01T00:00:00+02:00');
    const lateDecember = Date.parse('2023-12-01T00:00:00+01:00');
    let decemberArrived = false;
    metry.addMeters(1, () => ({
      dataFrom: '2023-01-01T00:00:00+01:00',
      dataUntil: until,
      isNull: (_m, _g, slot) => slot === missingMay || (slot === lateDecember && !decemberArrived),
    }));
    const first = await run(await listed(), { now: Date.parse('2024-01-15T00:00:00+01:00') });
    const may = first.readings.find((r) => r.period === '202305')!;
    assert.equal(may.value, null);
    assert.equal(first.readings.find((r) => r.period === '202312')!.value, null);
    assert.ok(first.readings.filter((r) => r.value !== null).every((r) => typeof r.value === 'number' && r.value > 0));
    // The cursor stops at the last value Metry had (November), not at the null December.
    assert.equal(await cursors.get(cursorKey(FakeMetry.rootId(0), 'month', 'energy')), new Date('2023-11-01T00:00:00+01:00').toISOString());
    decemberArrived = true;
    metry.server.reset();
    const second = await run(await listed(), { now: Date.parse('2024-01-16T00:00:00+01:00') });
    assert.deepEqual(second.readings.map((r) => [r.period, r.value]), [['202312', fakeValue(0, 'energy', 'month', lateDecember)]]);
  });

  it('refetches a forced meter and period and leaves the cursors alone', async () => {
    metry.addMeters(2, () => ({ dataFrom: '2023-01-01T00:00:00+01:00', dataUntil: until }));
    await run(await listed(), { now: Date.parse('2024-01-15T00:00:00+01:00') });
    const before = new Map(cursors.values);
    metry.server.reset();
    const forced = await run(FakeMetry.rootId(1), { now: Date.parse('2024-01-15T00:00:00+01:00'), force: true, period: '202306-202307' });
    assert.deepEqual(forced.readings.map((r) => [r.meterId, r.period]), [[FakeMetry.rootId(1), '202306'], [FakeMetry.rootId(1), '202307']]);
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.multi, r.meters, r.period]), [[false, [FakeMetry.rootId(1)], '202306-202307']]);
    // The bare id's time zone comes from the listing, never from GET /meters/{root._id}.
    assert.equal(metry.server.requestsTo(/\/meters\/./).length, 0);
    assert.deepEqual(metry.server.requestsTo('/api/v2/meters').map((r) => [r.query.get('revoked'), r.query.has('box')]), [['false', false]]);
    assert.deepEqual(cursors.values, before);
    assert.throws(() => new ConsumptionExport(client, { granularity: 'month', metrics: ['energy'], now: 0, force: true }), /forced export needs a period/);
  });

  it('skips and reports a meter the user removed (403) while the others continue', async () => {
    metry.addMeters(5, (i) => ({ dataFrom: '2023-01-01T00:00:00+01:00', dataUntil: until, forbidden: i === 2 }));
    const meters = await listed();
    const result = await run(meters, { now: Date.parse('2024-01-15T00:00:00+01:00') });
    assert.equal(result.skipped.length, 1);
    assert.equal(result.skipped[0].meterId, FakeMetry.rootId(2));
    assert.equal(result.skipped[0].status, 403);
    assert.match(result.skipped[0].reason, /removed it or revoked access/);
    assert.deepEqual([...new Set(result.readings.map((r) => r.meterId))].sort(), [0, 1, 3, 4].map(FakeMetry.rootId));
    assert.equal(result.readings.length, 4 * 12);
    assert.equal(await cursors.get(cursorKey(FakeMetry.rootId(2), 'month', 'energy')), undefined);
    assert.deepEqual(result.summary.skipped.map((s) => s.meterId), [FakeMetry.rootId(2)]);
    // The batch was refused as a whole, then asked per meter to find the removed one.
    const requests = metry.consumptionRequests();
    assert.equal(requests[0].multi, true);
    assert.equal(requests.filter((r) => !r.multi).length, 5);
  });

  it('follows the shared policy for 400 (fails) and 5xx (retried)', async () => {
    metry.addMeters(2, () => ({ dataFrom: '2023-01-01T00:00:00+01:00', dataUntil: until }));
    const meters = await listed();
    metry.server.fail({ kind: 'status', status: 502 }, 1, /consumptions/);
    const retried = await run(meters, { now: Date.parse('2024-01-15T00:00:00+01:00') });
    assert.equal(retried.readings.length, 24);
    metry.server.fail({ kind: 'status', status: 400, body: { code: 400, message: 'Invalid period' } }, 1, /consumptions/);
    await assert.rejects(run(meters, { now: Date.parse('2024-01-15T00:00:00+01:00'), period: '2023' }), (e: unknown) => isServiceError(e) && e.code === 'BAD_REQUEST' && /Invalid period/.test(e.message));
  });

  it('gives hour readings the right times across both DST changes (Europe/Stockholm)', async () => {
    metry.addMeters(1, () => ({ timezone: STOCKHOLM, dataFrom: '2024-01-01T00:00:00+01:00', dataUntil: '2025-01-01T00:00:00+01:00' }));
    const [meter] = await listed();
    const spring = await run(meter, { granularity: 'hour', period: '20240331', now: Date.parse('2024-12-01T00:00:00Z') });
    assert.equal(spring.readings.length, 23);
    assert.deepEqual(spring.readings.slice(1, 3).map((r) => r.start), ['2024-03-31T01:00:00+01:00', '2024-03-31T03:00:00+02:00']);
    const autumn = await run(meter, { granularity: 'hour', period: '20241027', now: Date.parse('2024-12-01T00:00:00Z') });
    assert.equal(autumn.readings.length, 25);
    assert.deepEqual(autumn.readings.slice(2, 4).map((r) => [r.start, r.end]), [
      ['2024-10-27T02:00:00+02:00', '2024-10-27T02:00:00+01:00'],
      ['2024-10-27T02:00:00+01:00', '2024-10-27T03:00:00+01:00'],
    ]);
    for (const r of [...spring.readings, ...autumn.readings]) assert.equal(r.value, fakeValue(0, 'energy', 'hour', Date.parse(r.start)));
    const days = await run(meter, { granularity: 'day', period: '20241026-20241028', now: Date.parse('2024-12-01T00:00:00Z') });
    assert.deepEqual(days.readings.map((r) => r.start), ['2024-10-26T00:00:00+02:00', '2024-10-27T00:00:00+02:00', '2024-10-28T00:00:00+01:00']);
  });

  it('batches meters into /consumptions/multi, at most 100 per request', async () => {
    metry.addMeters(120, () => ({ dataFrom: '2023-01-01T00:00:00+01:00', dataUntil: until }));
    const result = await run(await listed(), { now: Date.parse('2024-01-15T00:00:00+01:00') });
    const requests = metry.consumptionRequests();
    assert.deepEqual(requests.map((r) => [r.multi, r.meters.length]), [[true, 100], [true, 20]]);
    assert.equal(result.readings.length, 120 * 12);
    assert.equal(new Set(result.readings.map(key)).size, 120 * 12);
  });

  it('aligns meters with different first months into one request and drops the padding', async () => {
    metry.addMeters(3, (i) => ({ dataFrom: `2023-0${i + 1}-01T00:00:00+01:00`, dataUntil: until }));
    const result = await run(await listed(), { now: Date.parse('2024-01-15T00:00:00+01:00') });
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.meters.length, r.period]), [[3, '202301-202312']]);
    const perMeter = [0, 1, 2].map((i) => result.readings.filter((r) => r.meterId === FakeMetry.rootId(i)).map((r) => r.period));
    assert.equal(perMeter[0][0], '202301');
    assert.equal(perMeter[1][0], '202302');
    assert.equal(perMeter[2][0], '202303');
    assert.deepEqual(perMeter.map((p) => p.length), [12, 11, 10]);
  });

  it('splits at the 100,000-values limit: meters per request and long ranges', async () => {
    metry.addMeters(20, () => ({ dataFrom: '2012-01-01T00:00:00+01:00', dataUntil: '2025-01-01T00:00:00+01:00' }));
    // The fake, like Metry, refuses a request over the limit.
    await assert.rejects(
      client.request({ path: `/consumptions/multi/hour/2024`, query: { meters: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(FakeMetry.rootId).join(',') } }),
      (e: unknown) => isServiceError(e) && e.status === 400,
    );
    metry.server.reset();
    const meters = await listed();
    const year = await run(meters, { granularity: 'hour', period: '2024', now: Date.parse('2025-02-01T00:00:00Z') });
    assert.equal(year.readings.length, 20 * 8784);
    const multi = metry.consumptionRequests();
    assert.ok(multi.length >= 2);
    assert.ok(multi.every((r) => r.meters.length * 8784 <= MAX_VALUES), 'every request under the limit');
    assert.ok(multi.every((r) => r.multi && r.period === '2024010100-2024123123'));

    metry.server.reset();
    const long = await run(meters[0], { granularity: 'hour', period: '2012-2024', now: Date.parse('2025-02-01T00:00:00Z') });
    const pieces = metry.consumptionRequests();
    assert.ok(pieces.length >= 2, 'twelve years of hours do not fit one request');
    assert.equal(long.readings.length, (365 * 13 + 4) * 24);
    assert.equal(new Set(long.readings.map((r) => r.start)).size, long.readings.length);
    // Pieces are fetched in parallel and arrive in any order; the span is what must be complete.
    const starts = long.readings.map((r) => Date.parse(r.start)).sort((a, b) => a - b);
    assert.equal(starts[0], Date.parse('2012-01-01T00:00:00+01:00'));
    assert.equal(starts.at(-1), Date.parse('2024-12-31T23:00:00+01:00'));
  });

  it('picks the best granularity from consumption_stats and reports metrics Metry does not have', async () => {
    metry.addMeters(1, () => ({ granularities: ['month', 'day'], metrics: ['energy'], dataFrom: '2023-12-01T00:00:00+01:00', dataUntil: until }));
    const [meter] = await listed();
    const result = await run(meter, { granularity: 'best', metrics: ['energy', 'flow'], now: Date.parse('2024-01-15T00:00:00+01:00') });
    assert.deepEqual(metry.consumptionRequests().map((r) => [r.granularity, r.metrics]), [['day', ['energy']]]);
    assert.equal(result.readings.length, 31);
    assert.ok(result.events.some((e) => e.type === 'notice' && e.kind === 'unavailable' && /flow/.test(e.reason)));
    assert.equal(await cursors.get(cursorKey(FakeMetry.rootId(0), 'day', 'energy')), new Date('2023-12-31T00:00:00+01:00').toISOString());
  });

  it('reports progress per meter and streams meters from an async source in chunks', async () => {
    metry.addMeters(120, () => ({ dataFrom: '2023-01-01T00:00:00+01:00', dataUntil: until }));
    const progress: number[] = [];
    const exporter = new ConsumptionExport(client, {
      granularity: 'month', metrics: ['energy'], cursors: keptCursors(cursors), now: Date.parse('2024-01-15T00:00:00+01:00'), chunkSize: 50, totalMeters: 120,
      onProgress: (p) => progress.push(p.metersDone),
    });
    let count = 0;
    for await (const event of exporter.run(listMeters(client))) if (event.type === 'readings') count += event.readings.length;
    assert.equal(count, 120 * 12);
    assert.equal(progress.at(-1), 120);
    assert.equal(progress.length, 120);
    // Chunks of 50 meters are planned separately: three batches of multi requests.
    assert.deepEqual(metry.consumptionRequests().map((r) => r.meters.length), [50, 50, 20]);
  });

  it('sends one request per meter when multi is turned off', async () => {
    metry.addMeters(3, () => ({ dataFrom: '2023-01-01T00:00:00+01:00', dataUntil: until }));
    await run(await listed(), { now: Date.parse('2024-01-15T00:00:00+01:00'), useMulti: false });
    assert.deepEqual(metry.consumptionRequests().map((r) => r.multi), [false, false, false]);
  });
});

/**
 * The user's database, as the example flow keeps it: one row per (meter, metric, granularity,
 * start), written with an upsert; `lastStored()` is its `SELECT … max(start) … GROUP BY`.
 */
class ReadingsTable {
  readonly rows = new Map<string, Reading>();
  failing = false;

  store(readings: readonly Reading[]): void {
    if (this.failing) throw new Error('SQLITE_FULL: database or disk is full');
    for (const r of readings) this.rows.set(`${r.meterId}|${r.metric}|${r.granularity}|${r.start}`, r);
  }

  lastStored(): { meterId: string; metric: string; granularity: string; start: string }[] {
    const last = new Map<string, { meterId: string; metric: string; granularity: string; start: string }>();
    for (const r of this.rows.values()) {
      if (r.value === null) continue;
      const key = `${r.meterId}|${r.metric}|${r.granularity}`;
      const current = last.get(key);
      if (!current || r.start > current.start) last.set(key, { meterId: r.meterId, metric: r.metric, granularity: r.granularity!, start: r.start });
    }
    return [...last.values()];
  }

  value(meterId: string, start: string): number | null | undefined {
    return this.rows.get(`${meterId}|energy|day|${start}`)?.value;
  }
}

describe('incremental export from the database cursor, with look-back', () => {
  let metry: FakeMetry;
  let client: ServiceHttpClient;
  let table: ReadingsTable;
  let until: string;

  before(async () => {
    metry = await new FakeMetry().start();
  });
  after(() => metry.stop());
  beforeEach(() => {
    metry.server.reset();
    metry.clearMeters();
    table = new ReadingsTable();
    until = '2024-01-11T00:00:00+01:00';
    client = new ServiceHttpClient({ service: 'metry', baseURL: metry.baseUrl, auth: bearerAuth(METRY_TEST_TOKEN), clock: ManualClock.autoAdvancing(), random: () => 0.5 });
  });

  /** One nightly run as the example flow does it: read the cursor from the table, export, store per meter. */
  async function nightly(now: string, options: Partial<ExportOptions> = {}) {
    metry.server.reset();
    const meters = await collect(listMeters(client));
    const exporter = new ConsumptionExport(client, { granularity: 'day', metrics: ['energy'], cursors: new InputCursors([table.lastStored()]), now: Date.parse(now), ...options });
    let failed: Error | undefined;
    for await (const event of exporter.run(meters)) {
      if (event.type !== 'readings') continue;
      try {
        table.store(event.readings);
      } catch (error) {
        failed ??= error as Error;
      }
    }
    return { failed, requests: metry.consumptionRequests(), summary: exporter.summary };
  }

  const days = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `2024-01-${String(from + i).padStart(2, '0')}T00:00:00+01:00`);

  it('resumes from the last stored day of each meter, as the database says', async () => {
    metry.addMeters(2, () => ({ dataFrom: '2024-01-01T00:00:00+01:00', dataUntil: until }));
    const first = await nightly('2024-01-11T03:15:00+01:00');
    assert.deepEqual(first.requests.map((r) => r.period), ['20240101-20240110']);
    assert.equal(first.summary.firstExport, 2);
    // Meter 1's rows after January 6 were lost (restored from an old backup): it resumes there.
    for (const start of days(7, 10)) table.rows.delete(`${FakeMetry.rootId(1)}|energy|day|${start}`);
    until = '2024-01-13T00:00:00+01:00';
    const second = await nightly('2024-01-13T03:15:00+01:00', { lookBack: 0 });
    // One request from the earlier start serves both; meter 0's extra days are dropped on arrival.
    assert.deepEqual(second.requests.map((r) => [r.meters.length, r.period]), [[2, '20240107-20240112']]);
    assert.equal(second.summary.readings, 2 + 6);
    assert.equal(second.summary.firstExport, 0);
    for (const meter of [0, 1]) for (const start of days(1, 12)) assert.equal(table.value(FakeMetry.rootId(meter), start), fakeValue(meter, 'energy', 'day', Date.parse(start)), `${meter} ${start}`);
  });

  it('loses no period when the storage fails: the rerun fetches what was not stored', async () => {
    metry.addMeters(3, () => ({ dataFrom: '2024-01-01T00:00:00+01:00', dataUntil: until }));
    await nightly('2024-01-11T03:15:00+01:00', { lookBack: 0 });
    assert.equal(table.rows.size, 3 * 10);
    until = '2024-01-15T00:00:00+01:00';
    table.failing = true;
    const failed = await nightly('2024-01-15T03:15:00+01:00', { lookBack: 0 });
    assert.match(failed.failed!.message, /disk is full/);
    assert.equal(table.rows.size, 3 * 10, 'nothing of January 11-14 was stored');
    table.failing = false;
    const rerun = await nightly('2024-01-15T09:00:00+01:00', { lookBack: 0 });
    assert.deepEqual(rerun.requests.map((r) => [r.meters.length, r.period]), [[3, '20240111-20240114']]);
    assert.equal(table.rows.size, 3 * 14);
    for (const meter of [0, 1, 2]) for (const start of days(1, 14)) assert.equal(table.value(FakeMetry.rootId(meter), start), fakeValue(meter, 'energy', 'day', Date.parse(start)));
  });

  it('picks up a value Metry added late and a value it corrected, within the look-back', async () => {
    const jan8 = Date.parse('2024-01-08T00:00:00+01:00');
    const jan10 = Date.parse('2024-01-10T00:00:00+01:00');
    let late = true;
    let corrected: number | undefined;
    metry.addMeters(1, () => ({
      dataFrom: '2024-01-01T00:00:00+01:00',
      dataUntil: until,
      isNull: (_m, _g, slot) => late && slot === jan8,
      correct: (_m, _g, slot) => (slot === jan10 ? corrected : undefined),
    }));
    await nightly('2024-01-11T03:15:00+01:00');
    const meter = FakeMetry.rootId(0);
    assert.equal(table.value(meter, '2024-01-08T00:00:00+01:00'), null, 'January 8 was missing at first');
    // The next day Metry has January 8 after all, and replaced January 10.
    late = false;
    corrected = 99.5;
    until = '2024-01-12T00:00:00+01:00';
    const next = await nightly('2024-01-12T03:15:00+01:00');
    assert.deepEqual(next.requests.map((r) => r.period), ['20240108-20240111'], 'the last 3 stored days again, then the new one');
    assert.equal(table.value(meter, '2024-01-08T00:00:00+01:00'), fakeValue(0, 'energy', 'day', jan8));
    assert.equal(table.value(meter, '2024-01-10T00:00:00+01:00'), 99.5);
    assert.equal(table.value(meter, '2024-01-11T00:00:00+01:00'), fakeValue(0, 'energy', 'day', Date.parse('2024-01-11T00:00:00+01:00')));
    assert.equal(table.rows.size, 11, 'upserted, not added');
  });

  it('resolves bare ids from the listing, 50 a request, without GET /meters/{id}', async () => {
    metry.addMeters(120, () => ({ dataFrom: '2024-01-01T00:00:00+01:00', dataUntil: until }));
    const ids = [119, 3, 77].map(FakeMetry.rootId);
    const exporter = new ConsumptionExport(client, { granularity: 'day', metrics: ['energy'], period: '20240105', now: Date.parse('2024-01-11T00:00:00+01:00') });
    const events: ExportEvent[] = [];
    for await (const event of exporter.run([...ids, 'no-such-meter'])) events.push(event);
    const readings = events.filter((e): e is ReadingsEvent => e.type === 'readings').flatMap((e) => e.readings);
    assert.deepEqual(readings.map((r) => r.meterId).sort(), [...ids].sort());
    assert.equal(metry.server.requestsTo(/\/meters\/./).length, 0);
    assert.deepEqual(metry.server.requestsTo('/api/v2/meters').map((r) => r.query.get('skip')), ['0', '50', '100'], 'the whole account to find out that one id is not there');
    const skipped = events.filter((e): e is SkippedEvent => e.type === 'skipped');
    assert.deepEqual(skipped.map((s) => [s.meterId, s.code]), [['no-such-meter', 'NOT_LISTED']]);
    assert.match(skipped[0].reason, /does not list this meter/);
    assert.equal(exporter.summary.requests, 3 + 1, 'three listing pages and one multi request');
  });

  it('splits a multi request before its URL gets too long for a web server', async () => {
    metry.addMeters(300, () => ({ dataFrom: '2024-01-01T00:00:00+01:00', dataUntil: until }));
    // 300 ids in one URL would be about 7.6 KB; the fake, like many servers, answers 414 above 6 KB here.
    metry.maxUrlLength = 6144;
    try {
      const meters = await collect(listMeters(client));
      const exporter = new ConsumptionExport(client, { granularity: 'day', metrics: ['energy'], period: '20240105', now: Date.parse('2024-01-11T00:00:00+01:00'), maxMetersPerRequest: 1000, baseUrlLength: metry.baseUrl.length });
      let readings = 0;
      for await (const event of exporter.run(meters)) if (event.type === 'readings') readings += event.readings.length;
      assert.equal(readings, 300);
      const requests = metry.consumptionRequests();
      assert.ok(requests.length >= 2 && requests.every((r) => r.multi), `${requests.length} requests`);
      assert.equal(requests.reduce((sum, r) => sum + r.meters.length, 0), 300);
    } finally {
      metry.maxUrlLength = 8192;
    }
  });
});
