/**
 * P1 bytes from a network dongle or ser2net: a TCP client that reconnects with exponential
 * backoff after a refused connection, a drop or a silent socket (dongles that lose Wi-Fi often
 * keep the TCP connection half-open, so "no data for N seconds" counts as a drop).
 */
import net from 'node:net';
import { ConnectionStateMachine, type ConnectionEvent, type ConnectionState } from './connection-state';
import { ProblemReporter, safely, SourceError, type P1Source, type SourceListener, type SourceStateInfo } from './source';
import { systemClock, type Clock } from '../runtime/clock';

/** The part of `net.Socket` the source uses. */
export interface SocketLike {
  on(event: 'connect', listener: () => void): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  removeAllListeners(event?: string): unknown;
  destroy(): unknown;
  readonly destroyed: boolean;
}

export interface TcpSourceOptions {
  host: string;
  port: number;
  clock?: Clock;
  /** First wait after a failure; doubles per failed attempt. Default 5 s. */
  reconnectMs?: number;
  /** Upper bound of the backoff. Default 60 s. */
  maxReconnectMs?: number;
  /** Give up a connection attempt after this long. Default 10 s. */
  connectTimeoutMs?: number;
  /** No data for this long while connected is a fault; 0 turns it off. Default 60 s. */
  silenceMs?: number;
  connect?: (host: string, port: number) => SocketLike;
}

const DEFAULT_RECONNECT_MS = 5000;
const DEFAULT_MAX_RECONNECT_MS = 60000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10000;
const DEFAULT_SILENCE_MS = 60000;

/** Validates host and port from the node configuration; throws a sentence saying what to fix. */
export function tcpEndpointFromConfig(host: unknown, port: unknown): { host: string; port: number } {
  const name = typeof host === 'string' ? host.trim() : '';
  if (!name) throw new Error('Enter the host name or IP address of the P1 dongle or ser2net server.');
  const number = Number(port);
  if (!Number.isInteger(number) || number < 1 || number > 65535) throw new Error(`TCP port "${String(port)}" is not valid. Enter a number from 1 to 65535 (ser2net and most dongles use 23 or 2000-8088).`);
  return { host: name, port: number };
}

function describeSocketError(error: unknown, where: string): SourceError {
  const code = (error as { code?: unknown })?.code;
  const text = error instanceof Error ? error.message : String(error);
  if (code === 'ECONNREFUSED') return new SourceError(`${where} refused the connection. Check the host, the port and that the dongle or ser2net is running; retrying.`, 'refused', { cause: error });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new SourceError(`Host of ${where} could not be found. Check the host name; retrying.`, 'no host', { cause: error });
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new SourceError(`${where} cannot be reached from this machine; retrying.`, 'unreachable', { cause: error });
  if (error instanceof SourceError) return error;
  return new SourceError(`Connection to ${where} failed: ${text}; retrying.`, 'tcp error', { cause: error });
}

