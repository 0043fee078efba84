/**
 * One shared serial connection per port path. Several nodes may read the same P1 port (one
 * parses for a dashboard, one forwards to DSMR-reader); opening the port twice would fail with
 * "Cannot lock port" or split the bytes between two handles, so the pool hands every subscriber
 * the same byte stream and opens the port with the first subscriber and closes it with the last.
 *
 * The connection reopens after an unplug, an error or a silent line, tries the next speed in
 * `auto` mode until telegrams verify, and tells a deliberate close (deploy) apart from an unplug
 * with a `stopping` flag.
 */
import { ConnectionStateMachine, type ConnectionEvent, type ConnectionState } from '../p1-source/connection-state';
import { ProblemReporter, safely, SourceError, type P1Source, type SourceListener, type SourceStateInfo } from '../p1-source/source';
import { systemClock, type Clock } from '../runtime/clock';
import { describeSerialError } from './errors';
import { describeMode, describeSettings, sameMode, type SerialMode, type SerialSettings } from './settings';

/** The part of serialport's `SerialPort` (and `SerialPortMock`) the pool uses. */
export interface SerialPortLike {
  readonly isOpen: boolean;
  open(callback: (error: Error | null) => void): void;
  close(callback?: (error: Error | null) => void): void;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'close', listener: (error?: Error | null) => void): unknown;
  removeAllListeners(event?: string): unknown;
}

export interface SerialOpenOptions extends SerialSettings {
  path: string;
  autoOpen: false;
}

export type SerialPortFactory = (options: SerialOpenOptions) => SerialPortLike;

/**
 * Watches the bytes of one `auto` attempt. Returns the bytes from the first valid telegram on
 * (so that telegram is not lost) once one verifies, otherwise `undefined`.
 */
export interface BaudDetector {
  push(chunk: Buffer): Buffer | undefined;
}

export interface SerialPoolOptions {
  createPort: SerialPortFactory;
  clock?: Clock;
  /** Wait before reopening after a failure or unplug. Default 5 s. */
  reconnectMs?: number;
  /** How long an `auto` attempt may go without a valid telegram before the next speed is tried. Default 25 s (DSMR 4 sends every 10 s). */
  detectWindowMs?: number;
  /** A close that never calls back must not hang a deploy. Default 3 s. */
  closeTimeoutMs?: number;
  /** Required for `auto` mode. */
  createDetector?: () => BaudDetector;
}

export interface SerialSubscription {
  path: string;
  mode: SerialMode;
  /** No data for this long while open counts as a fault and reopens the port; 0 turns it off. */
  silenceMs?: number;
  /** For `auto` mode; overrides the pool's detector (e.g. to pass the node's decryption key). */
  createDetector?: () => BaudDetector;
}

const DEFAULT_RECONNECT_MS = 5000;
const DEFAULT_DETECT_WINDOW_MS = 25000;
const DEFAULT_CLOSE_TIMEOUT_MS = 3000;

export class SerialPortPool {
  private readonly connections = new Map<string, SerialConnection>();
  /** Connections still releasing their port; a new one on the same path waits for them. */
  private readonly releasing = new Map<string, Promise<void>>();

  constructor(private readonly options: SerialPoolOptions) {}

  /** Starts (or joins) the connection for `request.path`. */
  subscribe(request: SerialSubscription, listener: SourceListener): P1Source {
    let connection = this.connections.get(request.path);
    if (!connection) {
      connection = new SerialConnection(request, this.options, this.releasing.get(request.path));
      this.connections.set(request.path, connection);
    } else if (!sameMode(connection.mode, request.mode)) {
      safely(() =>
        listener.onWarning?.(
          `Serial port ${request.path} is already open as ${describeMode(connection!.mode)} by another node; this node shares that connection instead of ${describeMode(request.mode)}.`,
        ),
      );
    }
    const joined = connection;
    joined.add(listener);
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
    return [...this.connections.keys()];
  }

  private leave(connection: SerialConnection, listener: SourceListener): Promise<void> {
    if (!connection.remove(listener)) return Promise.resolve();
    if (this.connections.get(connection.path) === connection) this.connections.delete(connection.path);
    const released = connection.stop().finally(() => {
      if (this.releasing.get(connection.path) === released) this.releasing.delete(connection.path);
    });
    this.releasing.set(connection.path, released);
    return released;
  }
}

