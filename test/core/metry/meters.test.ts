import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeMetry, METRY_TEST_TOKEN } from '../../../testing/fakes/metry';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';
import { ManualClock } from '../../../testing/manual-clock';
import { collect } from '../../../src/core/http/pagination';
import { isServiceError } from '../../../src/core/http/errors';
import { buildMeterQuery, listMeters, listSubaccounts, listWholeMeters, listWholeSubaccounts } from '../../../src/core/metry/meters';
import type { MetryMeter } from '../../../src/core/metry/types';

describe('listing Metry meters and subaccounts against the fake Metry', () => {
  let metry: FakeMetry;
  let client: ServiceHttpClient;

  before(async () => {
    metry = await new FakeMetry().start();
  });
  after(() => metry.stop());
  beforeEach(() => {
    metry.server.reset();
    metry.clearMeters();
    metry.subaccounts.length = 0;
    client = new ServiceHttpClient({ service: 'metry', baseURL: metry.baseUrl, auth: bearerAuth(METRY_TEST_TOKEN), clock: ManualClock.autoAdvancing(), random: () => 0.5 });
  });

  for (const n of [0, 1, 50, 51, 120]) {
    it(`lists all ${n} meters, every page, with revoked=false&box=active`, async () => {
      metry.addMeters(n);
      const pages: [number, number | undefined][] = [];
      const meters = await collect(listMeters(client, {}, { onPage: (received, count) => pages.push([received, count]) }));
      assert.equal(meters.length, n);
      assert.deepEqual(meters.map((m) => m.root?._id), Array.from({ length: n }, (_, i) => FakeMetry.rootId(i)));
      const requests = metry.server.requestsTo('/api/v2/meters');
      assert.equal(requests.length, Math.max(1, Math.ceil(n / 50)));
      assert.deepEqual(requests.map((r) => r.query.get('skip')), requests.map((_, i) => String(i * 50)));
      for (const request of requests) {
        assert.equal(request.query.get('revoked'), 'false');
        assert.equal(request.query.get('box'), 'active');
        assert.equal(request.headers.authorization, `Bearer ${METRY_TEST_TOKEN}`);
      }
      assert.deepEqual(pages.at(-1), [n, n]);
    });
  }

  it('sends each filter under the name Metry documents and gets only matching meters', async () => {
    metry.addMeters(130, (i) => ({
      subaccount: i % 2 === 0 ? 'sub00000000000000000000a1' : undefined,
      treeNodes: i % 3 === 0 ? ['tree0000000000000000000b1'] : [],
      tags: i % 5 === 0 ? ['north'] : [],
      type: i % 4 === 0 ? 'heat' : 'electricity',
    }));
    const query = buildMeterQuery({ subaccount: 'sub00000000000000000000a1', treeNode: 'tree0000000000000000000b1', tags: 'north', type: 'heat', ean: '' });
    assert.deepEqual(query, { revoked: 'false', box: 'active', 'assigner._id': 'sub00000000000000000000a1', tree_structure_ids: 'tree0000000000000000000b1', tags: 'north', type: 'heat' });
    const meters = await collect(listMeters(client, { subaccount: 'sub00000000000000000000a1', treeNode: 'tree0000000000000000000b1', tags: 'north', type: 'heat' }));
    // Divisible by 2, 3, 4 and 5: every 60th meter.
    assert.deepEqual(meters.map((m) => m.name), ['Meter 0', 'Meter 60', 'Meter 120']);
    const sent = metry.server.requestsTo('/api/v2/meters')[0].query;
    assert.equal(sent.get('assigner._id'), 'sub00000000000000000000a1');
    assert.equal(sent.get('tree_structure_ids'), 'tree0000000000000000000b1');
    assert.equal(sent.get('tags'), 'north');
    assert.equal(sent.get('type'), 'heat');
    const byEan = await collect(listMeters(client, { ean: '735999200000000007' }));
    assert.deepEqual(byEan.map((m: MetryMeter) => m.name), ['Meter 7']);
  });

  it('never sends a filter name Metry would ignore (which would list every meter)', async () => {
    metry.addMeters(3);
    // The fake, like Metry, ignores what it does not know: a typo returns everything.
    const response = await client.request<{ count: number }>({ path: '/meters', query: { tpye: 'heat' }, responseType: 'json' });
    assert.equal(response.data.count, 3);
    assert.throws(() => buildMeterQuery({ tpye: 'heat' } as never), (e: unknown) => isServiceError(e) && /Unknown meter filter "tpye"/.test(e.message));
    assert.throws(() => buildMeterQuery({ type: 'steam' }), /Unknown meter type "steam"/);
    assert.throws(() => buildMeterQuery({ box: 'archive' }), /Unknown box/);
    assert.deepEqual(buildMeterQuery({ box: '', revoked: 'any' }), {});
  });

  it('lists every page of subaccounts with their custom_identifier', async () => {
    for (let i = 0; i < 73; i += 1) metry.subaccounts.push({ _id: `sub${String(i).padStart(21, '0')}`, name: `Customer ${i}`, custom_identifier: i % 2 ? `CUST-${i}` : null });
    const subaccounts = await collect(listSubaccounts(client));
    assert.equal(subaccounts.length, 73);
    assert.equal(subaccounts[71].custom_identifier, 'CUST-71');
    const requests = metry.server.requestsTo('/api/v2/accounts/me/subaccounts');
    assert.deepEqual(requests.map((r) => r.query.get('skip')), ['0', '50']);
  });

  it('retries a 503 on a later page and still lists everything once', async () => {
    metry.addMeters(120);
    metry.server.fail({ kind: 'status', status: 503 }, 1, /\/meters$/);
    const meters = await collect(listMeters(client));
    assert.equal(new Set(meters.map((m) => m._id)).size, 120);
  });

  it('fails with a clear error on a wrong token', async () => {
    metry.addMeters(3);
    const wrong = new ServiceHttpClient({ service: 'metry', baseURL: metry.baseUrl, auth: bearerAuth('not-the-token-123456'), clock: ManualClock.autoAdvancing() });
    await assert.rejects(collect(listMeters(wrong)), (e: unknown) => isServiceError(e) && e.status === 401 && /Check the token/.test(e.message));
  });

  describe('a list that changes while it is paged', () => {
    const ids = (meters: { root?: { _id: string } }[]) => meters.map((m) => m.root!._id);
    const all = (n: number) => Array.from({ length: n }, (_, i) => FakeMetry.rootId(i));

    it('shows the two failures of plain paging: a meter twice, a meter never', async () => {
      metry.addMeters(120);
      metry.beforeListPage = (skip) => {
        if (skip === 50) metry.insertMeterAtFront();
      };
      const meters = await collect(listMeters(client));
      assert.equal(meters.length, 121);
      assert.equal(new Set(ids(meters)).size, 120, 'meter 49 came twice');
      assert.ok(!ids(meters).includes(FakeMetry.rootId(120)), 'the new meter was never seen');
    });

    it('lists again when a meter was added at the front: each meter once, the new one included', async () => {
      metry.addMeters(120);
      let added: number | undefined;
      metry.beforeListPage = (skip) => {
        if (skip === 50 && added === undefined) added = metry.insertMeterAtFront({ name: 'New meter' });
      };
      const list = await listWholeMeters(client);
      assert.equal(list.passes, 2);
      assert.equal(list.problem, undefined);
      assert.deepEqual(ids(list.items).sort(), [...all(120), FakeMetry.rootId(added!)].sort());
      assert.equal(list.items.length, 121);
      assert.equal(list.count, 121);
      // The second page showed the change, so the first pass stopped there.
      assert.deepEqual(metry.server.requestsTo('/api/v2/meters').map((r) => r.query.get('skip')), ['0', '50', '0', '50', '100']);
    });

    it('lists again when a meter was removed: no active meter is hidden', async () => {
      metry.addMeters(120);
      let removed = false;
      metry.beforeListPage = (skip) => {
        if (skip === 50 && !removed) {
          metry.removeMeter(3);
          removed = true;
        }
      };
      const list = await listWholeMeters(client);
      assert.equal(list.passes, 2);
      assert.deepEqual(ids(list.items).sort(), all(120).filter((id) => id !== FakeMetry.rootId(3)).sort(), 'meter 50, hidden by the shift, is there');
      assert.equal(list.problem, undefined);
    });

    it('reports how many may be missing when the list keeps changing', async () => {
      metry.addMeters(120);
      metry.beforeListPage = (skip) => {
        if (skip === 50) metry.insertMeterAtFront();
      };
      const list = await listWholeMeters(client, {}, { maxPasses: 3 });
      assert.equal(list.passes, 3);
      assert.equal(new Set(ids(list.items)).size, list.items.length, 'still each meter once');
      assert.equal(list.possiblyMissing, 1);
      assert.match(list.problem!, /The meter list changed while it was paged, 3 times in a row \(last time its count went from 122 to 123\)/);
      assert.match(list.problem!, /up to 1 added or moved during the listing may be missing and will be listed by the next run/);
      assert.equal(metry.server.requestsTo('/api/v2/meters').length, 2 + 2 + 3, 'the last pass goes to the end');
    });

    it('lists subaccounts once each by _id', async () => {
      for (let i = 0; i < 60; i += 1) metry.subaccounts.push({ _id: `sub${String(i).padStart(21, '0')}`, name: `Customer ${i}` });
      const list = await listWholeSubaccounts(client);
      assert.equal(list.items.length, 60);
      assert.equal(list.passes, 1);
    });
  });
});