export class TcpSource implements P1Source {
  private readonly machine = new ConnectionStateMachine();
  private readonly clock: Clock;
  private readonly problems: ProblemReporter;
  private readonly where: string;
  private socket: SocketLike | undefined;
  private retryTimer: unknown;
  private connectTimer: unknown;
  private silenceTimer: unknown;
  private failures = 0;
  private lastDataAt = 0;
  private lastError: Error | undefined;
  private nextDelay = 0;
  private stopping = false;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly options: TcpSourceOptions,
    private readonly listener: SourceListener,
  ) {
    this.clock = options.clock ?? systemClock;
    this.where = `${options.host}:${options.port}`;
    this.problems = new ProblemReporter((error) => safely(() => listener.onProblem(error)));
    this.apply('start');
    this.connect();
  }

  get state(): ConnectionState {
    return this.machine.state;
  }

  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.stopping = true;
    this.clearTimers();
    this.apply('stop');
    const socket = this.socket;
    this.socket = undefined;
    this.closed = new Promise<void>((resolve) => {
      const finish = (): void => {
        this.apply('stopped');
        resolve();
      };
      if (!socket || socket.destroyed) {
        if (socket) this.detach(socket);
        finish();
        return;
      }
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.on('close', finish);
      socket.destroy();
    });
    return this.closed;
  }

  private info(): SourceStateInfo {
    const info: SourceStateInfo = { detail: this.where, retrying: this.failures > 0 };
    if (this.state === 'waiting-to-retry') {
      info.error = this.lastError;
      info.retryInMs = this.nextDelay;
    }
    return info;
  }

  private apply(event: ConnectionEvent): boolean {
    if (this.machine.apply(event) === undefined) return false;
    const info = this.info();
    safely(() => this.listener.onState(this.state, info));
    return true;
  }

  private connect(): void {
    if (this.stopping) return;
    let socket: SocketLike;
    try {
      socket = (this.options.connect ?? ((host, port) => net.createConnection({ host, port })))(this.options.host, this.options.port);
    } catch (error) {
      this.down(error, 'failed');
      return;
    }
    this.socket = socket;
    this.connectTimer = this.clock.setTimer(() => {
      if (socket === this.socket) this.down(new SourceError(`${this.where} did not accept a connection within ${Math.round((this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) / 1000)} s; retrying.`, 'timeout'), 'failed');
    }, this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    socket.on('connect', () => {
      if (socket !== this.socket) return;
      this.clock.clearTimer(this.connectTimer);
      this.lastDataAt = this.clock.now();
      this.armSilenceWatchdog(this.silenceMs());
      this.apply('opened');
    });
    socket.on('data', (chunk: Buffer) => {
      if (socket !== this.socket) return;
      this.lastDataAt = this.clock.now();
      // A connection only counts as healthy once bytes flow; some dongles accept and drop at once.
      this.failures = 0;
      this.lastError = undefined;
      this.problems.reset();
      safely(() => this.listener.onData(chunk));
    });
    socket.on('error', (error: Error) => {
      if (socket === this.socket) this.down(error, this.state === 'open' ? 'lost' : 'failed');
    });
    socket.on('close', () => {
      if (socket === this.socket) this.down(new SourceError(`${this.where} closed the connection; reconnecting.`, 'dropped'), this.state === 'open' ? 'lost' : 'failed');
    });
  }

  private silenceMs(): number {
    return Math.max(0, this.options.silenceMs ?? DEFAULT_SILENCE_MS);
  }

  private armSilenceWatchdog(delay: number): void {
    if (this.silenceMs() <= 0) return;
    this.silenceTimer = this.clock.setTimer(() => {
      this.silenceTimer = undefined;
      if (this.stopping || this.state !== 'open') return;
      const quiet = this.clock.now() - this.lastDataAt;
      if (quiet < this.silenceMs()) {
        this.armSilenceWatchdog(this.silenceMs() - quiet);
        return;
      }
      this.down(new SourceError(`No data from ${this.where} for ${Math.round(this.silenceMs() / 1000)} s. Check the dongle and its P1 cable; reconnecting.`, 'no data'), 'lost');
    }, delay);
  }

  private down(error: unknown, event: 'lost' | 'failed'): void {
    if (this.stopping) return;
    const socket = this.socket;
    this.socket = undefined;
    this.clearTimers();
    if (socket) {
      this.detach(socket);
      socket.destroy();
    }
    const problem = describeSocketError(error, this.where);
    this.lastError = problem;
    this.problems.problem(problem);
    const base = this.options.reconnectMs ?? DEFAULT_RECONNECT_MS;
    this.nextDelay = Math.min(base * 2 ** this.failures, this.options.maxReconnectMs ?? DEFAULT_MAX_RECONNECT_MS);
    this.failures += 1;
    if (!this.apply(event)) return;
    this.retryTimer = this.clock.setTimer(() => {
      this.retryTimer = undefined;
      if (this.apply('retry')) this.connect();
    }, this.nextDelay);
  }

  private clearTimers(): void {
    this.clock.clearTimer(this.retryTimer);
    this.clock.clearTimer(this.connectTimer);
    this.clock.clearTimer(this.silenceTimer);
    this.retryTimer = this.connectTimer = this.silenceTimer = undefined;
  }

  private detach(socket: SocketLike): void {
    socket.removeAllListeners();
    socket.on('error', () => undefined);
  }
}
