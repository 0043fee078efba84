import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';
import { ManualClock } from '../../../testing/manual-clock';
import { isServiceError } from '../../../src/core/http/errors';
import { triggerHistoricalCollection } from '../../../src/core/utilityapi/collection';
import { MeterOutcome, explainNotes, fetchMeters, waitForCollection } from '../../../src/core/utilityapi/collection-poller';
import { FakeUtilityApi, UTILITYAPI_TEST_TOKEN } from '../../../testing/fakes/utilityapi';

describe('UtilityAPI wait until collected', () => {
  let api: FakeUtilityApi;
  let clock: ManualClock;
  let client: ServiceHttpClient;

  before(async () => {
    api = await new FakeUtilityApi().start();
  });
  after(() => api.stop());
  beforeEach(() => {
    api.reset();
    clock = ManualClock.autoAdvancing();
    client = new ServiceHttpClient({ service: 'utilityapi', baseURL: api.baseUrl, auth: bearerAuth(UTILITYAPI_TEST_TOKEN), clock, random: () => 0.5 });
  });

  async function all(iterable: AsyncIterable<MeterOutcome>, into: MeterOutcome[] = []): Promise<MeterOutcome[]> {
    for await (const item of iterable) into.push(item);
    return into;
  }

  it('polls until each meter leaves pending, yielding meters as they finish, one interval apart', async () => {
    api.addMeter({ uid: 'fast', pollsUntilDone: 1 }).addMeter({ uid: 'slow', pollsUntilDone: 3 });
    await triggerHistoricalCollection(client, { meters: ['fast', 'slow'] });
    assert.equal(api.meterStatus('fast'), 'pending');
    const progress: string[] = [];
    const outcomes = await all(waitForCollection(client, ['fast', 'slow'], { intervalMs: 30_000, timeoutMs: 600_000, clock, onProgress: (f, t) => progress.push(`${f}/${t}`) }));
    assert.deepEqual(outcomes.map((o) => [o.uid, o.status]), [['fast', 'updated'], ['slow', 'updated']]);
    assert.deepEqual(progress, ['0/2', '1/2', '1/2', '2/2']);
    assert.deepEqual(clock.sleeps, [30_000, 30_000, 30_000, 30_000]);
    const listings = api.server.requestsTo('/api/v2/meters');
    assert.equal(listings.length, 4);
    assert.equal(listings[0].query.get('uids'), 'fast,slow');
    assert.equal(listings[2].query.get('uids'), 'slow', 'finished meters are no longer asked for');
    assert.equal(outcomes[0].meter?.uid, 'fast');
  });

  it('explains the notes that need action: access_invalid and intervals_empty', async () => {
    api.addMeter({ uid: 'locked', pollsUntilDone: 1, finalStatus: 'errored', notesWhenDone: [{ type: 'access_invalid', msg: 'Login failed', ts: '2024-03-01T00:00:00+00:00' }] });
    api.addMeter({ uid: 'nointervals', pollsUntilDone: 0, notesWhenDone: [{ type: 'intervals_empty', msg: 'No intervals' }, { type: 'some_new_type', msg: '?' }] });
    await triggerHistoricalCollection(client, { meters: ['locked', 'nointervals'] });
    const outcomes = await all(waitForCollection(client, ['locked', 'nointervals'], { intervalMs: 1000, timeoutMs: 60_000, clock }));
    const locked = outcomes.find((o) => o.uid === 'locked')!;
    assert.equal(locked.status, 'errored');
    assert.match(locked.problems[0], /Ask the customer to update the authorization's credentials/);
    assert.equal(locked.notes[0].type, 'access_invalid');
    const empty = outcomes.find((o) => o.uid === 'nointervals')!;
    assert.match(empty.problems[0], /no interval data/);
    assert.equal(empty.notes.length, 2, 'unknown note types are kept as they are');
    assert.equal(empty.notes[1].explanation, undefined);
  });

  it('keys on the note type, not its wording', () => {
    const a = explainNotes([{ type: 'intervals_empty', msg: 'old wording' }]);
    const b = explainNotes([{ type: 'intervals_empty', msg: 'new wording' }, 'junk', { msg: 'no type' }]);
    assert.deepEqual(a.problems, b.problems);
    assert.equal(b.notes.length, 1);
  });

  it('stops at the timeout with the still-pending meters named, after yielding the finished ones', async () => {
    api.addMeter({ uid: 'done', pollsUntilDone: 1 }).addMeter({ uid: 'stuck', pollsUntilDone: 1000 });
    await triggerHistoricalCollection(client, { meters: ['done', 'stuck'] });
    const seen: MeterOutcome[] = [];
    await assert.rejects(all(waitForCollection(client, ['done', 'stuck'], { intervalMs: 60_000, timeoutMs: 5 * 60_000, clock }), seen), (error: unknown) => {
      assert.ok(isServiceError(error));
      assert.equal(error.code, 'TIMEOUT');
      assert.match(error.message, /1 of 2 meter\(s\) were still pending after waiting 5 min: stuck/);
      assert.match(error.message, /raise "Wait at most"/);
      assert.deepEqual((error as unknown as { pending: string[] }).pending, ['stuck']);
      return true;
    });
    assert.deepEqual(seen.map((o) => o.uid), ['done']);
    assert.equal(clock.sleeps.reduce((a, b) => a + b, 0), 5 * 60_000);
  });

  it('follows next pages of the meters listing and asks for left-out meters one by one', async () => {
    api.meterPageSize = 2;
    api.addMeters(5);
    const meters = await fetchMeters(client, ['m1', 'm2', 'm3', 'm4', 'm5', 'ghost']);
    assert.deepEqual([...meters.keys()].sort(), ['ghost', 'm1', 'm2', 'm3', 'm4', 'm5']);
    assert.equal(meters.get('ghost'), null);
    assert.equal(api.server.requestsTo('/api/v2/meters').length, 3);
    assert.equal(api.server.requestsTo('/api/v2/meters/ghost').length, 1);
  });

  it('follows a next link of the meters listing written as a path, against the response URL', async () => {
    api.meterPageSize = 2;
    api.nextStyle = 'path';
    api.addMeters(3);
    const meters = await fetchMeters(client, ['m1', 'm2', 'm3']);
    assert.deepEqual([...meters.keys()].sort(), ['m1', 'm2', 'm3']);
    assert.deepEqual(api.server.requests.map((r) => `${r.path}?${r.query}`), ['/api/v2/meters?uids=m1%2Cm2%2Cm3', '/api/v2/meters?uids=m1%2Cm2%2Cm3&after=m2']);
  });

  it('reports a meter that disappeared as not_found instead of waiting for it', async () => {
    api.addMeter({ uid: 'real', pollsUntilDone: 0 });
    const outcomes = await all(waitForCollection(client, ['real', 'vanished'], { intervalMs: 1000, timeoutMs: 10_000, clock }));
    assert.deepEqual(outcomes.map((o) => [o.uid, o.status]), [['real', 'updated'], ['vanished', 'not_found']]);
    assert.match(outcomes[1].problems[0], /no longer lists this meter/);
  });

  it('a failing status check ends the wait with a UtilityAPI-specific message', async () => {
    api.addMeter({ uid: 'm1', pollsUntilDone: 2 });
    api.server.fail({ kind: 'status', status: 401, body: { error: 'Invalid token' } }, 1, /^\/api\/v2\/meters$/);
    await assert.rejects(all(waitForCollection(client, ['m1'], { intervalMs: 1000, timeoutMs: 10_000, clock })), /did not accept the API token while checking the meters' collection status/);
  });

  it('a closed scope cancels the wait between two polls', async () => {
    api.addMeter({ uid: 'm1', pollsUntilDone: 100 });
    await triggerHistoricalCollection(client, { meters: ['m1'] });
    const scope = client.lease();
    const waiting = all(waitForCollection(scope, ['m1'], { intervalMs: 1000, timeoutMs: 3_600_000, clock, signal: scope.signal, onProgress: () => scope.close() }));
    await assert.rejects(waiting, (error: unknown) => isServiceError(error) && error.code === 'CANCELLED');
  });
});
