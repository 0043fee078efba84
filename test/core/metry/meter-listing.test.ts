import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeMetry, METRY_TEST_TOKEN } from '../../../testing/fakes/metry';
import { statusText } from '../../../testing/catalog';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';
import { isServiceError } from '../../../src/core/http/errors';
import { ManualClock } from '../../../testing/manual-clock';
import { ListingSettings, meterFilters, readListingSettings, runListing } from '../../../src/core/metry/meter-listing';
import { isConfigError } from '../../../src/core/runtime/options';
import type { StatusView } from '../../../src/core/runtime/status';

describe('what metry-meters sends for one input', () => {
  let metry: FakeMetry;
  let client: ServiceHttpClient;
  let statuses: StatusView[];

  before(async () => {
    metry = await new FakeMetry().start();
  });
  after(() => metry.stop());
  beforeEach(() => {
    metry.server.reset();
    metry.clearMeters();
    metry.subaccounts.length = 0;
    statuses = [];
    client = new ServiceHttpClient({ service: 'metry', baseURL: metry.baseUrl, auth: bearerAuth(METRY_TEST_TOKEN), clock: ManualClock.autoAdvancing(), random: () => 0.5 });
  });

  const run = (settings: ListingSettings, parentParts?: unknown) =>
    runListing(settings, { requester: client, filters: meterFilters(settings, {}), parentParts, sequenceId: 'seq-1', onStatus: (view) => statuses.push(view) });
  const texts = () => statuses.map((view) => statusText('metry-meters', view));

  it('sends one message per meter only once the list is whole, each with the complete parts', async () => {
    metry.addMeters(51);
    const output = await run(readListingSettings({ output: 'each' }), { id: 'outer', index: 2, count: 3 });
    assert.equal(output.items.length, 51);
    output.items.forEach((item, index) => {
      assert.deepEqual(item.parts, { id: 'seq-1', type: 'array', index, count: 51, parts: { id: 'outer', index: 2, count: 3 } });
      assert.equal((item.payload as { root: { _id: string } }).root._id, FakeMetry.rootId(index));
    });
    assert.deepEqual(output.items[0].listing, { count: 51, sent: 51, passes: 1, duplicates: 0, complete: true });
    assert.equal(output.unmapped, undefined);
    assert.deepEqual(texts(), ['listing', '50/51 meters', '51/51 meters']);
    assert.equal(statusText('metry-meters', output.status), '51 meters');
    assert.equal(output.status.fill, 'green');
  });

  it('sends nothing when a later page fails: no open sequence reaches a join', async () => {
    metry.addMeters(120);
    metry.beforeListPage = (skip) => {
      if (skip === 50) metry.server.fail({ kind: 'status', status: 401 }, 1, /\/meters$/);
    };
    await assert.rejects(run(readListingSettings({ output: 'each' })), (e: unknown) => isServiceError(e) && e.status === 401);
    assert.deepEqual(metry.server.requestsTo('/api/v2/meters').map((r) => r.query.get('skip')), ['0', '50', '100']);
    assert.deepEqual(texts(), ['listing', '50/120 meters', '100/120 meters'], 'progress only, no result');
  });

  it('maps by table and tag; the unmapped go to the second output', async () => {
    metry.addMeters(3, (i) => ({ tags: i === 1 ? ['mapped:T-1'] : [] }));
    const settings = readListingSettings({ mappings: [{ meter: FakeMetry.rootId(0), mappedId: 'B-0' }], useTags: true, tagPrefix: 'mapped:' });
    const output = await run(settings);
    assert.deepEqual((output.items[0].payload as { mappedId: string }[]).map((m) => m.mappedId), ['B-0', 'T-1']);
    assert.deepEqual((output.unmapped!.payload as { id: string; reason: string }[]).map((m) => [m.id, m.reason]), [[FakeMetry.rootId(2), 'no tag starting with "mapped:"']]);
    assert.equal(statusText('metry-meters', output.status), '2 meters, 1 unmapped');
  });

  it('says so when the list kept changing, and still sends each meter once', async () => {
    metry.addMeters(60);
    metry.beforeListPage = (skip) => {
      if (skip === 50) metry.insertMeterAtFront();
    };
    const output = await run(readListingSettings({ output: 'all' }));
    const meters = output.items[0].payload as { root: { _id: string } }[];
    assert.equal(new Set(meters.map((m) => m.root._id)).size, meters.length);
    assert.match(output.warning!, /changed while it was paged, 3 times in a row/);
    assert.equal((output.items[0].listing as { complete: boolean; possiblyMissing: number }).complete, false);
    assert.equal((output.items[0].listing as { possiblyMissing: number }).possiblyMissing, 1);
    assert.equal(statusText('metry-meters', output.status), `${meters.length} meters, list changed`);
    assert.equal(output.status.fill, 'yellow');
  });

  it('lists subaccounts', async () => {
    for (let i = 0; i < 55; i += 1) metry.subaccounts.push({ _id: `sub${String(i).padStart(21, '0')}`, name: `Customer ${i}`, custom_identifier: `C-${i}` });
    const output = await run(readListingSettings({ mode: 'subaccounts' }));
    assert.equal((output.items[0].payload as unknown[]).length, 55);
    assert.equal(statusText('metry-meters', output.status), '55 subaccounts');
    assert.equal(statusText('metry-meters', statuses[1]), '50/55 subaccounts');
  });

  it('checks its settings at deploy, naming the field', () => {
    const refuses = (config: Record<string, unknown>, field: string) => assert.throws(() => readListingSettings(config), (e: unknown) => isConfigError(e) && e.field === field);
    refuses({ output: 'some' }, 'Output');
    refuses({ mode: 'forest' }, 'List');
    refuses({ box: 'archive' }, 'Box');
    refuses({ meterType: 'steam' }, 'Type');
    const defaults = readListingSettings({});
    assert.deepEqual([defaults.mode, defaults.output, defaults.box, defaults.meterType, defaults.mapper], ['meters', 'all', 'active', undefined, undefined]);
    assert.deepEqual(meterFilters(readListingSettings({ box: 'any', meterType: 'heat' }), { subaccount: 'sub1', tags: '', ean: undefined }), { box: '', type: 'heat', subaccount: 'sub1' });
  });
});
