/**
 * One serial port read as a P1 source. Reconnecting, backoff, the silence watchdog (serialport's
 * native binding can miss the `close` event of an unplug, so only silence tells) and closing come
 * from `ReconnectingSource`; this file opens and releases ports and, in `auto` mode, tries the
 * next speed until telegrams verify.
 */
import type { Clock, TimerHandle } from '../../runtime/clock';
import type { BaudDetector } from '../detector';
import { ReconnectingSource, type ReconnectingSourceOptions } from '../reconnecting-source';
import { SourceError, type SourceStateInfo } from '../source';
import { describeSerialError } from './errors';
import { describeSettings, type SerialMode, type SerialSettings } from './settings';

/** The part of serialport's `SerialPort` (and `SerialPortMock`) the source uses. */
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

export interface SerialSourceOptions extends ReconnectingSourceOptions {
  path: string;
  mode: SerialMode;
  createPort: SerialPortFactory;
  /** How long an `auto` attempt may go without a valid telegram before the next speed is tried. Default 25 s (DSMR 4 sends every 10 s). */
  detectWindowMs?: number;
  /** A close that never calls back must not hang a deploy. Default 3 s. */
  closeTimeoutMs?: number;
  /** Required for `auto` mode. */
  createDetector?: () => BaudDetector;
  /** A previous connection on this path still releasing the port: opening now would fail with "Cannot lock port". */
  after?: Promise<void>;
}

const DEFAULT_DETECT_WINDOW_MS = 25_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 3_000;

/** Stops listening to a port but keeps an error handler: an unhandled 'error' event would crash Node-RED. */
function detach(port: SerialPortLike): void {
  port.removeAllListeners();
  port.on('error', () => undefined);
}

/** Closes a port; resolves once the OS has let go of it, or after `timeoutMs` if close never calls back. */
function closePort(port: SerialPortLike, clock: Clock, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!port.isOpen) {
      resolve();
      return;
    }
    const guard = clock.setTimer(resolve, timeoutMs);
    const finish = (): void => {
      clock.clearTimer(guard);
      resolve();
    };
    try {
      port.close(finish);
    } catch {
      finish();
    }
  });
}

export class SerialSource extends ReconnectingSource {
  readonly path: string;
  readonly mode: SerialMode;
  private port: SerialPortLike | undefined;
  /** Resolves when the current port's open callback came (either way); a port is closed only after that. */
  private portOpened: Promise<void> = Promise.resolve();
  private after: Promise<void> | undefined;
  private candidateIndex = 0;
  private detector: BaudDetector | undefined;
  private detectTimer: TimerHandle | undefined;
  private detected = false;
  private readonly warned = new Set<string>();

  constructor(private readonly serial: SerialSourceOptions) {
    super(serial);
    this.path = serial.path;
    this.mode = serial.mode;
    this.after = serial.after;
    if (this.mode.kind === 'auto' && !serial.createDetector) throw new Error('auto mode needs a telegram detector');
    this.start();
  }

  protected detail(): string {
    return describeSettings(this.settings());
  }

  protected override extraInfo(): Partial<SourceStateInfo> {
    return this.state === 'open' && this.mode.kind === 'auto' && !this.detected ? { detecting: true } : {};
  }

  protected silenceError(seconds: number): SourceError {
    return new SourceError(
      `No data from serial port ${this.path} for ${seconds} s. Check the P1 cable and that the meter's P1 port is enabled; reopening.`,
      'no data',
    );
  }

  protected connect(): void {
    const after = this.after;
    if (after) {
      this.after = undefined;
      void after.then(() => {
        if (!this.stopping && this.state === 'opening') this.connect();
      });
      return;
    }
    let port: SerialPortLike;
    try {
      port = this.serial.createPort({ path: this.path, ...this.settings(), autoOpen: false });
    } catch (error) {
      this.failed(describeSerialError(error, this.path));
      return;
    }
    this.port = port;
    port.on('data', (chunk: Buffer) => {
      if (port === this.port) this.onChunk(chunk);
    });
    const broken = (error?: Error | null): void => {
      if (port === this.port && this.state === 'open') this.failed(describeSerialError(error ?? new Error('the port closed unexpectedly'), this.path));
    };
    port.on('error', broken);
    port.on('close', broken);
    this.portOpened = new Promise<void>((resolve) => {
      const done = (error: Error | null): void => {
        resolve();
        if (port === this.port) this.onOpened(error);
      };
      try {
        port.open(done);
      } catch (error) {
        done(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  protected disconnect(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    this.detector = undefined;
    if (!port) return Promise.resolve();
    detach(port);
    return this.portOpened.then(() => closePort(port, this.clock, this.serial.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS));
  }

  private settings(): SerialSettings {
    return this.mode.kind === 'fixed' ? this.mode.settings : this.mode.candidates[this.candidateIndex];
  }

  private onOpened(error: Error | null): void {
    if (error) {
      this.failed(describeSerialError(error, this.path));
      return;
    }
    if (!this.opened()) return;
    if (this.mode.kind === 'auto' && !this.detected) {
      this.detector = this.serial.createDetector!();
      this.detectTimer = this.later(() => this.tryNextSpeed(), this.serial.detectWindowMs ?? DEFAULT_DETECT_WINDOW_MS);
    }
  }

  private onChunk(chunk: Buffer): void {
    if (!this.detector) {
      this.received(chunk);
      return;
    }
    this.heard();
    const fromTelegram = this.detector.push(chunk);
    if (!fromTelegram) return;
    // The speed is right: stop trying others, from now on and after every reopen.
    this.detector = undefined;
    this.detected = true;
    this.cancel(this.detectTimer);
    this.announce();
    this.received(fromTelegram);
  }

  private tryNextSpeed(): void {
    if (this.mode.kind !== 'auto') return;
    const tried = describeSettings(this.settings());
    this.candidateIndex = (this.candidateIndex + 1) % this.mode.candidates.length;
    // Trying the other speed is normal in auto mode, so it is a warning (once per text), not a fault.
    const text = `No valid telegram on ${this.path} at ${tried}; trying ${describeSettings(this.settings())}.`;
    if (!this.warned.has(text)) {
      this.warned.add(text);
      this.warn(text);
    }
    this.reopen();
  }
}
