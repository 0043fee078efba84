import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeIntellimeter, FAKE_API_KEY, FAKE_PASSWORD, FAKE_USERNAME } from '../../../testing/fakes/intellimeter';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { isServiceError } from '../../../src/core/http/errors';
import { createAuth } from '../../../src/core/services';
import { IntellimeterLogin, createIntellimeterSessionAuth, intellimeterSessionOf } from '../../../src/core/intellimeter/session';
import { IntellimeterApi } from '../../../src/core/intellimeter/api';

const ZONE = 'America/Toronto';

describe('Intellimeter session against the local fake', () => {
  let fake: FakeIntellimeter;
  const clients: ServiceHttpClient[] = [];

  function client(login: IntellimeterLogin = { apiKey: FAKE_API_KEY }, maxConcurrent = 1): ServiceHttpClient {
    // Intellimeter's defaults: one request at a time; no rate limit so the tests need no clock.
    const c = new ServiceHttpClient({ service: 'intellimeter', baseURL: fake.url, auth: createIntellimeterSessionAuth(login), maxConcurrent, requestsPerSecond: 0, timeoutMs: 3000 });
    clients.push(c);
    return c;
  }

  const latest = (api: IntellimeterApi) => api.latestReadings({ zone: ZONE, unit: 'kWh', now: fake.now });

  before(async () => {
    fake = await new FakeIntellimeter().start();
  });
  after(async () => {
    for (const c of clients) await c.close();
    await fake.stop();
  });
  beforeEach(() => fake.reset());

  it('logs in with the API key as a form field and sends the session cookie afterwards', async () => {
    const c = client();
    const result = await latest(new IntellimeterApi(c.lease()));
    assert.equal(result.readings.length, 2);
    const [login, data] = fake.server.requests;
    assert.equal(login.method, 'PUT');
    assert.equal(login.path, '/session');
    assert.equal(login.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(new URLSearchParams(login.body).get('key'), FAKE_API_KEY);
    assert.ok(!login.query.toString().includes(FAKE_API_KEY), 'the key is never in the URL');
    assert.equal(login.headers['x-intellimeter-session-request'], undefined, 'the internal marker never leaves the client');
    assert.equal(data.path, '/data');
    assert.match(String(data.headers.cookie), /^session=[0-9a-f]{24}$/);
    assert.equal(fake.logins, 1);
    assert.equal(fake.server.requestsTo('/session').length, 1, 'no 401 round trip before the first login');
  });

  it('logs in with user name and password', async () => {
    const c = client({ username: FAKE_USERNAME, password: FAKE_PASSWORD });
    await latest(new IntellimeterApi(c.lease()));
    const form = new URLSearchParams(fake.server.requests[0].body);
    assert.equal(form.get('username'), FAKE_USERNAME);
    assert.equal(form.get('password'), FAKE_PASSWORD);
    assert.equal(form.get('key'), null);
  });

  it('keeps the session: later requests do not log in again', async () => {
    const api = new IntellimeterApi(client().lease());
    await latest(api);
    await latest(api);
    await latest(api);
    assert.equal(fake.logins, 1);
    assert.equal(fake.server.requestsTo('/data').length, 3);
  });

  it('logs in again exactly once when the session expired, and the request succeeds', async () => {
    const api = new IntellimeterApi(client().lease());
    await latest(api);
    fake.expireSessions();
    const result = await latest(api);
    assert.equal(result.readings.length, 2);
    assert.equal(fake.logins, 2);
    assert.deepEqual(
      fake.server.requests.map((r) => `${r.method} ${r.path}`),
      ['PUT /session', 'GET /data', 'GET /data', 'PUT /session', 'GET /data'],
    );
  });

  it('logs in again only once when the 401 persists, then reports a clear error', async () => {
    const api = new IntellimeterApi(client().lease());
    fake.refuseData = true;
    await assert.rejects(latest(api), (error: unknown) => {
      assert.ok(isServiceError(error));
      assert.equal(error.code, 'UNAUTHORIZED');
      assert.equal(error.status, 401);
      assert.match(error.message, /401 \(not logged in\) to \/data even after logging in again/);
      assert.match(error.message, /Check the API key/);
      return true;
    });
    assert.equal(fake.logins, 2, 'first login and exactly one re-login');
    assert.equal(fake.server.requestsTo('/data').length, 2);
  });

  it('reports a refused login once, without retrying it or leaking the key', async () => {
    const api = new IntellimeterApi(client({ apiKey: 'a-wrong-key-0123456789' }).lease());
    await assert.rejects(latest(api), (error: unknown) => {
      assert.ok(isServiceError(error));
      assert.equal(error.code, 'UNAUTHORIZED');
      assert.match(error.message, /refused the login \(HTTP 401\) with the API key/);
      assert.ok(!JSON.stringify({ ...error.toJSON(), message: error.message }).includes('a-wrong-key-0123456789'));
      return true;
    });
    assert.equal(fake.refusedLogins, 1);
    assert.equal(fake.server.requestsTo('/data').length, 0, 'no data request without a session');
  });

  it('logs in again when a session expires between requests, without deadlocking one-at-a-time clients', async () => {
    const c = client();
    const api = new IntellimeterApi(c.lease());
    await latest(api);
    fake.expireSessions();
    // Several requests queued behind the single concurrency slot, all hitting the expired session.
    const results = await Promise.all([latest(api), api.latestIntervals({ zone: ZONE, unit: 'kWh', now: fake.now }), latest(api)]);
    assert.deepEqual(results.map((r) => r.readings.length), [2, 2, 2]);
    assert.equal(fake.server.maxInFlight, 1);
    assert.ok(fake.logins >= 2 && fake.logins <= 4, `logins: ${fake.logins}`);
  });

  it('shares one login between parallel first requests', async () => {
    const c = client({ apiKey: FAKE_API_KEY }, 4);
    const api = new IntellimeterApi(c.lease());
    await Promise.all([latest(api), latest(api), latest(api)]);
    assert.equal(fake.logins, 1);
  });

  it('logs in before any request made straight through the client, without a wasted 401', async () => {
    const c = client();
    const response = await c.request<string>({ path: '/data', responseType: 'text' });
    assert.equal(response.status, 200);
    assert.deepEqual(fake.server.requests.map((r) => `${r.method} ${r.path}`), ['PUT /session', 'GET /data']);
  });

  it('logs out with DELETE /session and the session cookie when the client closes', async () => {
    const c = client();
    await latest(new IntellimeterApi(c.lease()));
    const cookie = fake.server.requestsTo('/data')[0].headers.cookie;
    await c.close();
    const logout = fake.server.requestsTo('/session').find((r) => r.method === 'DELETE');
    assert.ok(logout, 'DELETE /session was sent');
    assert.equal(logout.headers.cookie, cookie);
    assert.equal(fake.logouts, 1);
    assert.equal(fake.sessions.size, 0);
  });

  it('does not log in just to log out', async () => {
    const c = client();
    await c.close();
    assert.equal(fake.server.requests.length, 0);
  });

  it('logs out when the last user of a shared session releases it, once', async () => {
    const c = client();
    const session = intellimeterSessionOf(c.auth)!;
    const releaseA = session.retain(c);
    const releaseB = session.retain(c);
    await latest(new IntellimeterApi(c.lease()));
    await releaseA();
    await releaseA();
    assert.equal(fake.logouts, 0, 'another user still holds the session');
    await releaseB();
    assert.equal(fake.logouts, 1);
    assert.equal(session.loggedIn, false);
    await c.close();
    assert.equal(fake.server.requestsTo('/session').filter((r) => r.method === 'DELETE').length, 1, 'closing the client does not log out twice');
  });

  it('logs out after a login that was still under way', async () => {
    fake.server.fail({ kind: 'slow', delayMs: 80 }, 1, /^\/session$/);
    const c = client();
    const session = intellimeterSessionOf(c.auth)!;
    const login = session.ensureLoggedIn(c);
    await session.logOut(c);
    await login;
    assert.equal(fake.logins, 1);
    assert.equal(fake.logouts, 1);
    assert.equal(fake.sessions.size, 0, 'no session left open on the server');
  });

  it('is what createAuth builds for an intellimeter config, and keeps the cookie out of error texts', async () => {
    const auth = createAuth('intellimeter', { apiKey: FAKE_API_KEY });
    assert.ok(intellimeterSessionOf(auth));
    assert.equal(intellimeterSessionOf(createAuth('metry', { token: 'x' })), undefined);
    const c = new ServiceHttpClient({ service: 'intellimeter', baseURL: fake.url, auth, maxConcurrent: 1, requestsPerSecond: 0 });
    clients.push(c);
    await latest(new IntellimeterApi(c.lease()));
    const cookieValue = String(fake.server.requestsTo('/data')[0].headers.cookie).split('=')[1];
    assert.ok(auth.secrets().includes(cookieValue));
    assert.ok(auth.secrets().includes(FAKE_API_KEY));
  });

  it('says so when the server accepts the login but sets no cookie', async () => {
    const other = await new FakeIntellimeter().start();
    try {
      other.server.fail({ kind: 'status', status: 200, body: { uuid: 1 } }, 1, /^\/session$/);
      const c = new ServiceHttpClient({ service: 'intellimeter', baseURL: other.url, auth: createIntellimeterSessionAuth({ apiKey: FAKE_API_KEY }), maxConcurrent: 1, requestsPerSecond: 0 });
      clients.push(c);
      await assert.rejects(latest(new IntellimeterApi(c.lease())), /accepted the login but sent no session cookie/);
    } finally {
      await other.stop();
    }
  });
});
