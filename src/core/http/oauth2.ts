/**
 * OAuth2 authorization-code flow with refresh (RFC 6749 §4.1 and §6), as Metry offers it to
 * providers whose customers keep their own Metry accounts (service-contracts §1.2): the customer
 * authorizes once in the browser, the package keeps the refresh token in Node-RED's credential
 * store and trades it for a one-hour access token whenever one is needed.
 *
 * Secrets (client secret, refresh and access tokens) travel only in the token request's form
 * body and the `Authorization` header: never in a URL, never in an error text. The only values
 * in URLs are those the protocol puts there: client id, redirect URI, `state` and the
 * authorization code on the redirect back.
 */
import { randomBytes } from 'node:crypto';
import type { AuthStrategy, OutgoingHeaders } from './auth';
import type { HttpRequester, RequestOptions, ServiceHttpClient } from './client';
import { untilAborted } from './client';
import { ServiceError, isServiceError, serviceDisplayName } from './errors';
import { Clock, systemClock } from '../runtime/clock';

export interface OAuth2Endpoints {
  authorizeUrl: string;
  tokenUrl: string;
}

/** The app registered with the service: Metry hands these out on request (support@metry.io). */
export interface OAuth2Client {
  clientId: string;
  clientSecret: string;
  /** Metry's own libraries ask for `basic` (metry-io/metry-angular-sdk src/auth.js). */
  scope?: string;
}

export interface OAuth2Tokens {
  accessToken: string;
  /** Absent when the server keeps the refresh token it had (RFC 6749 §6). */
  refreshToken?: string;
  /** When the access token stops working (ms since the epoch, on the runtime clock). */
  expiresAt: number;
  scope?: string;
}

/** Metry documents one hour (service-contracts §1.2); used when a token answer has no expires_in. */
export const DEFAULT_ACCESS_TOKEN_LIFETIME_MS = 3_600_000;
/** Refresh this long before expiry so a request never leaves with a token about to lapse. */
export const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000;
export const METRY_OAUTH_SCOPE = 'basic';

/**
 * Metry's OAuth endpoints sit at the root of the host that serves the API:
 * `https://app.metry.io/oauth/authorize` and `…/oauth/token` next to `https://app.metry.io/api/v2`
 * (Metry API Blueprint, "Metry oAuth 2.0 endpoints"). Deriving them from the configured base URL
 * keeps one address to configure and keeps the token request on the API's own origin.
 */
export function metryOAuthEndpoints(baseURL: string): OAuth2Endpoints {
  const origin = new URL(baseURL).origin;
  return { authorizeUrl: `${origin}/oauth/authorize`, tokenUrl: `${origin}/oauth/token` };
}

function configError(message: string, service?: string): ServiceError {
  return new ServiceError(message, { code: 'CONFIG', service });
}

/** Refuses a client without id or secret before any request, naming the field. */
export function checkOAuth2Client(client: Partial<OAuth2Client>, service = 'metry'): OAuth2Client {
  const name = serviceDisplayName(service);
  if (!client.clientId?.trim()) throw configError(`The OAuth2 client id is empty. Enter the client id ${name} gave you in the config node.`, service);
  if (!client.clientSecret?.trim()) throw configError(`The OAuth2 client secret is empty. Enter the client secret ${name} gave you in the config node.`, service);
  return { clientId: client.clientId.trim(), clientSecret: client.clientSecret.trim(), scope: client.scope };
}

/** The URL that sends the user to the service's consent page (RFC 6749 §4.1.1). No secret in it. */
export function buildAuthorizeUrl(endpoints: OAuth2Endpoints, request: { clientId: string; redirectUri: string; state: string; scope?: string }): string {
  const url = new URL(endpoints.authorizeUrl);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', request.clientId);
  url.searchParams.set('redirect_uri', request.redirectUri);
  if (request.scope) url.searchParams.set('scope', request.scope);
  url.searchParams.set('state', request.state);
  return url.toString();
}

export interface PendingAuthorization<T = undefined> {
  /** The config node the authorization is for. */
  nodeId: string;
  redirectUri: string;
  issuedAt: number;
  /** What the callback needs to finish (e.g. the client and base URL typed in the editor). */
  data: T;
}

/**
 * The `state` values of authorizations under way (RFC 6749 §10.12, CSRF): 256 random bits each,
 * bound to the config node that asked, usable once and only for a short while. A callback whose
 * state is unknown, used, expired or for another node is refused.
 */
