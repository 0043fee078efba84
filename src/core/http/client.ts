import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import axios, { AxiosError, AxiosInstance, AxiosRequestConfig } from 'axios';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { AuthStrategy, OutgoingHeaders } from './auth';
import { Clock, systemClock } from '../runtime/clock';
import { ServiceError, errorForStatus, rateLimitExhausted, sanitiseServiceText, serviceDisplayName } from './errors';
import { RequestLimiter } from './limiter';
import { HTTP_RETRY_POLICY, RetryPolicy, backoffDelay, parseRetryAfter } from '../runtime/backoff';
import { readBaseUrl } from '../runtime/options';

export interface TlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  passphrase?: string;
  servername?: string;
  rejectUnauthorized?: boolean;
}

export interface ProxyOptions {
  url: string;
  username?: string;
  password?: string;
  /** Host names (or suffixes) that bypass the proxy. */
  noProxy?: string[];
}

export interface HttpClientOptions {
  service: string;
  baseURL: string;
  auth: AuthStrategy;
  timeoutMs?: number;
  maxConcurrent?: number;
  requestsPerSecond?: number;
  /** Share of `requestsPerSecond` the limiter plans for (default 0.95, see limiter.ts). */
  rateMargin?: number;
  retry?: Partial<RetryPolicy>;
  clock?: Clock;
  random?: () => number;
  tls?: TlsOptions;
  /** A proxy config; `undefined` falls back to the http_proxy/https_proxy environment, `false` disables. */
  proxy?: ProxyOptions | false;
  userAgent?: string;
  /** Largest response body accepted, in bytes. */
  maxResponseBytes?: number;
}

export type QueryValue = string | number | boolean | undefined | null | readonly (string | number)[];

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /**
   * Path relative to the base URL, or an absolute URL on the base URL's origin: a "next page"
   * link made absolute with `resolveLink(link, response)` (pagination.ts).
   */
  path: string;
  query?: Record<string, QueryValue>;
  /** A JSON body. */
  json?: unknown;
  /**
   * A JSON body already written, sent as it is: for numbers JSON.stringify cannot write exactly,
   * such as Metry stream offsets beyond 2^53 (kept as digit strings).
   */
  jsonText?: string;
  /** A form-encoded body (application/x-www-form-urlencoded). */
  form?: Record<string, string>;
  headers?: Record<string, string>;
  /** A few words for error texts: "listing meters", "posting a telegram". */
  what?: string;
  signal?: AbortSignal;
  /** `false` sends exactly once; a partial policy overrides the client's for this request. */
  retry?: Partial<RetryPolicy> | false;
  /** How the body is returned: parsed JSON (default: when the response says JSON) or text. */
  responseType?: 'json' | 'text' | 'auto';
  timeoutMs?: number;
  /** Statuses handed back as responses instead of thrown, for callers that treat them as data. */
  acceptStatus?: readonly number[];
  /** Told about every retry before its wait, for a status like "rate limited, retrying". */
  onRetry?: (event: RetryEvent) => void;
}

export interface RetryEvent {
  attempt: number;
  delayMs: number;
  error: ServiceError;
}

export interface HttpResponse<T = unknown> {
  /** The absolute URL that was requested, query included: the base for relative links in the answer. */
  url: string;
  status: number;
  headers: Record<string, string>;
  data: T;
  attempts: number;
}

/** What a caller needs from the client; a scope offers the same so adapters can hold either. */
export interface HttpRequester {
  request<T = unknown>(options: RequestOptions): Promise<HttpResponse<T>>;
  readonly service: string;
}

class DeadlineExceeded extends Error {}

/**
 * A CONNECT tunnel whose TLS session to the service uses the config node's TLS options (custom
 * CA, client certificate): https-proxy-agent applies its constructor options to the proxy
 * connection only.
 */
class TunnellingAgent extends HttpsProxyAgent<string> {
  constructor(
    proxy: string,
    options: ConstructorParameters<typeof HttpsProxyAgent<string>>[1],
    private readonly tls: TlsOptions = {},
  ) {
    super(proxy, options);
  }

