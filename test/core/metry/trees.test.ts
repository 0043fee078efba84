import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeMetry, METRY_TEST_TOKEN, fakeValue } from '../../../testing/fakes/metry';
import { FakeMetryExtras } from '../../../testing/fakes/metry-extra';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';
import { ManualClock } from '../../../testing/manual-clock';
import { collect } from '../../../src/core/http/pagination';
import { isTreeNode, listTreeNodes, treeNodeMeter } from '../../../src/core/metry/trees';
import { ConsumptionExport, ReadingsEvent } from '../../../src/core/metry/export';
import { validateReading } from '../../../src/core/readings';

const ROOT = '5927dd3b28592700ad6185dc';

describe('tree nodes against the fake Metry', () => {
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
    extras.treeNodes.length = 0;
    client = new ServiceHttpClient({ service: 'metry', baseURL: metry.baseUrl, auth: bearerAuth(METRY_TEST_TOKEN), clock: ManualClock.autoAdvancing(), random: () => 0.5 });
  });

  it('lists root nodes and, page by page, the children of a node, with custom_identifier', async () => {
    extras.addTreeNode({ _id: ROOT, name: 'Customer 17', parent: null, custom_identifier: 'CUST-17', meters: [] });
    extras.addTreeNode({ _id: '5927dd3b28592700ad6185dd', name: 'Customer 18', parent: null, meters: [] });
    for (let i = 0; i < 60; i += 1) extras.addTreeNode({ _id: `child${i}`, name: `Building ${i}`, parent: ROOT, custom_identifier: `B-${i}`, meters: [] });
    const roots = await collect(listTreeNodes(client, null));
    assert.deepEqual(roots.map((n) => [n._id, n.custom_identifier]), [[ROOT, 'CUST-17'], ['5927dd3b28592700ad6185dd', null]]);
    assert.ok(roots.every(isTreeNode));
    const children = await collect(listTreeNodes(client, ROOT));
    assert.equal(children.length, 60);
    assert.deepEqual(metry.server.requestsTo('/api/v2/trees').slice(1).map((r) => [r.query.get('parent'), r.query.get('skip')]), [[ROOT, '0'], [ROOT, '50']]);
    assert.equal((await collect(listTreeNodes(client, undefined))).length, 62, 'without parent every node');
  });

  it('fetches a node\'s aggregated consumption with the node id as meterId, across the spring DST day', async () => {
    const spec = { timezone: 'Europe/Stockholm', dataFrom: '2024-01-01T00:00:00+01:00', dataUntil: '2024-06-01T00:00:00+02:00' };
    metry.addMeters(3, (i) => ({ ...spec, box: i === 2 ? 'ignored' : 'active' }));
    extras.addTreeNode({ _id: ROOT, name: 'Customer 17', parent: null, custom_identifier: 'CUST-17', meters: [0, 1, 2] });
    const [node] = await collect(listTreeNodes(client, null));
    const meter = await treeNodeMeter(client, node, 'UTC');
    assert.equal(meter.timezone, 'Europe/Stockholm', 'the zone of the node\'s meters');
    metry.server.reset();
    const exporter = new ConsumptionExport(client, { granularity: 'hour', metrics: ['energy'], period: '20240331', now: Date.parse('2024-05-01T00:00:00Z'), useMulti: false });
    const readings: ReadingsEvent['readings'] = [];
    for await (const event of exporter.run([meter])) if (event.type === 'readings') readings.push(...event.readings);
    assert.deepEqual(metry.server.requests.map((r) => r.path), [`/api/v2/consumptions/${ROOT}/hour/2024033100-2024033123`], "one request, not /consumptions/multi");
    assert.equal(readings.length, 23, 'the spring day has 23 hours');
    for (const reading of readings) assert.deepEqual(validateReading(reading), []);
    assert.ok(readings.every((r) => r.meterId === ROOT && r.mappedId === 'CUST-17'));
    assert.equal(readings[2].start, '2024-03-31T03:00:00+02:00', 'after 01:00 comes 03:00');
    const slot = Date.parse(readings[5].start);
    const expected = Math.round((fakeValue(0, 'energy', 'hour', slot) + fakeValue(1, 'energy', 'hour', slot)) * 1000) / 1000;
    assert.equal(readings[5].value, expected, 'the sum over the node\'s active meters only');
  });
});