export class AuthorizationStates<T = undefined> {
  private readonly pending = new Map<string, PendingAuthorization<T>>();

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly ttlMs = 10 * 60_000,
    private readonly maxPending = 100,
    private readonly random: (bytes: number) => Buffer = randomBytes,
  ) {}

  issue(nodeId: string, redirectUri: string, ...data: T extends undefined ? [] : [T]): string {
    this.dropExpired();
    // A flood of Authorize clicks must not grow memory: the oldest pending state goes first.
    while (this.pending.size >= this.maxPending) this.pending.delete(this.pending.keys().next().value as string);
    const state = this.random(32).toString('base64url');
    this.pending.set(state, { nodeId, redirectUri, issuedAt: this.clock.now(), data: data[0] as T });
    return state;
  }

  /** The authorization `state` stands for, removing it; undefined when it is unknown or expired. */
  consume(state: unknown): PendingAuthorization<T> | undefined {
    if (typeof state !== 'string' || state === '') return undefined;
    const entry = this.pending.get(state);
    if (!entry) return undefined;
    this.pending.delete(state);
    return this.clock.now() - entry.issuedAt <= this.ttlMs ? entry : undefined;
  }

  get size(): number {
    this.dropExpired();
    return this.pending.size;
  }

  private dropExpired(): void {
    const now = this.clock.now();
    for (const [state, entry] of this.pending) if (now - entry.issuedAt > this.ttlMs) this.pending.delete(state);
  }
}

/** Marks the strategy's own token requests so `prepare` and `apply` leave them alone. */
const TOKEN_REQUEST_HEADER = 'X-Energy-Export-Token-Request';

type Grant = { grant_type: 'authorization_code'; code: string; redirect_uri: string } | { grant_type: 'refresh_token'; refresh_token: string };

interface TokenAnswer {
  access_token?: unknown;
  token_type?: unknown;
  expires_in?: unknown;
  refresh_token?: unknown;
  scope?: unknown;
  error?: unknown;
}

/** Only the error code of RFC 6749 §5.2 is ever repeated: it is a fixed word, never a secret. */
function errorCode(body: unknown): string | undefined {
  const code = (body as TokenAnswer | null)?.error;
  return typeof code === 'string' && /^[a-z_]{1,40}$/.test(code) ? code : undefined;
}

function refusal(status: number, code: string | undefined, grant: Grant['grant_type'], service: string): ServiceError {
  const name = serviceDisplayName(service);
  const said = code ? ` (${code})` : '';
  if (code === 'invalid_client' || status === 401) {
    return new ServiceError(`${name} did not accept the OAuth2 client id and client secret${said}. Check them in the ${name} config node.`, { code: 'CONFIG', status, service });
  }
  if (code === 'invalid_grant' && grant === 'refresh_token') {
    return new ServiceError(
      `${name} refused to renew access to this customer account${said}: the customer revoked the access or the authorization expired. Open the ${name} config node and click Authorize to connect the account again.`,
      { code: 'UNAUTHORIZED', status, service },
    );
  }
  if (code === 'invalid_grant') {
    return new ServiceError(`${name} refused the authorization code${said}: it expired or was already used. Click Authorize in the ${name} config node again.`, { code: 'UNAUTHORIZED', status, service });
  }
  return new ServiceError(`${name} refused the token request${said}. Check the client id, the client secret and the base URL in the ${name} config node.`, { code: 'BAD_REQUEST', status, service });
}

function readTokens(body: unknown, now: number, defaultLifetimeMs: number, service: string): OAuth2Tokens {
  const answer = (body ?? {}) as TokenAnswer;
  const invalid = (why: string): ServiceError =>
    new ServiceError(`${serviceDisplayName(service)} answered the token request without ${why}. Check the base URL in the config node.`, { code: 'INVALID_RESPONSE', service });
  if (typeof answer.access_token !== 'string' || answer.access_token === '') throw invalid('an access token');
  // RFC 6749 §7.1: the client must understand the token type; only Bearer (RFC 6750) is known here.
  if (answer.token_type !== undefined && String(answer.token_type).toLowerCase() !== 'bearer') throw invalid('a Bearer token');
  const seconds = Number(answer.expires_in);
  const lifetime = answer.expires_in !== undefined && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : defaultLifetimeMs;
  const tokens: OAuth2Tokens = { accessToken: answer.access_token, expiresAt: now + lifetime };
  if (typeof answer.refresh_token === 'string' && answer.refresh_token !== '') tokens.refreshToken = answer.refresh_token;
  if (typeof answer.scope === 'string') tokens.scope = answer.scope;
  return tokens;
}

