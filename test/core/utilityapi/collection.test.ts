import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceHttpClient, HttpClientOptions } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';
import { ManualClock } from '../../../testing/manual-clock';
import { isServiceError, ServiceError } from '../../../src/core/http/errors';
import { CollectionError, triggerHistoricalCollection } from '../../../src/core/utilityapi/collection';
import { CollectionRefusal, collectionErrorType, explainCollectionRefusal } from '../../../src/core/utilityapi/errors';
import { FakeUtilityApi, UTILITYAPI_TEST_TOKEN } from '../../../testing/fakes/utilityapi';

const COLLECT = '/api/v2/meters/historical-collection';

describe('UtilityAPI historical collection against the local fake', () => {
  let api: FakeUtilityApi;
  let clock: ManualClock;

  function client(extra: Partial<HttpClientOptions> = {}): ServiceHttpClient {
    return new ServiceHttpClient({ service: 'utilityapi', baseURL: api.baseUrl, auth: bearerAuth(UTILITYAPI_TEST_TOKEN), clock, random: () => 0.5, timeoutMs: 2000, ...extra });
  }

  async function failure(promise: Promise<unknown>): Promise<ServiceError> {
    try {
      await promise;
    } catch (error) {
      assert.ok(isServiceError(error), `expected a ServiceError, got ${String(error)}`);
      return error;
    }
    assert.fail('expected the call to fail');
  }

  before(async () => {
    api = await new FakeUtilityApi().start();
  });
  after(() => api.stop());
  beforeEach(() => {
    api.reset();
    clock = ManualClock.autoAdvancing();
  });

  it('POSTs the meters and duration as JSON with the Bearer token and reports triggered meters', async () => {
    api.addMeters(2);
    const result = await triggerHistoricalCollection(client(), { meters: ['m1', 'm2'], collectionDuration: 6 });
    assert.deepEqual(result, { triggered: ['m1', 'm2'], ignored: [], collectionDuration: 6, requested: 2, batches: 1, rejected: [] });
    const [request] = api.server.requestsTo(COLLECT);
    assert.equal(request.method, 'POST');
    assert.equal(request.headers.authorization, `Bearer ${UTILITYAPI_TEST_TOKEN}`);
    assert.equal(request.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(request.body), { meters: ['m1', 'm2'], collection_duration: 6 });
  });

  it('leaves collection_duration out when none is given and reports the duration UtilityAPI applied', async () => {
    api.addMeters(1);
    const result = await triggerHistoricalCollection(client(), { meters: ['m1'] });
    assert.deepEqual(JSON.parse(api.server.requestsTo(COLLECT)[0].body), { meters: ['m1'] });
    assert.equal(result.collectionDuration, 12);
  });

  it('reports the meters UtilityAPI silently ignored (revoked or expired) as the difference', async () => {
    api.addMeter({ uid: 'ok1' }).addMeter({ uid: 'revoked1', revoked: true }).addMeter({ uid: 'ok2' }).addMeter({ uid: 'expired1', expired: true });
    const result = await triggerHistoricalCollection(client(), { meters: ['ok1', 'revoked1', 'ok2', 'expired1'], collectionDuration: 12 });
    assert.deepEqual(result.triggered, ['ok1', 'ok2']);
    assert.deepEqual(result.ignored, ['revoked1', 'expired1']);
    assert.deepEqual(result.rejected, []);
  });

  it('sends large meter lists in batches and merges the results', async () => {
    const uids = api.addMeters(250);
    api.addMeter({ uid: 'gone', revoked: true });
    const batches: string[] = [];
    const result = await triggerHistoricalCollection(client(), { meters: [...uids, 'gone'], batchSize: 100 }, { onBatch: (b, n) => batches.push(`${b}/${n}`) });
    const posts = api.server.requestsTo(COLLECT).map((r) => JSON.parse(r.body).meters as string[]);
    assert.deepEqual(posts.map((m) => m.length), [100, 100, 51]);
    assert.deepEqual(posts.flat(), [...uids, 'gone']);
    assert.deepEqual(batches, ['1/3', '2/3', '3/3']);
    assert.equal(result.batches, 3);
    assert.deepEqual(result.triggered, uids);
    assert.deepEqual(result.ignored, ['gone']);
  });

  it('treats a batch refused because all its meters are revoked as ignored while others go through', async () => {
    api.addMeters(2, 'ok');
    api.addMeter({ uid: 'r1', revoked: true }).addMeter({ uid: 'r2', expired: true });
    const result = await triggerHistoricalCollection(client(), { meters: ['ok1', 'ok2', 'r1', 'r2'], batchSize: 2 });
    assert.deepEqual(result.triggered, ['ok1', 'ok2']);
    assert.deepEqual(result.ignored, ['r1', 'r2']);
    assert.equal(result.rejected.length, 1);
    assert.equal(result.rejected[0].status, 400);
    assert.deepEqual(result.rejected[0].meters, ['r1', 'r2']);
    assert.equal(result.rejected[0].type, 'expired_or_revoked');
    assert.match(result.rejected[0].reason, /The customer must renew the authorization/);
  });

  const refusals: Array<{ type: string; meter: string; setup: (a: FakeUtilityApi) => void; message: RegExp }> = [
    { type: 'expired_or_revoked', meter: 'r1', setup: (a) => a.addMeter({ uid: 'r1', revoked: true }), message: /authorization of every meter in the request \(r1\) is expired or revoked \(HTTP 400 expired_or_revoked\).*The customer must renew the authorization.*UtilityAPI said: "All of the Authorizations for these meters are expired/ },
    { type: 'invalid_param', meter: 'm1', setup: (a) => a.server.fail({ kind: 'status', status: 400, body: { errors: [{ type: 'invalid_param', msg: 'Values in the meters list are invalid.' }] } }, 1, /collection/), message: /refused values in the meters list \(HTTP 400 invalid_param\).*Check that they are meter uids as UtilityAPI shows them/ },
    { type: 'required_param_missing', meter: 'm1', setup: (a) => a.server.fail({ kind: 'status', status: 400, body: { errors: [{ type: 'required_param_missing', msg: 'Missing the meters list.' }] } }, 1, /collection/), message: /carried no meters list \(HTTP 400 required_param_missing\).*check the proxy settings/ },
  ];
  for (const c of refusals) {
    it(`400 ${c.type}: its own message and action, not retried`, async () => {
      api.addMeters(1);
      c.setup(api);
      const error = await failure(triggerHistoricalCollection(client(), { meters: [c.meter] }));
      assert.equal(error.status, 400);
      assert.equal(error.code, 'BAD_REQUEST');
      assert.equal((error as CollectionRefusal).errorType, c.type);
      assert.match(error.message, c.message);
      assert.equal(api.server.requestsTo(COLLECT).length, 1);
      assert.deepEqual(clock.sleeps, []);
    });
  }

  it('400: finds the error type in the usual body shapes, and keeps an unknown type or none', () => {
    for (const body of ['{"error":"invalid_param","message":"bad uid"}', '{"type":"invalid_param","detail":"bad uid"}', '{"error":{"type":"invalid_param","msg":"bad uid"}}', 'invalid_param: bad uid']) {
      assert.equal(collectionErrorType(body), 'invalid_param', body);
      assert.match(explainCollectionRefusal(body, ['m1']).message, /HTTP 400 invalid_param.*UtilityAPI said: "(invalid_param: )?bad uid"/);
    }
    assert.match(explainCollectionRefusal('{"errors":[{"type":"meters_limit_exceeded","msg":"Too many"}]}', ['m1']).message, /\(HTTP 400 meters_limit_exceeded\)\. UtilityAPI said: "Too many"/);
    const plain = explainCollectionRefusal('<html><title>Bad Request</title></html>', ['m1']);
    assert.equal(plain.errorType, undefined);
    assert.match(plain.message, /refused the historical collection as invalid \(HTTP 400\)\. UtilityAPI said: "Bad Request"/);
  });

  it('a cut-off answer is reported, not retried: the POST may have triggered the collection', async () => {
    api.addMeters(1);
    api.server.fail({ kind: 'status', status: 200, headers: { 'Content-Type': 'application/json' }, body: '{"success": true, "meters": ["m' }, 1, /collection/);
    const error = await failure(triggerHistoricalCollection(client(), { meters: ['m1'] }));
    assert.equal(error.code, 'INVALID_RESPONSE');
    assert.match(error.message, /not valid JSON .*Check the meters' status in the UtilityAPI dashboard before triggering them again/);
    assert.equal(api.server.requestsTo(COLLECT).length, 1);
  });

  it('401: says to check or renew the API token, never shows it, does not retry', async () => {
    api.addMeters(1);
    const c = new ServiceHttpClient({ service: 'utilityapi', baseURL: api.baseUrl, auth: bearerAuth('wrong-token-aaaabbbbcccc'), clock });
    const error = await failure(triggerHistoricalCollection(c, { meters: ['m1'] }));
    assert.equal(error.status, 401);
    assert.match(error.message, /did not accept the API token/);
    assert.match(error.message, /Settings → API settings/);
    assert.ok(!error.message.includes('wrong-token-aaaabbbbcccc'));
    assert.equal(api.server.requests.length, 1);
  });

  it('402: tells the user to top up the pre-paid balance and is never retried', async () => {
    api.addMeters(3);
    api.balanceEmpty = true;
    const error = await failure(triggerHistoricalCollection(client(), { meters: ['m1', 'm2', 'm3'] }));
    assert.equal(error.status, 402);
    assert.equal(error.code, 'PAYMENT_REQUIRED');
    assert.match(error.message, /positive pre-paid balance/);
    assert.match(error.message, /Top up the balance in your UtilityAPI settings/);
    assert.match(error.message, /Not retried/);
    assert.equal(api.server.requestsTo(COLLECT).length, 1);
    assert.deepEqual(clock.sleeps, []);
  });

  it('402 in a later batch keeps what was already triggered on the error', async () => {
    api.addMeters(4);
    let batch = 0;
    const error = await failure(
      triggerHistoricalCollection(client(), { meters: ['m1', 'm2', 'm3', 'm4'], batchSize: 2 }, {
        onBatch: (b) => {
          batch = b;
          if (b === 2) api.balanceEmpty = true;
        },
      }),
    );
    assert.equal(batch, 2);
    assert.ok(error instanceof CollectionError);
    assert.equal(error.status, 402);
    assert.deepEqual(error.partial.triggered, ['m1', 'm2']);
    assert.match(error.message, /already triggered for 2 meter\(s\) \(m1, m2\)/);
  });

  it('404: says none of the meters exist or the token cannot see them, naming them', async () => {
    const error = await failure(triggerHistoricalCollection(client(), { meters: ['nope1', 'nope2'] }));
    assert.equal(error.status, 404);
    assert.match(error.message, /found none of the meters \(nope1, nope2\), or the API token may not see them/);
    assert.equal(api.server.requestsTo(COLLECT).length, 1);
  });

  it('429: waits as Retry-After says (virtual clock) and then succeeds', async () => {
    api.addMeters(1);
    api.server.fail({ kind: 'status', status: 429, headers: { 'Retry-After': '7' }, body: '<html><title>Too Many Requests</title></html>' }, 1, /historical-collection/);
    const retries: number[] = [];
    const started = clock.now();
    const result = await triggerHistoricalCollection(client(), { meters: ['m1'] }, { onRetry: (e) => retries.push(e.delayMs) });
    assert.deepEqual(result.triggered, ['m1']);
    assert.equal(api.server.requestsTo(COLLECT).length, 2);
    assert.ok(retries[0] >= 7000, `waited ${retries[0]} ms`);
    assert.ok(clock.now() - started >= 7000);
  });

  it('429 with an HTTP-date Retry-After is honoured too', async () => {
    api.addMeters(1);
    const when = new Date(clock.now() + 20_000).toUTCString();
    api.server.fail({ kind: 'status', status: 429, headers: { 'Retry-After': when }, body: '' }, 1, /historical-collection/);
    await triggerHistoricalCollection(client(), { meters: ['m1'] });
    assert.ok(clock.sleeps.some((ms) => ms >= 19_000), `sleeps ${clock.sleeps.join(',')}`);
  });

  it('429 asking to wait longer than the client will fails at once with the wait in the message', async () => {
    api.addMeters(1);
    api.server.fail({ kind: 'status', status: 429, headers: { 'Retry-After': '3600' } }, 1, /historical-collection/);
    const error = await failure(triggerHistoricalCollection(client(), { meters: ['m1'] }));
    assert.equal(error.code, 'RATE_LIMITED');
    assert.match(error.message, /asked to wait 60 min \(Retry-After\)/);
    assert.equal(api.server.requestsTo(COLLECT).length, 1);
  });

  it('429 on every try ends with advice once the retries are used up', async () => {
    api.addMeters(1);
    api.server.fail({ kind: 'status', status: 429, headers: { 'Retry-After': '1' } }, 10, /historical-collection/);
    const error = await failure(triggerHistoricalCollection(client({ retry: { maxRetries: 2 } }), { meters: ['m1'] }));
    assert.equal(error.status, 429);
    assert.match(error.message, /kept rate limiting .* after 3 attempts/);
    assert.match(error.message, /Lower "Requests \/ s"/);
    assert.equal(api.server.requestsTo(COLLECT).length, 3);
  });

  for (const [status, text] of [
    [500, /internal error .*HTTP 500\) after 3 attempts/],
    [503, /down for maintenance \(HTTP 503\) and was still unavailable after 3 attempts/],
    [504, /timed out building its answer .*HTTP 504\) after 3 attempts.*lower the batch size/],
  ] as const) {
    it(`${status}: retried with backoff, then succeeds`, async () => {
      api.addMeters(1);
      api.server.fail({ kind: 'status', status, body: '' }, 2, /historical-collection/);
      const result = await triggerHistoricalCollection(client({ retry: { maxRetries: 2 } }), { meters: ['m1'] });
      assert.deepEqual(result.triggered, ['m1']);
      assert.equal(api.server.requestsTo(COLLECT).length, 3);
      assert.equal(clock.sleeps.length, 2);
      assert.ok(clock.sleeps[1] > clock.sleeps[0], `backoff grows: ${clock.sleeps.join(', ')}`);
    });

    it(`${status}: gives up after the retry limit with a message that says to try later`, async () => {
      api.addMeters(1);
      api.server.fail({ kind: 'status', status, body: '<html><h1>Error</h1></html>' }, 10, /historical-collection/);
      const error = await failure(triggerHistoricalCollection(client({ retry: { maxRetries: 2 } }), { meters: ['m1'] }));
      assert.equal(error.status, status);
      assert.equal(error.attempts, 3);
      assert.match(error.message, text);
      assert.match(error.message, /try again later/i);
      assert.equal(api.server.requestsTo(COLLECT).length, 3);
    });
  }
});