  override connect(req: http.ClientRequest, options: Parameters<HttpsProxyAgent<string>['connect']>[1]): ReturnType<HttpsProxyAgent<string>['connect']> {
    const host = options.host;
    // The agent drops `host` before the TLS handshake; without it Node checks an IP-address
    // target's certificate against "localhost".
    const checkServerIdentity = (_name: string, cert: tls.PeerCertificate): Error | undefined => tls.checkServerIdentity(this.tls.servername ?? host ?? '', cert);
    return super.connect(req, { ...options, checkServerIdentity, ...this.tls } as typeof options);
  }
}

/**
 * The one HTTP client every service node uses. One instance per config node: its keep-alive
 * agents, concurrency limit and rate limit are shared by all nodes that use that config node.
 */
export class ServiceHttpClient implements HttpRequester {
  readonly service: string;
  readonly baseURL: string;
  readonly clock: Clock;
  readonly limiter: RequestLimiter;
  readonly auth: AuthStrategy;
  private readonly axios: AxiosInstance;
  private readonly retryPolicy: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly random: () => number;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent | TunnellingAgent;
  private readonly lifetime = new AbortController();
  private closed = false;

  constructor(options: HttpClientOptions) {
    this.service = options.service;
    this.baseURL = readBaseUrl(options.baseURL, 'Base URL');
    const parsedBase = new URL(this.baseURL);
    this.auth = options.auth;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.retryPolicy = { ...HTTP_RETRY_POLICY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    const maxConcurrent = options.maxConcurrent ?? 4;
    this.limiter = new RequestLimiter({ maxConcurrent, requestsPerSecond: options.requestsPerSecond ?? 0, rateMargin: options.rateMargin, clock: this.clock });
    const maxSockets = maxConcurrent > 0 ? maxConcurrent : Infinity;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    const proxy = chooseProxy(parsedBase, options.proxy);
    // axios sends an https:// request to a proxy without a CONNECT tunnel, i.e. the token in
    // clear text to the proxy (axios/axios#4531), so HTTPS through a proxy goes through a
    // tunnelling agent, and axios's own proxy handling (and its reading of the environment) is off.
    this.httpsAgent =
      proxy && parsedBase.protocol === 'https:'
        ? new TunnellingAgent(proxyUrlWithAuth(proxy), { keepAlive: true, maxSockets }, options.tls)
        : new https.Agent({ keepAlive: true, maxSockets, ...options.tls });
    this.axios = axios.create({
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      proxy: proxy && parsedBase.protocol === 'http:' ? toAxiosProxy(proxy) : false,
      maxRedirects: 0,
      maxContentLength: options.maxResponseBytes ?? 64 * 1024 * 1024,
      maxBodyLength: 64 * 1024 * 1024,
      validateStatus: () => true,
      responseType: 'text',
      // Parse bodies ourselves: axios would swallow a JSON syntax error from a truncated body.
      transformResponse: [(data: unknown) => data],
      headers: { 'User-Agent': options.userAgent ?? 'node-red-contrib-energy-export' },
    });
  }

  /** A per-node lease on this shared client: `close()` aborts the lease's requests in flight, not the client. */
  lease(): ClientLease {
    return new ClientLease(this);
  }

  get signal(): AbortSignal {
    return this.lifetime.signal;
  }

  async request<T = unknown>(options: RequestOptions): Promise<HttpResponse<T>> {
    if (this.closed) throw cancelledError(this.service);
    const signal = options.signal ? AbortSignal.any([options.signal, this.lifetime.signal]) : this.lifetime.signal;
    const policy: RetryPolicy = options.retry === false ? { ...this.retryPolicy, maxRetries: 0 } : { ...this.retryPolicy, ...options.retry };
    if (this.auth.prepare) {
      try {
        await this.auth.prepare(this, options, signal);
      } catch (error) {
        if (signal.aborted) throw cancelledError(this.service);
        throw error;
      }
    }
    let attempt = 0;
    let reauthenticated = false;
    const budget: RetryBudget = { retries: 0, rateLimitRetries: 0, rateLimitWaitedMs: 0 };
    for (;;) {
      attempt += 1;
      let outcome: HttpResponse<T> | ServiceError;
      try {
        outcome = await this.attempt<T>(options, signal);
      } catch (error) {
        if (signal.aborted) throw cancelledError(this.service, attempt);
        throw error;
      }
      if (!(outcome instanceof ServiceError)) {
        outcome.attempts = attempt;
        return outcome;
      }
      const error = outcome;
      error.attempts = attempt;
      if (error.code === 'UNAUTHORIZED' && this.auth.onUnauthorized && !reauthenticated) {
        reauthenticated = true;
        if (await this.auth.onUnauthorized(this, signal)) {
          attempt -= 1;
          continue;
        }
      }
      const delay = this.retryDelay(error, policy, budget, options.what);
      if (delay instanceof ServiceError) throw delay;
      options.onRetry?.({ attempt, delayMs: delay, error });
      try {
        await this.clock.sleep(delay, signal);
      } catch {
        throw cancelledError(this.service, attempt);
      }
    }
  }

  /**
   * How long to wait before retrying `error`, or the error to fail with. A 429 without
   * Retry-After has a budget of its own (total wait, not attempts): the service says "too fast"
   * without saying for how long, and a nightly export should outlast a minute-long limit.
   */
  private retryDelay(error: ServiceError, policy: RetryPolicy, budget: RetryBudget, what?: string): number | ServiceError {
    if (!error.retryable || policy.maxRetries <= 0) return error;
    if (error.code === 'RATE_LIMITED' && error.retryAfterMs === undefined) {
      const maxWaitMs = policy.rateLimitMaxWaitMs ?? HTTP_RETRY_POLICY.rateLimitMaxWaitMs!;
      const remaining = maxWaitMs - budget.rateLimitWaitedMs;
      if (remaining <= 0) return rateLimitExhausted(error, { waitedMs: budget.rateLimitWaitedMs, what });
      budget.rateLimitRetries += 1;
      const maxDelayMs = policy.rateLimitMaxDelayMs ?? HTTP_RETRY_POLICY.rateLimitMaxDelayMs!;
      const delay = Math.min(remaining, backoffDelay(budget.rateLimitRetries, { ...policy, maxDelayMs }, this.random));
      budget.rateLimitWaitedMs += delay;
      return delay;
    }
    budget.retries += 1;
    if (budget.retries > policy.maxRetries) return error;
    const delay = backoffDelay(budget.retries, policy, this.random);
    if (error.retryAfterMs === undefined) return delay;
    if (error.retryAfterMs > policy.maxRetryAfterMs) return error;
    return Math.max(delay, error.retryAfterMs);
  }

  /** One try: resolves a response or a classified ServiceError; rejects only when cancelled. */
  private async attempt<T>(options: RequestOptions, signal: AbortSignal): Promise<HttpResponse<T> | ServiceError> {
    const release = await this.limiter.acquire(signal).catch(() => {
      throw cancelledError(this.service);
    });
    const deadline = new AbortController();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    // A deadline for real network I/O, so real time rather than the client's clock: a test clock
    // that runs backoff at full speed must not expire requests in flight.
    const timer = timeoutMs > 0 ? systemClock.setTimer(() => deadline.abort(new DeadlineExceeded()), timeoutMs) : undefined;
    try {
      const headers: OutgoingHeaders = { Accept: 'application/json, text/plain, */*', ...options.headers };
      await this.auth.apply(headers, this, signal);
      const url = withQuery(this.resolveUrl(options.path), options.query);
      const config: AxiosRequestConfig = {
        method: options.method ?? 'GET',
        url,
        headers,
        signal: AbortSignal.any([signal, deadline.signal]),
      };
      if (options.jsonText !== undefined || options.json !== undefined) {
        headers['Content-Type'] = 'application/json';
        config.data = options.jsonText ?? JSON.stringify(options.json);
      } else if (options.form) {
        headers['Content-Type'] = 'application/x-www-form-urlencoded';
        config.data = new URLSearchParams(options.form).toString();
      }
      const response = await this.axios.request<string>(config);
      const responseHeaders = flattenHeaders(response.headers as Record<string, unknown>);
      const status = response.status;
      if ((status >= 200 && status < 300) || options.acceptStatus?.includes(status)) {
        const data = this.parseBody<T>(response.data, responseHeaders, options);
        if (data instanceof ServiceError) return data;
        return { url, status, headers: responseHeaders, data, attempts: 1 };
      }
      const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(responseHeaders['retry-after'], this.clock.now()) : undefined;
      const error = errorForStatus(status, {
        service: this.service,
        what: options.what,
        serviceMessage: extractServiceMessage(response.data, this.auth.secrets()),
        retryAfterMs,
      });
      return error;
    } catch (error) {
      if (signal.aborted) throw error;
      return this.classifyTransportError(error, deadline.signal, options);
    } finally {
      systemClock.clearTimer(timer);
      release();
    }
  }

  private parseBody<T>(raw: unknown, headers: Record<string, string>, options: RequestOptions): T | ServiceError {
    const text = typeof raw === 'string' ? raw : raw === undefined || raw === null ? '' : String(raw);
    const wantsJson = options.responseType === 'json' || ((options.responseType ?? 'auto') === 'auto' && /json/i.test(headers['content-type'] ?? ''));
    if (!wantsJson) return text as unknown as T;
    if (text.trim() === '') return null as unknown as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return new ServiceError(`${serviceDisplayName(this.service)} sent a response that is not valid JSON${options.what ? ` (${options.what})` : ''}; it may have been cut off. It will be retried; if it persists, check the base URL.`, { code: 'INVALID_RESPONSE', service: this.service, retryable: true });
    }
  }

