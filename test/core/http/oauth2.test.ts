import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { ServiceError } from '../../../src/core/http/errors';
import {
  AuthorizationStates,
  buildAuthorizeUrl,
  createOAuth2Auth,
  exchangeAuthorizationCode,
  metryOAuthEndpoints,
  OAuth2AuthOptions,
} from '../../../src/core/http/oauth2';
import { noAuth } from '../../../src/core/http/auth';
import { FakeOAuth2, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET } from '../../../testing/fakes/oauth2';
import { ManualClock } from '../../../testing/manual-clock';

const REDIRECT = 'http://127.0.0.1:1880/energy-export/oauth/callback';
const HOUR = 3_600_000;

/** GET without following redirects: the Location header is what the browser would be sent to. */
function getRedirect(url: string): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0, location: response.headers.location });
    }).on('error', reject);
  });
}

describe('OAuth2 authorization-code flow against a local authorization server', () => {
  let oauth: FakeOAuth2;
  let clock: ManualClock;
  const clients: ServiceHttpClient[] = [];

  before(async () => {
    clock = new ManualClock();
    oauth = await new FakeOAuth2(clock).start();
    oauth.redirectUris.push(REDIRECT);
    // A protected API on the same host, as Metry serves /api/v2 next to /oauth.
    oauth.server.on('GET', '/api/v2/accounts/me', (request) => oauth.checkBearer(request) ?? { body: { code: 200, message: 'OK', data: { _id: 'acc1' } } });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await oauth.stop();
  });
  beforeEach(() => {
    oauth.server.reset();
    oauth.tokenRequests.length = 0;
  });

  const endpoints = (): ReturnType<typeof metryOAuthEndpoints> => metryOAuthEndpoints(`${oauth.server.url}/api/v2`);
  const oauthClient = { clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET, scope: 'basic' };

  function apiClient(options: Partial<OAuth2AuthOptions> & { refreshToken: string }): { client: ServiceHttpClient; persisted: string[] } {
    const persisted: string[] = [];
    const auth = createOAuth2Auth({ endpoints: endpoints(), client: oauthClient, clock, persistRefreshToken: (token) => void persisted.push(token), ...options });
    const client = new ServiceHttpClient({ service: 'metry', baseURL: `${oauth.server.url}/api/v2`, auth, clock, timeoutMs: 5000, retry: { maxRetries: 0 } });
    clients.push(client);
    return { client, persisted };
  }

  const me = (client: ServiceHttpClient): Promise<unknown> => client.request({ path: '/accounts/me', responseType: 'json' });

  it('derives Metry\'s authorize and token URLs from the API base URL', () => {
    assert.deepEqual(metryOAuthEndpoints('https://app.metry.io/api/v2'), { authorizeUrl: 'https://app.metry.io/oauth/authorize', tokenUrl: 'https://app.metry.io/oauth/token' });
  });

  it('builds an authorize URL with client id, redirect URI, scope and state, and no secret', () => {
    const url = new URL(buildAuthorizeUrl(endpoints(), { clientId: OAUTH_CLIENT_ID, redirectUri: REDIRECT, state: 'st4te', scope: 'basic' }));
    assert.equal(url.pathname, '/oauth/authorize');
    assert.deepEqual(Object.fromEntries(url.searchParams), { response_type: 'code', client_id: OAUTH_CLIENT_ID, redirect_uri: REDIRECT, scope: 'basic', state: 'st4te' });
    assert.ok(!url.toString().includes(OAUTH_CLIENT_SECRET));
  });

  it('issues random single-use states bound to the config node, refused once expired', () => {
    const states = new AuthorizationStates(clock);
    const a = states.issue('node-a', REDIRECT);
    const b = states.issue('node-b', REDIRECT);
    assert.notEqual(a, b);
    assert.ok(Buffer.from(a, 'base64url').length >= 32, 'at least 256 random bits');
    assert.equal(states.consume(a)?.nodeId, 'node-a');
    assert.equal(states.consume(a), undefined, 'a state works once');
    assert.equal(states.consume('forged'), undefined);
    assert.equal(states.consume(undefined), undefined);
    clock.advance(10 * 60_000 + 1);
    assert.equal(states.consume(b), undefined, 'an expired state is refused');
    const bounded = new AuthorizationStates(clock, 60_000, 3);
    const first = bounded.issue('n', REDIRECT);
    for (let i = 0; i < 3; i += 1) bounded.issue('n', REDIRECT);
    assert.equal(bounded.size, 3);
    assert.equal(bounded.consume(first), undefined, 'the oldest pending state made room');
  });

  it('runs the whole flow: authorize redirect with state, code exchange, API call; a code works once', async () => {
    const states = new AuthorizationStates(clock);
    const state = states.issue('node-1', REDIRECT);
    const redirect = await getRedirect(buildAuthorizeUrl(endpoints(), { clientId: OAUTH_CLIENT_ID, redirectUri: REDIRECT, state, scope: 'basic' }));
    assert.equal(redirect.status, 302);
    const back = new URL(redirect.location!);
    assert.equal(`${back.origin}${back.pathname}`, REDIRECT);
    assert.equal(back.searchParams.get('state'), state);
    assert.equal(states.consume(back.searchParams.get('state'))?.nodeId, 'node-1');
    const code = back.searchParams.get('code')!;

    const tokenClient = new ServiceHttpClient({ service: 'metry', baseURL: `${oauth.server.url}/api/v2`, auth: noAuth, clock, retry: { maxRetries: 0 } });
    clients.push(tokenClient);
    const tokens = await exchangeAuthorizationCode(tokenClient, code, REDIRECT, { endpoints: endpoints(), client: oauthClient, clock });
    assert.ok(tokens.refreshToken);
    assert.equal(tokens.expiresAt, clock.now() + HOUR);
    const tokenRequest = oauth.server.requestsTo('/oauth/token')[0];
    assert.equal(tokenRequest.query.toString(), '', 'nothing in the token URL');
    assert.equal(new URLSearchParams(tokenRequest.body).get('grant_type'), 'authorization_code');

    const { client } = apiClient({ refreshToken: tokens.refreshToken! });
    await me(client);

    await assert.rejects(exchangeAuthorizationCode(tokenClient, code, REDIRECT, { endpoints: endpoints(), client: oauthClient, clock }), (error: ServiceError) => {
      assert.equal(error.code, 'UNAUTHORIZED');
      assert.match(error.message, /already used/);
      return true;
    });
  });

  it('does not redirect to an unregistered redirect URI, and reports a denied consent on the redirect', async () => {
    const wrong = await getRedirect(buildAuthorizeUrl(endpoints(), { clientId: OAUTH_CLIENT_ID, redirectUri: 'http://evil.example/cb', state: 's' }));
    assert.equal(wrong.status, 400);
    assert.equal(wrong.location, undefined);
    oauth.deny = true;
    try {
      const denied = new URL((await getRedirect(buildAuthorizeUrl(endpoints(), { clientId: OAUTH_CLIENT_ID, redirectUri: REDIRECT, state: 's' }))).location!);
      assert.equal(denied.searchParams.get('error'), 'access_denied');
      assert.equal(denied.searchParams.get('code'), null);
    } finally {
      oauth.deny = false;
    }
  });

  it('gets an access token before the first request and reuses it within the hour', async () => {
    const { client } = apiClient({ refreshToken: oauth.issueRefreshToken() });
    await Promise.all([me(client), me(client), me(client), me(client)]);
    assert.equal(oauth.tokenRequests.length, 1, 'concurrent first requests share one refresh');
    clock.advance(50 * 60_000);
    await me(client);
    assert.equal(oauth.tokenRequests.length, 1);
    const api = oauth.server.requestsTo('/api/v2/accounts/me');
    assert.equal(api.length, 5);
    assert.ok(api.every((request) => /^Bearer at_/.test(String(request.headers.authorization))));
  });

  it('refreshes shortly before expiry and persists the rotated refresh token before using it', async () => {
    const initial = oauth.issueRefreshToken();
    const { client, persisted } = apiClient({ refreshToken: initial });
    await me(client);
    const firstRotation = persisted[0];
    assert.ok(firstRotation && firstRotation !== initial, 'the first refresh rotated the token');
    clock.advance(56 * 60_000);
    oauth.server.reset();
    await me(client);
    assert.deepEqual(
      oauth.server.requests.map((r) => r.path),
      ['/oauth/token', '/api/v2/accounts/me'],
      'the refresh went out before the API request, inside the 5-minute margin',
    );
    assert.equal(new URLSearchParams(oauth.server.requests[0].body).get('refresh_token'), firstRotation);
    assert.equal(persisted.length, 2);
    assert.deepEqual(oauth.liveRefreshTokens().filter((t) => persisted.includes(t) || t === initial), [persisted[1]], 'only the newest refresh token still works');

    // A restart reads the persisted token from the credential store and carries on.
    const restarted = apiClient({ refreshToken: persisted[1] });
    await me(restarted.client);
    assert.equal(restarted.persisted.length, 1);
  });

  it('refreshes once on a 401 and repeats the request', async () => {
    const { client } = apiClient({ refreshToken: oauth.issueRefreshToken() });
    await me(client);
    oauth.expireAccessTokens();
    oauth.server.reset();
    await me(client);
    assert.deepEqual(oauth.server.requests.map((r) => `${r.path} ${r.path.startsWith('/api') ? 'x' : ''}`.trim()), ['/api/v2/accounts/me x', '/oauth/token', '/api/v2/accounts/me x']);
  });

  it('reports a revoked grant as an error that says to authorize again, then stops asking the token endpoint', async () => {
    const { client } = apiClient({ refreshToken: oauth.issueRefreshToken() });
    await me(client);
    oauth.revoke();
    oauth.server.reset();
    let failure: ServiceError | undefined;
    await assert.rejects(me(client), (error: ServiceError) => {
      failure = error;
      return true;
    });
    assert.equal(failure!.code, 'UNAUTHORIZED');
    assert.match(failure!.message, /revoked the access.*click Authorize/);
    assert.equal(oauth.tokenRequests.at(-1)?.status, 400);
    const tokenCalls = oauth.server.requestsTo('/oauth/token').length;
    await assert.rejects(me(client), (error: ServiceError) => error.code === 'UNAUTHORIZED');
    assert.equal(oauth.server.requestsTo('/oauth/token').length, tokenCalls, 'no second refresh once refused');
    assert.equal(oauth.server.requestsTo('/api/v2/accounts/me').length, 1, 'no API request without a token');
  });

  it('says which field is wrong when the client secret is refused, and refuses an unauthorized node at creation', async () => {
    const { client } = apiClient({ refreshToken: oauth.issueRefreshToken(), client: { clientId: OAUTH_CLIENT_ID, clientSecret: 'wrong-secret-123' } });
    await assert.rejects(me(client), (error: ServiceError) => {
      assert.equal(error.code, 'CONFIG');
      assert.match(error.message, /client id and client secret/);
      return true;
    });
    assert.throws(() => createOAuth2Auth({ endpoints: endpoints(), client: oauthClient, refreshToken: '' }), (error: ServiceError) => error.code === 'CONFIG' && /Authorize/.test(error.message));
    assert.throws(() => createOAuth2Auth({ endpoints: endpoints(), client: { clientId: OAUTH_CLIENT_ID, clientSecret: ' ' }, refreshToken: 'x' }), (error: ServiceError) => error.code === 'CONFIG' && /client secret/.test(error.message));
  });

  it('keeps the client secret and every token out of URLs, error texts and the secrets it hides', async () => {
    const initial = oauth.issueRefreshToken();
    const { client, persisted } = apiClient({ refreshToken: initial });
    await me(client);
    clock.advance(HOUR);
    await me(client);
    oauth.revoke();
    const error = await me(client).then(
      () => assert.fail('expected a refusal'),
      (e: ServiceError) => e,
    );
    const secrets = [OAUTH_CLIENT_SECRET, initial, ...persisted, ...oauth.server.requests.map((r) => String(r.headers.authorization ?? '').replace('Bearer ', '')).filter(Boolean)];
    for (const request of oauth.server.requests) {
      const url = `${request.path}?${request.query.toString()}`;
      for (const secret of secrets) assert.ok(!url.includes(secret), `no secret in ${request.path}`);
    }
    const text = `${error.message} ${JSON.stringify(error)} ${error.stack}`;
    for (const secret of secrets) assert.ok(!text.includes(secret), 'no secret in the error');
    const hidden = client.auth.secrets();
    assert.ok(hidden.includes(OAUTH_CLIENT_SECRET) && hidden.includes(persisted.at(-1)!));
  });
});
