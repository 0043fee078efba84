import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeServer, delay } from '../../../testing/fake-server';
import { ServiceHttpClient, HttpClientOptions } from '../../../src/core/http/client';
import { bearerAuth, headerAuth } from '../../../src/core/http/auth';
import { ManualClock, until } from '../../../testing/manual-clock';
import { ServiceError } from '../../../src/core/http/errors';
import { paginate, collect, nextSkip, resolveLink } from '../../../src/core/http/pagination';
import { parseRetryAfter, backoffDelay, HTTP_RETRY_POLICY } from '../../../src/core/runtime/backoff';
import { ConfigError } from '../../../src/core/runtime/options';

const TOKEN = 'tok_secret_5f1e2d3c4b5a69788796a5b4';

describe('ServiceHttpClient against a local server', () => {
  let server: FakeServer;
  let clock: ManualClock;

  function client(extra: Partial<HttpClientOptions> = {}): ServiceHttpClient {
    return new ServiceHttpClient({ service: 'metry', baseURL: `${server.url}/api/v2`, auth: bearerAuth(TOKEN), clock, random: () => 0.5, timeoutMs: 30_000, maxConcurrent: 4, ...extra });
  }

  before(async () => {
    server = await new FakeServer().start();
    server.on('GET', '/api/v2/ping', () => ({ body: { code: 200, message: 'OK', data: { pong: true } } }));
    server.on('GET', '/api/v2/slow', async () => {
      await delay(150);
      return { body: { ok: true } };
    });
    server.on('GET', '/api/v2/items', (request) => {
      const skip = Number(request.query.get('skip') ?? 0);
      const count = 120;
      const data = Array.from({ length: Math.max(0, Math.min(50, count - skip)) }, (_, i) => ({ n: skip + i }));
      return { body: { code: 200, message: 'OK', count, skip, limit: 50, data } };
    });
    // Each page links to the next with another kind of relative reference (RFC 3986 §5.4).
    const links: Record<string, string> = { 1: '../v2/x?page=2', 2: '?page=3', 3: '/api/v2/x?page=4', 4: 'x?page=5' };
    server.on('GET', '/api/v2/x', (request) => {
      const page = request.query.get('page') ?? '1';
      return { body: { items: [Number(page)], next: links[page] } };
    });
    server.on('GET', '/api/v2/escape', () => ({ body: { items: [1], next: '//127.0.0.2:1/steal' } }));
    server.on('POST', '/api/v2/echo', (request) => ({ body: { contentType: request.headers['content-type'], body: request.body } }));
  });
  after(() => server.stop());
  beforeEach(() => {
    server.reset();
    clock = ManualClock.autoAdvancing();
  });

  it('sends the token as a Bearer header and never in the URL', async () => {
    const response = await client().request<{ data: { pong: boolean } }>({ path: '/ping', query: { a: 1 } });
    assert.equal(response.data.data.pong, true);
    const [request] = server.requests;
    assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
    assert.ok(!request.query.toString().includes(TOKEN));
    assert.equal(request.query.get('a'), '1');
    assert.equal(request.headers.connection, 'keep-alive');
  });

  it('sends X-AUTHKEY for header authentication and form bodies form-encoded', async () => {
    const c = new ServiceHttpClient({ service: 'dsmr-reader', baseURL: server.url + '/api/v2', auth: headerAuth('X-AUTHKEY', 'key-123456'), clock });
    const response = await c.request<{ contentType: string; body: string }>({ method: 'POST', path: 'echo', form: { telegram: '/X\r\n!ABCD\r\n' } });
    assert.equal(server.requests[0].headers['x-authkey'], 'key-123456');
    assert.equal(response.data.contentType, 'application/x-www-form-urlencoded');
    assert.equal(new URLSearchParams(response.data.body).get('telegram'), '/X\r\n!ABCD\r\n');
    await c.close();
  });

  it('retries a 503 and succeeds on the following 200', async () => {
    server.fail({ kind: 'status', status: 503 }, 1);
    const response = await client().request({ path: '/ping' });
    assert.equal(response.status, 200);
    assert.equal(response.attempts, 2);
    assert.equal(server.requestsTo('/api/v2/ping').length, 2);
  });

  it('waits at least Retry-After (seconds) after a 429 before retrying', async () => {
    server.fail({ kind: 'status', status: 429, headers: { 'Retry-After': '2' } }, 1);
    const c = client();
    const retries: number[] = [];
    const started = clock.now();
    const response = await c.request({ path: '/ping', onRetry: (e) => retries.push(e.delayMs) });
    assert.equal(response.status, 200);
    assert.equal(server.requestsTo('/api/v2/ping').length, 2);
    assert.ok(retries[0] >= 2000, `retry waited ${retries[0]} ms`);
    assert.ok(clock.now() - started >= 2000);
    assert.ok(clock.sleeps.some((ms) => ms >= 2000));
  });

  it('honours Retry-After given as an HTTP date on 503', async () => {
    const when = new Date(clock.now() + 5000).toUTCString();
    server.fail({ kind: 'status', status: 503, headers: { 'Retry-After': when } }, 1);
    const retries: number[] = [];
    await client().request({ path: '/ping', onRetry: (e) => retries.push(e.delayMs) });
    assert.ok(retries[0] >= 4000 && retries[0] <= 6000, `waited ${retries[0]}`);
  });

  for (const status of [400, 401, 402, 403, 404]) {
    it(`does not retry ${status} and says what to do`, async () => {
      server.fail({ kind: 'status', status, body: { code: status, message: `refused ${TOKEN}` } }, 5);
      await assert.rejects(client().request({ path: '/ping', what: 'listing meters' }), (error: unknown) => {
        assert.ok(error instanceof ServiceError);
        assert.equal(error.status, status);
        assert.equal(error.attempts, 1);
        assert.ok(!error.message.includes(TOKEN), 'the token must not leak into the message');
        assert.ok(!JSON.stringify(error).includes(TOKEN));
        assert.ok(!error.message.includes('127.0.0.1'), 'no URL in the message');
        assert.match(error.message, /Check|Top up/);
        return true;
      });
      assert.equal(server.requestsTo('/api/v2/ping').length, 1);
    });
  }

  it('does not retry 501', async () => {
    server.fail({ kind: 'status', status: 501 }, 5);
    await assert.rejects(client().request({ path: '/ping' }), { code: 'NOT_IMPLEMENTED' });
    assert.equal(server.requests.length, 1);
  });

  it('gives up after maxRetries on repeated 5xx with backoff that grows', async () => {
    server.fail({ kind: 'status', status: 500 }, 10);
    const delays: number[] = [];
    await assert.rejects(client({ retry: { maxRetries: 3 } }).request({ path: '/ping', onRetry: (e) => delays.push(e.delayMs) }), { code: 'SERVER_ERROR', attempts: 4 } as object);
    assert.equal(server.requests.length, 4);
    assert.equal(delays.length, 3);
    assert.ok(delays[0] < delays[1] && delays[1] < delays[2], `delays ${delays}`);
  });

  it('retries a truncated body and a dropped connection', async () => {
    server.fail({ kind: 'truncate' }, 1);
    server.fail({ kind: 'drop' }, 1);
    const response = await client().request<{ data: unknown }>({ path: '/ping' });
    assert.equal(response.attempts, 3);
    assert.deepEqual(response.data.data, { pong: true });
  });

  it('times out a request that hangs and retries it', async () => {
    server.fail({ kind: 'hang' }, 1);
    // The deadline runs in real time (it guards real I/O); on a busy machine a retry may time out
    // too, so the test asserts what must hold either way, not how many attempts it took.
    const response = await client({ timeoutMs: 500 }).request({ path: '/ping' });
    assert.equal(response.status, 200);
    assert.ok(response.attempts >= 2, `attempts ${response.attempts}`);
    await until(() => server.abortedRequests >= 1, 'the hanging request to be abandoned');
  });

  it('reports TIMEOUT when every attempt hangs', async () => {
    server.fail({ kind: 'hang' }, 3);
    await assert.rejects(client({ timeoutMs: 100, retry: { maxRetries: 1 } }).request({ path: '/ping' }), { code: 'TIMEOUT' });
  });

  it('never exceeds the concurrency limit', async () => {
    const c = client({ maxConcurrent: 3 });
    await Promise.all(Array.from({ length: 12 }, () => c.request({ path: '/slow' })));
    assert.equal(server.requests.length, 12);
    assert.equal(server.maxInFlight, 3);
    await c.close();
  });

  it('spaces request starts by the rate limit', async () => {
    const c = client({ requestsPerSecond: 10, maxConcurrent: 0 });
    const started = clock.now();
    await Promise.all(Array.from({ length: 11 }, () => c.request({ path: '/ping' })));
    assert.ok(clock.now() - started >= 1000, `10 intervals at 10/s take at least 1 s, took ${clock.now() - started}`);
  });

  it('aborts in-flight requests when its scope is closed', async () => {
    const c = client();
    const scope = c.lease();
    server.fail({ kind: 'hang' }, 1);
    const pending = scope.request({ path: '/ping' });
    await until(() => server.inFlight === 1, 'the request to reach the server');
    scope.close();
    await assert.rejects(pending, { code: 'CANCELLED' });
    await until(() => server.abortedRequests === 1, 'the server to see the request aborted');
    assert.equal(server.inFlight, 0);
    // The client itself stays usable for other nodes.
    assert.equal((await c.request({ path: '/ping' })).status, 200);
  });

  it('refuses a next-page link to another server', async () => {
    await assert.rejects(client().request({ path: 'http://127.0.0.2:1/steal' }), { code: 'INVALID_RESPONSE' });
    assert.equal(server.requests.length, 0);
  });

  it('refuses a base URL with credentials in it', () => {
    assert.throws(() => client({ baseURL: 'https://user:pw@example.com/api' }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, 'CONFIG');
      assert.equal(error.field, 'Base URL');
      assert.ok(!error.message.includes('pw'));
      assert.match(error.message, /remove them from the URL and enter credentials in the credential fields/);
      return true;
    });
  });

  for (const [name, baseURL, says] of [
    ['another scheme', 'ftp://127.0.0.1/api/v2', /uses "ftp:": only http:\/\/ and https:\/\/ are supported/],
    ['a query', 'https://example.com/api/v2?tenant=1', /contains a query \("\?tenant=1"\): remove everything from "\?" on/],
    ['a fragment', 'https://example.com/api/v2#x', /contains a fragment \("#x"\): remove everything from "#" on/],
    ['no URL at all', 'example.com/api', /is not a URL: enter it as/],
    ['nothing', '', /is empty: enter the server address/],
  ] as const) {
    it(`refuses a base URL with ${name} before sending anything`, () => {
      assert.throws(() => client({ baseURL }), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, 'CONFIG');
        assert.equal(error.field, 'Base URL');
        assert.match(error.message, says);
        return true;
      });
      assert.equal(server.requests.length, 0);
    });
  }

  it('follows relative next links from the URL of the response that carried them', async () => {
    const c = client();
    const urls: string[] = [];
    const items = await collect(
      paginate<number, string>(async (next) => {
        const response = await c.request<{ items: number[]; next?: string }>({ path: next ?? '/x' });
        urls.push(response.url);
        return { items: response.data.items, next: response.data.next ? resolveLink(response.data.next, response) : undefined };
      }),
    );
    assert.deepEqual(items, [1, 2, 3, 4, 5]);
    assert.deepEqual(
      server.requests.map((r) => `${r.path}?${r.query}`),
      ['/api/v2/x?', '/api/v2/x?page=2', '/api/v2/x?page=3', '/api/v2/x?page=4', '/api/v2/x?page=5'],
    );
    assert.equal(urls[0], `${server.url}/api/v2/x`);
    assert.equal(urls[2], `${server.url}/api/v2/x?page=3`);
    assert.ok(server.requests.every((r) => r.headers.authorization === `Bearer ${TOKEN}`));
  });

  it('reports the requested URL with its query on the response', async () => {
    const response = await client().request({ path: 'ping', query: { skip: 50, ids: ['a', 'b'], none: undefined } });
    assert.equal(response.url, `${server.url}/api/v2/ping?skip=50&ids=a%2Cb`);
  });

  it('refuses a relative link that leads to another server, so the token stays home', async () => {
    const c = client();
    const first = await c.request<{ next: string }>({ path: '/escape' });
    const next = resolveLink(first.data.next, first);
    assert.equal(next, 'http://127.0.0.2:1/steal');
    await assert.rejects(c.request({ path: next }), { code: 'INVALID_RESPONSE' });
    assert.equal(server.requests.length, 1);
  });

  it('outlasts a 429 series without Retry-After that lasts over a minute, backing off up to minutes', async () => {
    server.fail({ kind: 'status', status: 429 }, 9);
    const started = clock.now();
    const delays: number[] = [];
    const response = await client().request({ path: '/ping', onRetry: (e) => delays.push(e.delayMs) });
    assert.equal(response.status, 200);
    assert.equal(response.attempts, 10);
    assert.ok(clock.now() - started > 60_000, `waited ${clock.now() - started} ms`);
    assert.ok(delays.every((d, i) => i === 0 || d > delays[i - 1]), `delays grow: ${delays}`);
    assert.ok(delays.at(-1)! > HTTP_RETRY_POLICY.maxDelayMs, `the last wait (${delays.at(-1)} ms) is longer than any other retry's`);
  });

  it('gives up on 429s without Retry-After once the waits reach the 10 min bound, with a clear error', async () => {
    assert.equal(HTTP_RETRY_POLICY.rateLimitMaxWaitMs, 10 * 60_000);
    server.fail({ kind: 'status', status: 429 }, 1000);
    const started = clock.now();
    await assert.rejects(client().request({ path: '/ping', what: 'listing meters' }), (error: unknown) => {
      assert.ok(error instanceof ServiceError);
      assert.equal(error.code, 'RATE_LIMITED');
      assert.equal(error.status, 429);
      assert.equal(error.attempts, server.requests.length);
      assert.match(error.message, /kept answering "too many requests" \(HTTP 429\) \(listing meters\): \d+ attempts over 10 min of waiting/);
      assert.match(error.message, /Lower "Requests \/ s" in the config node/);
      return true;
    });
    assert.equal(clock.now() - started, 10 * 60_000);
    assert.ok(Math.max(...clock.sleeps) <= HTTP_RETRY_POLICY.rateLimitMaxDelayMs!, `longest wait ${Math.max(...clock.sleeps)} ms`);
  });

  it('takes the 429 bound from the retry policy', async () => {
    server.fail({ kind: 'status', status: 429 }, 1000);
    const started = clock.now();
    await assert.rejects(client({ retry: { rateLimitMaxWaitMs: 2 * 60_000 } }).request({ path: '/ping' }), { code: 'RATE_LIMITED' });
    assert.equal(clock.now() - started, 2 * 60_000);
  });

  it('counts 429 waits apart from the retries of other failures', async () => {
    server.fail({ kind: 'status', status: 429 }, 6);
    server.fail({ kind: 'status', status: 500 }, 2);
    const response = await client({ retry: { maxRetries: 2 } }).request({ path: '/ping' });
    assert.equal(response.attempts, 9);
  });

  it('counts a 429 with Retry-After against the retries: the service said how long, and that did not help', async () => {
    server.fail({ kind: 'status', status: 429, headers: { 'Retry-After': '1' } }, 10);
    await assert.rejects(client({ retry: { maxRetries: 2 } }).request({ path: '/ping' }), { code: 'RATE_LIMITED', attempts: 3 } as object);
    assert.equal(server.requests.length, 3);
  });

  it('does not retry a 429 when retrying is off', async () => {
    server.fail({ kind: 'status', status: 429 }, 1);
    await assert.rejects(client().request({ path: '/ping', retry: false }), { code: 'RATE_LIMITED', attempts: 1 } as object);
    assert.equal(server.requests.length, 1);
  });

  it('walks every page of a skip/count list', async () => {
    const c = client();
    const items = await collect(
      paginate<{ n: number }, number>(async (skip = 0) => {
        const page = (await c.request<{ count: number; data: { n: number }[] }>({ path: '/items', query: { skip } })).data;
        return { items: page.data, next: nextSkip(skip, page.data.length, page.count) };
      }),
    );
    assert.equal(items.length, 120);
    assert.deepEqual(items.map((i) => i.n), Array.from({ length: 120 }, (_, i) => i));
    assert.deepEqual(server.requests.map((r) => r.query.get('skip')), ['0', '50', '100']);
  });
});