  private classifyTransportError(error: unknown, deadline: AbortSignal, options: RequestOptions): ServiceError {
    if (error instanceof ServiceError) return error;
    const name = serviceDisplayName(this.service);
    const what = options.what ? ` (${options.what})` : '';
    const axiosError = error as AxiosError;
    const code = axiosError?.code;
    if (deadline.aborted || code === 'ECONNABORTED' || code === 'ETIMEDOUT') {
      return new ServiceError(`${name} did not answer in time${what}. It will be retried; if it persists, check the server or raise the timeout in the config node.`, { code: 'TIMEOUT', service: this.service, retryable: true, cause: error });
    }
    if (code === 'ERR_FR_MAX_BODY_LENGTH_EXCEEDED' || code === 'ERR_BAD_RESPONSE' && /maxContentLength/.test(String(axiosError.message))) {
      return new ServiceError(`${name} sent a response larger than allowed${what}. Narrow the request (fewer meters or a shorter period).`, { code: 'INVALID_RESPONSE', service: this.service, retryable: false, cause: error });
    }
    const reason = code ? ` (${code})` : '';
    return new ServiceError(`Could not reach ${name}${what}${reason}. It will be retried; check the base URL, the network and that the server is running.`, { code: 'NETWORK', service: this.service, retryable: true, cause: error });
  }

