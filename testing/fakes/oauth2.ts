/**
 * A local OAuth2 authorization server following RFC 6749 and Metry's documents, for the
 * authorization-code flow with refresh:
 *
 * - `GET /oauth/authorize` (RFC 6749 §4.1.1–4.1.2): an unknown client or redirect URI gets an
 *   error page and no redirect (§4.1.2.1); otherwise the user "approves" at once (the fake has no
 *   login page) and is redirected to the redirect URI with `code` and the `state` unchanged, or with
 *   `error=access_denied` when `deny` is set.
 * - `POST /oauth/token` (§4.1.3, §6): form-encoded; the client authenticates with HTTP Basic or
 *   with `client_id`/`client_secret` in the body (§2.3.1; Metry's own libraries use the body:
 *   metry-io/metry-oauth-connect, metry-io/metry-angular-sdk src/auth.js); unknown parameters are
 *   ignored (§3.2). Codes are single use and live 10 minutes (§4.1.2); a code used twice is refused
 *   and the tokens issued from it are revoked (§4.1.2, "SHOULD revoke"). `redirect_uri` must repeat
 *   the authorize request's (§4.1.3). Answers carry `Cache-Control: no-store` (§5.1); errors are
 *   `{"error": …}` with 400, or 401 `invalid_client` (§5.2).
 * - Access tokens live one hour, as Metry documents (Metry API Blueprint, "OAuth2
 *   Authentication"), measured on the test's clock. Refresh tokens rotate by default: each use
 *   issues a new one and the old one stops working (§6: the server MAY issue a new refresh token
 *   and then the client MUST discard the old one). `revoke()` models a customer who removed the
 *   app's access: every token dies and a refresh answers `invalid_grant`.
 *
 * It runs on its own FakeServer or on another fake's (Metry serves `/oauth/*` on the API's host).
 */
import { randomBytes } from 'node:crypto';
import { FakeServer, FakeResponse, RecordedRequest } from '../fake-server';
import type { Clock } from '../../src/core/runtime/clock';

export const OAUTH_CLIENT_ID = 'energy-export-test-client';
export const OAUTH_CLIENT_SECRET = 'client-secret-5b2e9f4c7a1d3e6b8c0f';

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  scope?: string;
  issuedAt: number;
  used: boolean;
  /** Tokens issued from this code, revoked if the code is presented again. */
  grant?: Grant;
}

interface Grant {
  revoked: boolean;
}

interface TokenRecord {
  grant: Grant;
  issuedAt: number;
}

