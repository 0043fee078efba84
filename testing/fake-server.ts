/**
 * A real HTTP server on 127.0.0.1 (port 0) for the service fakes. Each fake registers routes
 * that implement the service's documented contract; tests switch on failure modes that apply
 * to the next matching requests: a status (401/403/429 with Retry-After/5xx), a slow answer,
 * a hang (for timeouts), a truncated body or a dropped connection. The server records every
 * request and counts how many are in flight, so tests can assert retries and limits.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  receivedAt: number;
}

export interface FakeResponse {
  status?: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings as they are. */
  body?: unknown;
}

export type Failure =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown }
  /** Waits before answering normally. */
  | { kind: 'slow'; delayMs: number }
  /** Never answers (until the client gives up or the server closes). */
  | { kind: 'hang' }
  /** Announces the full length, sends part of the body and closes the connection. */
  | { kind: 'truncate' }
  /** Destroys the socket without any answer. */
  | { kind: 'drop' };

export type RouteHandler = (request: RecordedRequest) => FakeResponse | Promise<FakeResponse>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: (request: RecordedRequest, params: string[]) => FakeResponse | Promise<FakeResponse>;
}

interface PendingFailure {
  failure: Failure;
  remaining: number;
  match?: RegExp;
}

export class FakeServer {
  readonly requests: RecordedRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** Added to every answer, to model network latency. */
  latencyMs = 0;
  private readonly routes: Route[] = [];
  private readonly failures: PendingFailure[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: http.Server;
  private baseUrl = '';
  /** Requests the client aborted before an answer (closing a node must cause these). */
  abortedRequests = 0;
  /** Checked before routing; return a response to refuse the request (e.g. a wrong key). */
  authCheck?: (request: RecordedRequest) => FakeResponse | undefined;

  constructor() {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${address.port}`;
    return this;
  }

  get url(): string {
    return this.baseUrl;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Registers a route; `:name` segments are captured and passed in order. */
  on(method: string, path: string | RegExp, handler: (request: RecordedRequest, params: string[]) => FakeResponse | Promise<FakeResponse>): this {
    const pattern = typeof path === 'string' ? new RegExp(`^${path.replace(/:[A-Za-z_]+/g, '([^/]+)')}/?$`) : path;
    this.routes.push({ method: method.toUpperCase(), pattern, handler });
    return this;
  }

  /** Applies `failure` to the next `times` requests whose path matches `match` (all paths if omitted). */
  fail(failure: Failure, times = 1, match?: RegExp): this {
    this.failures.push({ failure, remaining: times, match });
    return this;
  }

  clearFailures(): void {
    this.failures.length = 0;
  }

  requestsTo(pathPattern: RegExp | string): RecordedRequest[] {
    return this.requests.filter((r) => (typeof pathPattern === 'string' ? r.path === pathPattern : pathPattern.test(r.path)));
  }

  reset(): void {
    this.requests.length = 0;
    this.failures.length = 0;
    this.maxInFlight = 0;
    this.abortedRequests = 0;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private takeFailure(path: string): Failure | undefined {
    const index = this.failures.findIndex((f) => f.remaining > 0 && (!f.match || f.match.test(path)));
    if (index < 0) return undefined;
    const pending = this.failures[index];
    pending.remaining -= 1;
    if (pending.remaining === 0) this.failures.splice(index, 1);
    return pending.failure;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const recorded: RecordedRequest = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      receivedAt: Date.now(),
    };
    this.requests.push(recorded);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let answered = false;
    res.on('close', () => {
      if (!answered && !res.writableEnded) this.abortedRequests += 1;
      this.inFlight -= 1;
    });
    try {
      if (this.latencyMs > 0) await delay(this.latencyMs);
      const failure = this.takeFailure(recorded.path);
      if (failure?.kind === 'hang') return;
      if (failure?.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (failure?.kind === 'slow') await delay(failure.delayMs);
      if (res.destroyed) return;
      let response: FakeResponse;
      if (failure?.kind === 'status') {
        response = { status: failure.status, headers: failure.headers, body: failure.body ?? { code: failure.status, message: http.STATUS_CODES[failure.status] } };
      } else {
        response = this.authCheck?.(recorded) ?? (await this.route(recorded));
      }
      const body = response.body === undefined ? '' : typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
      const headers: Record<string, string> = { ...response.headers };
      if (response.body !== undefined && typeof response.body !== 'string' && !headers['Content-Type']) headers['Content-Type'] = 'application/json';
      const bytes = Buffer.from(body, 'utf8');
      headers['Content-Length'] = String(bytes.length);
      if (failure?.kind === 'truncate') {
        res.writeHead(response.status ?? 200, headers);
        res.write(bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2))));
        setTimeout(() => req.socket.destroy(), 10);
        return;
      }
      answered = true;
      res.writeHead(response.status ?? 200, headers);
      res.end(bytes);
    } catch (error) {
      answered = true;
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`fake server error: ${(error as Error).message}`);
    }
  }

  private async route(request: RecordedRequest): Promise<FakeResponse> {
    for (const route of this.routes) {
      if (route.method !== request.method) continue;
      const match = route.pattern.exec(request.path);
      if (match) return route.handler(request, match.slice(1).map(decodeURIComponent));
    }
    return { status: 404, body: { code: 404, message: 'Resource not found' } };
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