class SerialConnection {
  readonly path: string;
  readonly mode: SerialMode;
  private readonly machine = new ConnectionStateMachine();
  private readonly listeners = new Set<SourceListener>();
  private readonly clock: Clock;
  private readonly problems: ProblemReporter;
  private readonly silenceMs: number;
  private readonly createDetector: (() => BaudDetector) | undefined;
  private port: SerialPortLike | undefined;
  private openInFlight = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private finishStop: (() => void) | undefined;
  private retryTimer: unknown;
  private silenceTimer: unknown;
  private detectTimer: unknown;
  private lastDataAt = 0;
  private candidateIndex = 0;
  private detector: BaudDetector | undefined;
  private detected = false;
  private failedBefore = false;
  private lastError: Error | undefined;
  /** Ports being closed; `stop()` resolves only after all of them let go. */
  private readonly releases = new Set<Promise<void>>();
  private readonly warned = new Set<string>();

  constructor(
    request: SerialSubscription,
    private readonly options: SerialPoolOptions,
    previousRelease: Promise<void> | undefined,
  ) {
    this.path = request.path;
    this.mode = request.mode;
    this.silenceMs = Math.max(0, request.silenceMs ?? 0);
    this.clock = options.clock ?? systemClock;
    this.problems = new ProblemReporter((error) => this.each((listener) => listener.onProblem(error)));
    this.createDetector = request.createDetector ?? options.createDetector;
    if (this.mode.kind === 'auto' && !this.createDetector) throw new Error('auto mode needs a telegram detector');
    this.apply('start');
    // A redeploy closes the old node before the new one starts, but if the old handle is still
    // releasing the port, opening now would fail with "Cannot lock port".
    if (previousRelease) void previousRelease.then(() => this.openPort());
    else this.openPort();
  }

  get state(): ConnectionState {
    return this.machine.state;
  }

  add(listener: SourceListener): void {
    this.listeners.add(listener);
    safely(() => listener.onState(this.state, this.info()));
  }

  /** Returns true when the last listener left. */
  remove(listener: SourceListener): boolean {
    this.listeners.delete(listener);
    return this.listeners.size === 0;
  }

  stop(): Promise<void> {
    if (this.stopped) return this.stopped;
    this.stopping = true;
    this.clearTimers();
    this.apply('stop');
    this.stopped = new Promise<void>((resolve) => {
      this.finishStop = () => {
        this.finishStop = undefined;
        this.port = undefined;
        void Promise.all([...this.releases]).then(() => {
          this.machine.apply('stopped');
          resolve();
        });
      };
    });
    const port = this.port;
    // An open in flight finishes in its callback, which sees `stopping` and closes the port.
    if (!this.openInFlight) {
      if (port) void this.release(port).then(() => this.finishStop?.());
      else this.finishStop?.();
    }
    return this.stopped;
  }

  private settings(): SerialSettings {
    return this.mode.kind === 'fixed' ? this.mode.settings : this.mode.candidates[this.candidateIndex];
  }

  private info(): SourceStateInfo {
    const info: SourceStateInfo = { detail: describeSettings(this.settings()), retrying: this.failedBefore };
    if (this.state === 'open' && this.mode.kind === 'auto' && !this.detected) info.detecting = true;
    if (this.state === 'waiting-to-retry') {
      info.error = this.lastError;
      info.retryInMs = this.options.reconnectMs ?? DEFAULT_RECONNECT_MS;
    }
    return info;
  }

  private each(action: (listener: SourceListener) => void): void {
    for (const listener of [...this.listeners]) safely(() => action(listener));
  }

  private apply(event: ConnectionEvent): boolean {
    if (this.machine.apply(event) === undefined) return false;
    const info = this.info();
    this.each((listener) => listener.onState(this.state, info));
    return true;
  }

  private openPort(): void {
    if (this.stopping || this.state !== 'opening') return;
    const settings = this.settings();
    let port: SerialPortLike;
    try {
      port = this.options.createPort({ path: this.path, ...settings, autoOpen: false });
    } catch (error) {
      this.failed(error);
      return;
    }
    this.port = port;
    port.on('data', (chunk: Buffer) => {
      if (port === this.port) this.onData(chunk);
    });
    port.on('error', (error: Error) => {
      if (port === this.port && !this.openInFlight) this.lost(port, error);
    });
    port.on('close', (error?: Error | null) => {
      if (port === this.port && !this.openInFlight) this.lost(port, error ?? new Error('the port closed unexpectedly'));
    });
    this.openInFlight = true;
    try {
      port.open((error) => this.onOpened(port, error));
    } catch (error) {
      this.onOpened(port, error instanceof Error ? error : new Error(String(error)));
    }
  }

