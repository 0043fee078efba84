import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeMetry, METRY_TEST_TOKEN } from '../../../testing/fakes/metry';
import { FakeMetryExtras, fakeRegister } from '../../../testing/fakes/metry-extra';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';
import { ManualClock } from '../../../testing/manual-clock';
import { RegisterReadingsOptions, exportRegisterReadings } from '../../../src/core/metry/register-readings';
import type { ExportEvent, ReadingsEvent, SkippedEvent } from '../../../src/core/metry/export';
import { validateReading } from '../../../src/core/readings';

describe('register readings as normalized readings against the fake Metry', () => {
  let metry: FakeMetry;
  let extras: FakeMetryExtras;
  let client: ServiceHttpClient;

  before(async () => {
    metry = await new FakeMetry().start();
    extras = new FakeMetryExtras(metry);
  });
  after(() => metry.stop());
  beforeEach(() => {
    metry.server.reset();
    metry.clearMeters();
    extras.blockedReadings.clear();
    extras.readingEveryHours = 6;
    extras.meterChangeAt = undefined;
    client = new ServiceHttpClient({ service: 'metry', baseURL: metry.baseUrl, auth: bearerAuth(METRY_TEST_TOKEN), clock: ManualClock.autoAdvancing(), random: () => 0.5 });
  });

  async function run(meters: unknown[], options: Partial<RegisterReadingsOptions> = {}) {
    const events: ExportEvent[] = [];
    for await (const event of exportRegisterReadings(client, meters, { metrics: ['energy'], period: '20240330-20240401', now: Date.parse('2024-06-01T00:00:00Z'), ...options })) events.push(event);
    return {
      readings: events.filter((e): e is ReadingsEvent => e.type === 'readings').flatMap((e) => e.readings),
      skipped: events.filter((e): e is SkippedEvent => e.type === 'skipped'),
    };
  }

  const spring = { timezone: 'Europe/Stockholm', dataFrom: '2024-01-01T00:00:00+01:00', dataUntil: '2024-12-01T00:00:00+01:00' };

  it('delivers readings at their own time with the meter\'s offset across the spring DST change, with Metry\'s status', async () => {
    metry.addMeters(1, spring);
    extras.meterChangeAt = Date.parse('2024-03-31T12:00:00Z');
    const { readings, skipped } = await run([metry.meterAt(0)]);
    assert.deepEqual(skipped, []);
    assert.deepEqual(metry.server.requests.map((r) => r.path), [`/api/v2/readings/${FakeMetry.rootId(0)}/20240330-20240401`]);
    for (const reading of readings) {
      assert.deepEqual(validateReading(reading), []);
      assert.equal(reading.granularity, undefined, 'a register reading covers no period');
      assert.equal(reading.end, undefined);
    }
    const byStart = new Map(readings.map((r) => [r.start, r]));
    // 00:00 UTC is 01:00 in winter time; 06:00 UTC is 08:00 once summer time began at 01:00 UTC.
    assert.equal(byStart.get('2024-03-31T01:00:00+01:00')?.status, 'recorded');
    assert.equal(byStart.get('2024-03-31T01:00:00+01:00')?.value, fakeRegister(0, 'energy', Date.parse('2024-03-31T00:00:00Z')));
    assert.equal(byStart.get('2024-03-31T08:00:00+02:00')?.status, 'recorded');
    assert.equal(byStart.get('2024-03-31T14:00:00+02:00')?.status, 'meter_change');
    assert.equal(byStart.get('2024-04-01T00:00:00+02:00')?.status, 'interpolated', 'local midnight, interpolated by Metry');
    assert.equal(byStart.get('2024-03-30T00:00:00+01:00')?.status, 'interpolated');
    assert.ok(readings.every((r) => r.unit === 'kWh' && r.metric === 'energy' && r.meterId === FakeMetry.rootId(0)));
    // 3 local days: 23 + 23 + 24 hours → every sixth UTC hour (12 of them) plus the 3 local midnights.
    assert.equal(readings.length, 15);
  });

  it('keeps the two readings of the repeated autumn hour apart', async () => {
    metry.addMeters(1, spring);
    extras.readingEveryHours = 1;
    const { readings } = await run([metry.meterAt(0)], { period: '20241027' });
    assert.equal(readings.length, 25, 'the autumn day has 25 hours');
    const starts = readings.map((r) => r.start);
    assert.ok(starts.includes('2024-10-27T02:00:00+02:00') && starts.includes('2024-10-27T02:00:00+01:00'));
    assert.equal(new Set(starts.map((s) => Date.parse(s))).size, 25);
  });

  it('delivers nothing for a meter whose readings Metry blocked, reports it and goes on with the others', async () => {
    metry.addMeters(3, spring);
    extras.blockedReadings.add(1);
    const { readings, skipped } = await run([0, 1, 2].map((i) => FakeMetry.rootId(i)), { period: '20240301-20240415' });
    assert.deepEqual(skipped.map((s) => [s.meterId, s.code]), [[FakeMetry.rootId(1), 'READINGS_BLOCKED']]);
    assert.match(skipped[0].reason, /anomaly.*nothing of this meter was imported/);
    assert.ok(!readings.some((r) => r.meterId === FakeMetry.rootId(1)));
    assert.deepEqual([...new Set(readings.map((r) => r.meterId))], [FakeMetry.rootId(0), FakeMetry.rootId(2)]);
    // 46 days go out as two requests per meter; the reading where they meet comes once.
    const perMeter = readings.filter((r) => r.meterId === FakeMetry.rootId(0)).map((r) => r.start);
    assert.equal(new Set(perMeter).size, perMeter.length);
    assert.deepEqual(metry.server.requestsTo(new RegExp(`/readings/${FakeMetry.rootId(0)}/`)).map((r) => r.path.split('/').pop()), ['20240301-20240331', '20240401-20240415']);
  });
});