  private resolveUrl(path: string): string {
    if (/^[a-z][a-z0-9+.-]*:/i.test(path)) {
      // Absolute links (next-page URLs) must stay on the configured server: the credentials go with them.
      const target = new URL(path);
      const base = new URL(this.baseURL);
      if (target.origin !== base.origin || target.username || target.password) {
        throw new ServiceError(`${serviceDisplayName(this.service)} pointed to another server; the request was not sent so the credentials stay private.`, { code: 'INVALID_RESPONSE', service: this.service });
      }
      return target.toString();
    }
    return `${this.baseURL}/${path.replace(/^\/+/, '')}`;
  }

  /** Aborts every request in flight, ends the session if there is one and frees the sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.auth.close?.(this);
    } catch {
      // Logging out is a courtesy; a server that is down must not keep Node-RED from closing.
    }
    this.closed = true;
    this.lifetime.abort(new Error('client closed'));
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Requests made through a scope are aborted together when the scope closes (a node's `close`). */
export class ClientLease implements HttpRequester {
  private readonly controller = new AbortController();
  constructor(readonly client: ServiceHttpClient) {}

  get service(): string {
    return this.client.service;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  request<T = unknown>(options: RequestOptions): Promise<HttpResponse<T>> {
    if (this.controller.signal.aborted) return Promise.reject(cancelledError(this.client.service));
    const signal = options.signal ? AbortSignal.any([options.signal, this.controller.signal]) : this.controller.signal;
    return this.client.request<T>({ ...options, signal });
  }

  close(): void {
    this.controller.abort(new Error('scope closed'));
  }
}

export function cancelledError(service: string, attempts = 1): ServiceError {
  return new ServiceError(`The request to ${serviceDisplayName(service)} was cancelled because the node was closed or redeployed.`, { code: 'CANCELLED', service, attempts });
}

/** Waits for `promise`, or rejects as cancelled when `signal` aborts first (the promise runs on). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, service: string): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(cancelledError(service));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(cancelledError(service));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Counts what a request has used of its retry policy. */
interface RetryBudget {
  /** Retries for failures other than a 429 without Retry-After, against `maxRetries`. */
  retries: number;
  rateLimitRetries: number;
  rateLimitWaitedMs: number;
}

/**
 * Appends the query to a URL whose own query (a next-page link's) is kept byte for byte:
 * services sign or encode their cursors, and re-serialising them could change them.
 */
function withQuery(url: string, query: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    params.append(key, Array.isArray(value) ? value.join(',') : String(value));
  }
  const serialized = params.toString();
  if (!serialized) return url;
  const hash = url.indexOf('#');
  const bare = hash >= 0 ? url.slice(0, hash) : url;
  return `${bare}${bare.includes('?') ? '&' : '?'}${serialized}`;
}

function flattenHeaders(headers: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (value === undefined || value === null) continue;
    // Set-Cookie values may contain commas (Expires=…), so they are joined by line breaks instead.
    const separator = key.toLowerCase() === 'set-cookie' ? '\n' : ', ';
    out[key.toLowerCase()] = Array.isArray(value) ? value.join(separator) : String(value);
  }
  return out;
}