export class FakeOAuth2 {
  readonly server: FakeServer;
  clientId = OAUTH_CLIENT_ID;
  clientSecret = OAUTH_CLIENT_SECRET;
  /** Redirect URIs registered for the client; empty accepts any http(s) URI (tests set it). */
  readonly redirectUris: string[] = [];
  accessTokenLifetimeMs = 3_600_000;
  codeLifetimeMs = 10 * 60_000;
  rotateRefreshTokens = true;
  /** The user refuses consent on the authorize page. */
  deny = false;
  /** Every code, access token and refresh token it ever issued, for tests that look for leaks. */
  readonly issued: string[] = [];
  /** Every token request, by grant type. */
  readonly tokenRequests: { grantType: string; status: number; at: number }[] = [];
  private readonly codes = new Map<string, IssuedCode>();
  private readonly accessTokens = new Map<string, TokenRecord>();
  private readonly refreshTokens = new Map<string, TokenRecord>();
  private readonly ownServer: boolean;

  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    server?: FakeServer,
  ) {
    this.ownServer = !server;
    this.server = server ?? new FakeServer();
    this.server.on('GET', '/oauth/authorize', (request) => this.authorize(request));
    this.server.on('POST', '/oauth/token', (request) => this.token(request));
  }

  async start(): Promise<this> {
    if (this.ownServer) await this.server.start();
    return this;
  }

  async stop(): Promise<void> {
    if (this.ownServer) await this.server.stop();
  }

  get authorizeUrl(): string {
    return `${this.server.url}/oauth/authorize`;
  }

  get tokenUrl(): string {
    return `${this.server.url}/oauth/token`;
  }

  /** True while `token` is an access token the server accepts (not expired, not revoked). */
  isValidAccessToken(token: string | undefined): boolean {
    const record = token ? this.accessTokens.get(token) : undefined;
    return !!record && !record.grant.revoked && this.clock.now() < record.issuedAt + this.accessTokenLifetimeMs;
  }

  /** `Authorization: Bearer …` of a request, checked; for protected routes on the same server. */
  checkBearer(request: RecordedRequest): FakeResponse | undefined {
    const match = /^Bearer (.+)$/.exec(String(request.headers.authorization ?? ''));
    if (match && this.isValidAccessToken(match[1])) return undefined;
    return { status: 401, body: { code: 401, message: 'Unauthorized' } };
  }

  /** A grant as if the user had authorized before: its refresh token, for tests that start there. */
  issueRefreshToken(): string {
    const token = this.newToken('rt');
    this.refreshTokens.set(token, { grant: { revoked: false }, issuedAt: this.clock.now() });
    return token;
  }

  /** The customer removed the app's access in Metry: every token and refresh token stops working. */
  revoke(): void {
    for (const record of [...this.accessTokens.values(), ...this.refreshTokens.values()]) record.grant.revoked = true;
  }

  /** The server drops every access token early (a restart of its token cache); refresh tokens live on. */
  expireAccessTokens(): void {
    this.accessTokens.clear();
  }

  /** Refresh tokens the server would still accept. */
  liveRefreshTokens(): string[] {
    return [...this.refreshTokens.entries()].filter(([, record]) => !record.grant.revoked).map(([token]) => token);
  }

  private newToken(prefix: string): string {
    const token = `${prefix}_${randomBytes(18).toString('base64url')}`;
    this.issued.push(token);
    return token;
  }

  private authorize(request: RecordedRequest): FakeResponse {
    const q = request.query;
    const redirectUri = q.get('redirect_uri') ?? '';
    // §4.1.2.1: with a bad client or redirect URI the server must not redirect, only tell the user.
    if (q.get('client_id') !== this.clientId) return page(400, 'Unknown client_id');
    if (!/^https?:\/\//.test(redirectUri) || (this.redirectUris.length > 0 && !this.redirectUris.includes(redirectUri))) {
      return page(400, 'The redirect_uri is not registered for this client');
    }
    const back = new URL(redirectUri);
    const state = q.get('state');
    if (state !== null) back.searchParams.set('state', state);
    if (q.get('response_type') !== 'code') {
      back.searchParams.set('error', 'unsupported_response_type');
    } else if (this.deny) {
      back.searchParams.set('error', 'access_denied');
    } else {
      const code = this.newToken('code');
      this.codes.set(code, { clientId: this.clientId, redirectUri, scope: q.get('scope') ?? undefined, issuedAt: this.clock.now(), used: false });
      back.searchParams.set('code', code);
    }
    return { status: 302, headers: { Location: back.toString() }, body: '' };
  }

  private token(request: RecordedRequest): FakeResponse {
    const form = new URLSearchParams(request.body);
    const grantType = form.get('grant_type') ?? '';
    const answer = (response: FakeResponse): FakeResponse => {
      this.tokenRequests.push({ grantType, status: response.status ?? 200, at: this.clock.now() });
      return response;
    };
    if (!/application\/x-www-form-urlencoded/.test(String(request.headers['content-type'] ?? ''))) return answer(oauthError(400, 'invalid_request'));
    const basic = /^Basic (.+)$/.exec(String(request.headers.authorization ?? ''));
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    if (basic) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      id = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    }
    if (id !== this.clientId || secret !== this.clientSecret) {
      const response = oauthError(401, 'invalid_client');
      if (basic) response.headers = { ...response.headers, 'WWW-Authenticate': 'Basic realm="oauth"' };
      return answer(response);
    }
    if (grantType === 'authorization_code') return answer(this.codeGrant(form));
    if (grantType === 'refresh_token') return answer(this.refreshGrant(form));
    return answer(oauthError(400, 'unsupported_grant_type'));
  }

  private codeGrant(form: URLSearchParams): FakeResponse {
    const code = form.get('code') ?? '';
    const issued = this.codes.get(code);
    if (!issued) return oauthError(400, 'invalid_grant');
    if (issued.used) {
      if (issued.grant) issued.grant.revoked = true;
      return oauthError(400, 'invalid_grant');
    }
    issued.used = true;
    if (this.clock.now() - issued.issuedAt > this.codeLifetimeMs) return oauthError(400, 'invalid_grant');
    if (form.get('redirect_uri') !== issued.redirectUri) return oauthError(400, 'invalid_grant');
    issued.grant = { revoked: false };
    return this.issueTokens(issued.grant, true, issued.scope);
  }

  private refreshGrant(form: URLSearchParams): FakeResponse {
    const token = form.get('refresh_token') ?? '';
    const record = this.refreshTokens.get(token);
    if (!record || record.grant.revoked) return oauthError(400, 'invalid_grant');
    if (this.rotateRefreshTokens) this.refreshTokens.delete(token);
    return this.issueTokens(record.grant, this.rotateRefreshTokens, form.get('scope') ?? undefined);
  }

  private issueTokens(grant: Grant, withRefreshToken: boolean, scope: string | undefined): FakeResponse {
    const now = this.clock.now();
    const accessToken = this.newToken('at');
    this.accessTokens.set(accessToken, { grant, issuedAt: now });
    const body: Record<string, unknown> = { access_token: accessToken, token_type: 'Bearer', expires_in: Math.round(this.accessTokenLifetimeMs / 1000) };
    if (withRefreshToken) {
      const refreshToken = this.newToken('rt');
      this.refreshTokens.set(refreshToken, { grant, issuedAt: now });
      body.refresh_token = refreshToken;
    }
    if (scope) body.scope = scope;
    return { status: 200, headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache' }, body };
  }
}

function oauthError(status: number, error: string): FakeResponse {
  return { status, headers: { 'Cache-Control': 'no-store' }, body: { error } };
}

function page(status: number, text: string): FakeResponse {
  return { status, headers: { 'Content-Type': 'text/html' }, body: `<html><head><title>${text}</title></head><body><h1>${text}</h1></body></html>` };
}
