/**
 * P1 bytes from a network dongle or ser2net: a TCP client. Reconnecting, backoff and the silence
 * watchdog (dongles that lose Wi-Fi often keep the TCP connection half-open) come from
 * `ReconnectingSource`; this file only opens and releases sockets.
 */
import net from 'node:net';
import { ReconnectingSource, type ReconnectingSourceOptions } from './reconnecting-source';
import { SourceError, type SourceListener } from './source';

export interface TcpSourceOptions extends ReconnectingSourceOptions {
  host: string;
  port: number;
  /** Give up a connection attempt after this long. Default 10 s. */
  connectTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

function describeSocketError(error: unknown, where: string): SourceError {
  if (error instanceof SourceError) return error;
  const code = (error as { code?: unknown })?.code;
  const text = error instanceof Error ? error.message : String(error);
  if (code === 'ECONNREFUSED') return new SourceError(`${where} refused the connection. Check the host, the port and that the dongle or ser2net is running; retrying.`, 'refused', { cause: error });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new SourceError(`Host of ${where} could not be found. Check the host name; retrying.`, 'no host', { cause: error });
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new SourceError(`${where} cannot be reached from this machine; retrying.`, 'unreachable', { cause: error });
  return new SourceError(`Connection to ${where} failed: ${text}; retrying.`, 'tcp error', { cause: error });
}

export class TcpSource extends ReconnectingSource {
  private readonly where: string;
  private socket: net.Socket | undefined;

  constructor(
    private readonly tcp: TcpSourceOptions,
    listener: SourceListener,
  ) {
    super(tcp);
    this.where = `${tcp.host}:${tcp.port}`;
    this.addListener(listener);
    this.start();
  }

  protected detail(): string {
    return this.where;
  }

  protected silenceError(seconds: number): SourceError {
    return new SourceError(`No data from ${this.where} for ${seconds} s. Check the dongle and its P1 cable; reconnecting.`, 'no data');
  }

  protected connect(): void {
    let socket: net.Socket;
    try {
      socket = net.createConnection({ host: this.tcp.host, port: this.tcp.port });
    } catch (error) {
      this.failed(describeSocketError(error, this.where));
      return;
    }
    this.socket = socket;
    const timeoutMs = this.tcp.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const timeout = this.later(
      () => this.failed(new SourceError(`${this.where} did not accept a connection within ${Math.round(timeoutMs / 1000)} s; retrying.`, 'timeout')),
      timeoutMs,
    );
    socket.on('connect', () => {
      if (socket !== this.socket) return;
      this.cancel(timeout);
      this.opened();
    });
    socket.on('data', (chunk: Buffer) => {
      if (socket === this.socket) this.received(chunk);
    });
    socket.on('error', (error: Error) => {
      if (socket === this.socket) this.failed(describeSocketError(error, this.where));
    });
    socket.on('close', () => {
      if (socket === this.socket) this.failed(new SourceError(`${this.where} closed the connection; reconnecting.`, 'dropped'));
    });
  }

  protected disconnect(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    socket.removeAllListeners();
    // An unhandled 'error' event would crash Node-RED.
    socket.on('error', () => undefined);
    if (socket.closed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }
}
