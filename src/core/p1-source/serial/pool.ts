/**
 * One shared serial connection per port path. Several nodes may read the same P1 port (one
 * parses for a dashboard, one forwards to DSMR-reader); opening the port twice would fail with
 * "Cannot lock port" or split the bytes between two handles, so the pool hands every subscriber
 * the same byte stream, opens the port with the first subscriber and closes it with the last.
 */
import type { Clock } from '../../runtime/clock';
import type { BaudDetector } from '../detector';
import { safely, type P1Source, type SourceListener } from '../source';
import { SerialSource, type SerialPortFactory } from './serial-source';
import { describeMode, sameMode, type SerialMode } from './settings';

export interface SerialPoolOptions {
  createPort: SerialPortFactory;
  clock?: Clock;
  /** How long an `auto` attempt may go without a valid telegram before the next speed is tried. Default 25 s. */
  detectWindowMs?: number;
  /** A close that never calls back must not hang a deploy. Default 3 s. */
  closeTimeoutMs?: number;
}

export interface SerialSubscription {
  path: string;
  mode: SerialMode;
  /** No data for this long while open reopens the port: undefined = learned from the meter, 0 = never. */
  silenceMs?: number;
  /** Recognises valid telegrams in `auto` mode (with the node's decryption key). */
  createDetector?: () => BaudDetector;
}

export class SerialPortPool {
  private readonly sources = new Map<string, SerialSource>();
  /** Connections still releasing their port; a new one on the same path waits for them. */
  private readonly releasing = new Map<string, Promise<void>>();

  constructor(private readonly options: SerialPoolOptions) {}

  /** Starts (or joins) the connection for `request.path`. */
  subscribe(request: SerialSubscription, listener: SourceListener): P1Source {
    let source = this.sources.get(request.path);
    if (!source) {
      source = new SerialSource({ ...this.options, ...request, after: this.releasing.get(request.path) });
      this.sources.set(request.path, source);
    } else if (!sameMode(source.mode, request.mode)) {
      const shared = source.mode;
      safely(() =>
        listener.onWarning?.(
          `Serial port ${request.path} is already open as ${describeMode(shared)} by another node; this node shares that connection instead of ${describeMode(request.mode)}.`,
        ),
      );
    }
    const joined = source;
    joined.addListener(listener);
    let closed: Promise<void> | undefined;
    return {
      get state() {
        return joined.state;
      },
      close: () => {
        closed ??= this.leave(joined, listener);
        return closed;
      },
    };
  }

  /** Paths with an open or opening connection. */
  get paths(): string[] {
    return [...this.sources.keys()];
  }

  private leave(source: SerialSource, listener: SourceListener): Promise<void> {
    if (!source.removeListener(listener)) return Promise.resolve();
    if (this.sources.get(source.path) === source) this.sources.delete(source.path);
    const released = source.close().finally(() => {
      if (this.releasing.get(source.path) === released) this.releasing.delete(source.path);
    });
    this.releasing.set(source.path, released);
    return released;
  }
}