  private onOpened(port: SerialPortLike, error: Error | null): void {
    if (!this.openInFlight || port !== this.port) return;
    this.openInFlight = false;
    if (this.stopping) {
      void this.release(port).then(() => this.finishStop?.());
      return;
    }
    if (error) {
      this.detach(port);
      this.port = undefined;
      this.failed(error);
      return;
    }
    this.lastDataAt = this.clock.now();
    if (this.mode.kind === 'auto' && !this.detected) {
      this.detector = this.createDetector!();
      this.detectTimer = this.clock.setTimer(() => this.tryNextSpeed(), this.options.detectWindowMs ?? DEFAULT_DETECT_WINDOW_MS);
    }
    this.armSilenceWatchdog(this.silenceMs);
    this.apply('opened');
  }

  private onData(chunk: Buffer): void {
    this.lastDataAt = this.clock.now();
    if (this.detector) {
      const fromTelegram = this.detector.push(chunk);
      if (!fromTelegram) return;
      this.detector = undefined;
      this.detected = true;
      this.clock.clearTimer(this.detectTimer);
      this.detectTimer = undefined;
      const info = this.info();
      this.each((listener) => listener.onState(this.state, info));
      chunk = fromTelegram;
    }
    if (this.failedBefore) {
      this.failedBefore = false;
      this.lastError = undefined;
    }
    this.problems.reset();
    this.each((listener) => listener.onData(chunk));
  }

  private tryNextSpeed(): void {
    this.detectTimer = undefined;
    if (this.stopping || this.mode.kind !== 'auto' || !this.port) return;
    const tried = describeSettings(this.settings());
    this.candidateIndex = (this.candidateIndex + 1) % this.mode.candidates.length;
    // Trying the other speed is normal in auto mode, so it is a warning (once per text), not a fault.
    const text = `No valid telegram on ${this.path} at ${tried}; trying ${describeSettings(this.settings())}.`;
    if (!this.warned.has(text)) {
      this.warned.add(text);
      this.each((listener) => listener.onWarning?.(text));
    }
    const port = this.port;
    this.detector = undefined;
    this.clock.clearTimer(this.silenceTimer);
    this.port = undefined;
    this.apply('reopen');
    void this.release(port).then(() => this.openPort());
  }

  private armSilenceWatchdog(delay: number): void {
    if (this.silenceMs <= 0) return;
    this.silenceTimer = this.clock.setTimer(() => {
      this.silenceTimer = undefined;
      if (this.stopping || this.state !== 'open' || !this.port) return;
      const quiet = this.clock.now() - this.lastDataAt;
      if (quiet < this.silenceMs) {
        this.armSilenceWatchdog(this.silenceMs - quiet);
        return;
      }
      this.lost(
        this.port,
        new SourceError(
          `No data from serial port ${this.path} for ${Math.round(this.silenceMs / 1000)} s. Check the P1 cable and that the meter's P1 port is enabled; reopening.`,
          'no data',
        ),
      );
    }, delay);
  }

  private failed(error: unknown): void {
    const problem = describeSerialError(error, this.path);
    this.lastError = problem;
    this.failedBefore = true;
    this.problems.problem(problem);
    if (this.apply('failed')) this.scheduleRetry();
  }

  private lost(port: SerialPortLike, error: unknown): void {
    if (this.stopping || this.state !== 'open') return;
    const problem = error instanceof SourceError ? error : describeSerialError(error, this.path);
    this.lastError = problem;
    this.failedBefore = true;
    this.clearTimers();
    this.detector = undefined;
    this.port = undefined;
    this.problems.problem(problem);
    this.apply('lost');
    void this.release(port);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.clock.clearTimer(this.retryTimer);
    this.retryTimer = this.clock.setTimer(() => {
      this.retryTimer = undefined;
      if (this.apply('retry')) this.openPort();
    }, this.options.reconnectMs ?? DEFAULT_RECONNECT_MS);
  }

  private clearTimers(): void {
    this.clock.clearTimer(this.retryTimer);
    this.clock.clearTimer(this.silenceTimer);
    this.clock.clearTimer(this.detectTimer);
    this.retryTimer = this.silenceTimer = this.detectTimer = undefined;
  }

  /** Stops listening to a port but keeps an error handler: an unhandled 'error' event would crash Node-RED. */
  private detach(port: SerialPortLike): void {
    port.removeAllListeners();
    port.on('error', () => undefined);
  }

  /** Closes a port we no longer use; resolves once the OS has let go of it (or after a timeout). */
  private release(port: SerialPortLike): Promise<void> {
    this.detach(port);
    const released = new Promise<void>((resolve) => {
      if (!port.isOpen) {
        resolve();
        return;
      }
      const guard = this.clock.setTimer(resolve, this.options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
      const finish = (): void => {
        this.clock.clearTimer(guard);
        resolve();
      };
      try {
        port.close(finish);
      } catch {
        finish();
      }
    });
    this.releases.add(released);
    void released.then(() => this.releases.delete(released));
    return released;
  }
}