describe('resolveLink', () => {
  const response = { url: 'https://example.com/api/v2/meters?skip=0&limit=100' };
  for (const [link, expected] of [
    ['?skip=100', 'https://example.com/api/v2/meters?skip=100'],
    ['/api/v2/meters?skip=100', 'https://example.com/api/v2/meters?skip=100'],
    ['../v1/meters?skip=100', 'https://example.com/api/v1/meters?skip=100'],
    ['meters/2', 'https://example.com/api/v2/meters/2'],
    ['https://example.com/api/v2/meters?cursor=a%2Cb#top', 'https://example.com/api/v2/meters?cursor=a%2Cb'],
    ['//other.example/x', 'https://other.example/x'],
  ] as const) {
    it(`resolves "${link}" against the response URL`, () => {
      assert.equal(resolveLink(link, response), expected);
    });
  }

  it('says so when a link is no URL', () => {
    assert.throws(() => resolveLink('http://[', response), { code: 'INVALID_RESPONSE' });
  });
});

describe('retry helpers', () => {
  it('parses Retry-After as seconds or HTTP date', () => {
    const now = Date.UTC(2024, 0, 1);
    assert.equal(parseRetryAfter('2', now), 2000);
    assert.equal(parseRetryAfter(new Date(now + 3000).toUTCString(), now), 3000);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  it('backs off exponentially with jitter inside [half, full] of the step', () => {
    for (let retry = 1; retry <= 8; retry += 1) {
      const step = Math.min(HTTP_RETRY_POLICY.maxDelayMs, HTTP_RETRY_POLICY.baseDelayMs * 2 ** (retry - 1));
      assert.equal(backoffDelay(retry, HTTP_RETRY_POLICY, () => 0), step / 2);
      assert.equal(backoffDelay(retry, HTTP_RETRY_POLICY, () => 1), step);
    }
  });
});