export interface TokenRequestContext {
  endpoints: OAuth2Endpoints;
  client: OAuth2Client;
  clock?: Clock;
  defaultLifetimeMs?: number;
  signal?: AbortSignal;
}

/**
 * One request to the token endpoint (RFC 6749 §4.1.3, §6), form-encoded with the client's
 * credentials in the body, as Metry's own libraries send them (metry-oauth-connect,
 * metry-angular-sdk; RFC 6749 §2.3.1 allows it). Refusals (400/401) are answered here with a
 * sentence that says what to do; network errors and 5xx are retried by the client.
 */
async function tokenRequest(requester: HttpRequester, grant: Grant, context: TokenRequestContext): Promise<OAuth2Tokens> {
  const { client, endpoints } = context;
  const clock = context.clock ?? systemClock;
  const form: Record<string, string> = { ...grant, client_id: client.clientId, client_secret: client.clientSecret };
  if (client.scope) form.scope = client.scope;
  const response = await requester.request<unknown>({
    method: 'POST',
    path: endpoints.tokenUrl,
    form,
    headers: { [TOKEN_REQUEST_HEADER]: '1' },
    what: grant.grant_type === 'refresh_token' ? 'renewing the OAuth2 access token' : 'exchanging the authorization code',
    acceptStatus: [400, 401],
    responseType: 'json',
    signal: context.signal,
  });
  if (response.status === 400 || response.status === 401) throw refusal(response.status, errorCode(response.data), grant.grant_type, requester.service);
  return readTokens(response.data, clock.now(), context.defaultLifetimeMs ?? DEFAULT_ACCESS_TOKEN_LIFETIME_MS, requester.service);
}

/** Trades the code from the redirect for tokens; `redirectUri` must be the one of the authorize URL. */
export function exchangeAuthorizationCode(requester: HttpRequester, code: string, redirectUri: string, context: TokenRequestContext): Promise<OAuth2Tokens> {
  return tokenRequest(requester, { grant_type: 'authorization_code', code, redirect_uri: redirectUri }, context);
}

export function refreshAccessToken(requester: HttpRequester, refreshToken: string, context: TokenRequestContext): Promise<OAuth2Tokens> {
  return tokenRequest(requester, { grant_type: 'refresh_token', refresh_token: refreshToken }, context);
}

export interface OAuth2AuthOptions {
  endpoints: OAuth2Endpoints;
  client: OAuth2Client;
  /** The refresh token from the credential store. */
  refreshToken: string;
  service?: string;
  clock?: Clock;
  /**
   * Told the new refresh token when the server rotates it (RFC 6749 §6: the old one must then be
   * discarded). Awaited before the new access token is used, so a restart after that finds it.
   */
  persistRefreshToken?: (refreshToken: string) => Promise<void> | void;
  /** Told when persisting failed; the new token stays in use until the runtime stops. */
  onPersistError?: (error: unknown) => void;
  refreshMarginMs?: number;
  defaultLifetimeMs?: number;
}

export interface OAuth2Auth extends AuthStrategy {
  readonly kind: 'oauth2';
  /** When the current access token expires; undefined before the first refresh. */
  readonly expiresAt: number | undefined;
  /** Gets a fresh access token now (one at a time, shared by all callers). */
  refresh(client: ServiceHttpClient, signal?: AbortSignal): Promise<void>;
}

/**
 * The AuthStrategy for OAuth2: the access token is fetched before the first request, renewed
 * shortly before it expires (checked against the runtime clock before every request, so an idle
 * node costs no token requests) and once after a 401. A refused refresh (invalid_grant: the
 * customer revoked access) is remembered: every later request fails at once with the same
 * error, instead of asking the token endpoint again and again, until the node is authorized anew.
 */