/** Pulls the service's own short explanation out of an error body, in any of the usual shapes. */
function extractServiceMessage(body: unknown, secrets: string[]): string | undefined {
  if (typeof body !== 'string' || body.trim() === '') return undefined;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === 'string') return sanitiseServiceText(parsed, secrets);
    if (parsed && typeof parsed === 'object') {
      const record = parsed as Record<string, unknown>;
      const candidate = record.message ?? record.detail ?? record.error ?? record.errors;
      if (candidate !== undefined) return sanitiseServiceText(candidate, secrets);
      return sanitiseServiceText(parsed, secrets);
    }
  } catch {
    // Not JSON: DSMR-reader v1 and many proxies answer in plain text or HTML.
  }
  return sanitiseServiceText(body, secrets);
}

/**
 * The proxy for a base URL: the config node's, or else the standard environment variables
 * (`https_proxy`/`http_proxy`, `no_proxy`), as Node-RED's own HTTP Request node does.
 */
export function chooseProxy(base: URL, configured: ProxyOptions | false | undefined, env: NodeJS.ProcessEnv = process.env): ProxyOptions | undefined {
  if (configured === false) return undefined;
  let proxy = configured;
  if (!proxy?.url) {
    const url = base.protocol === 'https:' ? env.https_proxy ?? env.HTTPS_PROXY ?? env.http_proxy ?? env.HTTP_PROXY : env.http_proxy ?? env.HTTP_PROXY;
    if (!url) return undefined;
    proxy = { url, noProxy: (env.no_proxy ?? env.NO_PROXY ?? '').split(',') };
  }
  const host = base.hostname.toLowerCase();
  const bypassed = (proxy.noProxy ?? [])
    .map((entry) => entry.trim().toLowerCase().replace(/:\d+$/, ''))
    .filter(Boolean)
    .some((entry) => entry === '*' || host === entry.replace(/^\./, '') || host.endsWith(entry.startsWith('.') ? entry : `.${entry}`));
  return bypassed ? undefined : proxy;
}

function proxyUrlWithAuth(proxy: ProxyOptions): string {
  const url = new URL(proxy.url);
  if (proxy.username) {
    url.username = encodeURIComponent(proxy.username);
    url.password = encodeURIComponent(proxy.password ?? '');
  }
  return url.toString();
}

function toAxiosProxy(proxy: ProxyOptions): AxiosRequestConfig['proxy'] {
  const url = new URL(proxy.url);
  const username = proxy.username ?? (url.username ? decodeURIComponent(url.username) : undefined);
  const password = proxy.password ?? (url.password ? decodeURIComponent(url.password) : '');
  return {
    protocol: url.protocol.replace(':', ''),
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    auth: username ? { username, password } : undefined,
  };
}