export function createOAuth2Auth(options: OAuth2AuthOptions): OAuth2Auth {
  const service = options.service ?? 'metry';
  const client = checkOAuth2Client(options.client, service);
  if (!options.refreshToken?.trim()) {
    throw configError(`The ${serviceDisplayName(service)} config node is not authorized yet. Open it, enter the client id and secret and click Authorize.`, service);
  }
  const clock = options.clock ?? systemClock;
  const defaultLifetimeMs = options.defaultLifetimeMs ?? DEFAULT_ACCESS_TOKEN_LIFETIME_MS;
  const marginMs = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
  let refreshToken = options.refreshToken.trim();
  let accessToken: string | undefined;
  let expiresAt: number | undefined;
  let issuedAt: number | undefined;
  let refused: ServiceError | undefined;
  let refreshing: Promise<void> | undefined;
  // Tokens replaced during this run stay secret too: an old one may still be echoed somewhere.
  const retired: string[] = [];

  function retire(token: string | undefined): void {
    if (!token) return;
    retired.push(token);
    if (retired.length > 8) retired.shift();
  }

  function needsRefresh(): boolean {
    if (!accessToken || expiresAt === undefined) return true;
    // Never more than half the lifetime early, so a short-lived token is not renewed on every request.
    const lifetime = expiresAt - (issuedAt ?? expiresAt);
    return clock.now() >= expiresAt - Math.min(marginMs, lifetime / 2);
  }

  async function refreshOnce(httpClient: ServiceHttpClient): Promise<void> {
    let tokens: OAuth2Tokens;
    try {
      tokens = await refreshAccessToken(httpClient, refreshToken, { endpoints: options.endpoints, client, clock, defaultLifetimeMs, signal: httpClient.signal });
    } catch (error) {
      // A refused grant or client stays refused: asking again on every request would only hammer the server.
      if (isServiceError(error) && (error.code === 'UNAUTHORIZED' || error.code === 'CONFIG')) refused = error;
      throw error;
    }
    retire(accessToken);
    accessToken = tokens.accessToken;
    issuedAt = clock.now();
    expiresAt = tokens.expiresAt;
    if (tokens.refreshToken && tokens.refreshToken !== refreshToken) {
      retire(refreshToken);
      refreshToken = tokens.refreshToken;
      try {
        await options.persistRefreshToken?.(refreshToken);
      } catch (error) {
        options.onPersistError?.(error);
      }
    }
  }

  /** One refresh at a time, shared by everyone who needs it; it runs on the client's lifetime, not a node's. */
  function sharedRefresh(httpClient: ServiceHttpClient, signal: AbortSignal | undefined): Promise<void> {
    if (refused) return Promise.reject(refused);
    if (!refreshing) {
      const attempt = refreshOnce(httpClient).finally(() => {
        if (refreshing === attempt) refreshing = undefined;
      });
      // Callers may all have given up (node closed); the outcome must still not be an unhandled rejection.
      attempt.catch(() => undefined);
      refreshing = attempt;
    }
    return untilAborted(refreshing, signal, service);
  }

  return {
    kind: 'oauth2',
    get expiresAt() {
      return expiresAt;
    },
    async prepare(httpClient: ServiceHttpClient, request: RequestOptions, signal: AbortSignal) {
      if (request.headers?.[TOKEN_REQUEST_HEADER]) return;
      if (refused) throw refused;
      if (refreshing || needsRefresh()) await sharedRefresh(httpClient, signal);
    },
    apply(headers: OutgoingHeaders) {
      if (headers[TOKEN_REQUEST_HEADER]) {
        // The token request authenticates with the client's credentials in its body, not a Bearer token.
        delete headers[TOKEN_REQUEST_HEADER];
        return;
      }
      if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
    },
    async onUnauthorized(httpClient: ServiceHttpClient, signal: AbortSignal) {
      // The server no longer takes the access token (revoked early, clock skew): renew it once.
      // A refresh already under way is joined rather than repeated.
      if (!refreshing) accessToken = undefined;
      await sharedRefresh(httpClient, signal);
      return true;
    },
    refresh(httpClient: ServiceHttpClient, signal?: AbortSignal) {
      return sharedRefresh(httpClient, signal);
    },
    async close() {
      // Nothing to release on the server: revoking here would end the customer's grant.
      accessToken = undefined;
    },
    secrets: () => [client.clientSecret, refreshToken, ...(accessToken ? [accessToken] : []), ...retired],
  };
}

/** The OAuth2 strategy behind a client's auth, if it is one (works across the compiled and source copies). */
export function oauth2AuthOf(auth: AuthStrategy | undefined): OAuth2Auth | undefined {
  return (auth as { kind?: unknown } | undefined)?.kind === 'oauth2' ? (auth as OAuth2Auth) : undefined;
}
