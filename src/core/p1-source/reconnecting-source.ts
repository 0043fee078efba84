/**
 * The one life cycle of every P1 connection (serial port, TCP socket, replayed file): open,
 * hand on bytes, notice a broken or silent line, wait with backoff, reopen, and close for good on
 * deploy. A driver only says how to open and release its kind of connection and calls `opened`,
 * `received` and `failed` when its events arrive; the state, the retry timer, the reported
 * problems and the silence watchdog live here once.
 *
 * Silence: a serial driver can miss the `close` event of an unplugged cable and a Wi-Fi dongle can
 * keep a dead TCP connection half-open, so the line itself is watched. Without a configured
 * timeout it is learned from the meter (`TelegramCadence`: 3× its interval, at least 5 s, 30 s
 * until the interval is known). Before the line is reopened the status shows that the next
 * telegram is late.
 */
import { Backoff, RECONNECT_BACKOFF, type BackoffPolicy } from '../runtime/backoff';
import { systemClock, type Clock, type TimerHandle } from '../runtime/clock';
import { TelegramCadence } from './cadence';
import { ConnectionStateMachine, type ConnectionEvent, type ConnectionState } from './connection-state';
import { ProblemReporter, safely, SourceError, type P1Source, type SourceListener, type SourceStateInfo } from './source';

export interface ReconnectingSourceOptions {
  clock?: Clock;
  /**
   * Milliseconds without any byte after which an open connection counts as lost and is reopened:
   * undefined = learned from the meter's interval, 0 = never.
   */
  silenceMs?: number;
  /** False for sources that cannot go silent (a replayed file): no watchdog, no "late" status. */
  watchLine?: boolean;
  backoff?: BackoffPolicy;
}

export abstract class ReconnectingSource implements P1Source {
  protected readonly clock: Clock;
  private readonly machine = new ConnectionStateMachine();
  private readonly listeners = new Set<SourceListener>();
  private readonly problems: ProblemReporter;
  private readonly backoff: Backoff;
  private readonly cadence = new TelegramCadence();
  /** Timers of the current attempt (connect timeout, watchdog, replay, speed detection): cleared when it ends. */
  private readonly attemptTimers = new Set<TimerHandle>();
  private watchdog: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  /** Every release still in progress; a retry and `close()` wait for them (a port can be locked until then). */
  private releasing: Promise<void> = Promise.resolve();
  private lastError: Error | undefined;
  private retryInMs: number | undefined;
  private lastByteAt = 0;
  private openedAt = 0;
  private late = false;
  private stopRequested = false;
  private closed: Promise<void> | undefined;

  constructor(private readonly options: ReconnectingSourceOptions) {
    this.clock = options.clock ?? systemClock;
    this.backoff = new Backoff(options.backoff ?? RECONNECT_BACKOFF);
    this.problems = new ProblemReporter((error) => this.each((listener) => listener.onProblem(error)));
  }

  /** Starts an attempt: the state is `opening`; call `opened()` or `failed()` when it is decided. */
  protected abstract connect(): void;
  /** Lets go of the current port/socket/file; resolves once the system has released it. */
  protected abstract disconnect(): Promise<void>;
  /** The line in use, e.g. `115200 8N1` or `192.168.1.20:23`. */
  protected abstract detail(): string;
  /** The error when the line stayed silent for `seconds`. */
  protected abstract silenceError(seconds: number): SourceError;
  /** What a driver adds to the state info (e.g. that it is detecting the speed). */
  protected extraInfo(): Partial<SourceStateInfo> {
    return {};
  }

  get state(): ConnectionState {
    return this.machine.state;
  }

  protected get stopping(): boolean {
    return this.stopRequested;
  }

  /** Tells a listener about the connection from now on (the pool shares one connection between nodes). */
  addListener(listener: SourceListener): void {
    this.listeners.add(listener);
    if (this.state !== 'idle') safely(() => listener.onState(this.state, this.info()));
  }

  /** Returns true when the last listener left. */
  removeListener(listener: SourceListener): boolean {
    this.listeners.delete(listener);
    return this.listeners.size === 0;
  }

  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.stopRequested = true;
    this.clock.clearTimer(this.retryTimer);
    this.retryTimer = undefined;
    this.endAttempt();
    this.apply('stop');
    this.track(this.disconnect());
    this.closed = this.releasing.then(() => {
      this.apply('stopped');
    });
    return this.closed;
  }

  protected start(): void {
    if (this.apply('start')) this.connect();
  }

  /** The attempt succeeded. Returns false when it came too late (closing), so the driver sets nothing up. */
  protected opened(): boolean {
    if (this.stopping || this.state !== 'opening') return false;
    this.openedAt = this.lastByteAt = this.clock.now();
    this.late = false;
    this.cadence.reconnected();
    this.apply('opened');
    this.armWatchdog();
    return true;
  }

  /** Bytes arrived but are not handed on (an `auto` port still looking for its speed). */
  protected heard(): void {
    this.lastByteAt = this.clock.now();
  }

  /** Bytes for the listeners. */
  protected received(chunk: Buffer): void {
    if (this.state !== 'open') return;
    this.heard();
    // A connection counts as healthy once bytes flow; some dongles accept and drop at once.
    this.backoff.reset();
    this.lastError = undefined;
    this.problems.reset();
    let telegrams = 0;
    this.each((listener) => {
      telegrams = Math.max(telegrams, Number(listener.onData(chunk) ?? 0));
    });
    // A listener may have closed the source while handling the bytes.
    if (telegrams === 0 || this.state !== 'open') return;
    this.cadence.telegram(this.lastByteAt);
    this.armWatchdog();
    if (this.late) {
      this.late = false;
      this.announce();
    }
  }

  /** The attempt failed, or the open connection broke: release it and try again after the backoff delay. */
  protected failed(error: SourceError): void {
    if (this.stopping || (this.state !== 'open' && this.state !== 'opening')) return;
    const event: ConnectionEvent = this.state === 'open' ? 'lost' : 'failed';
    this.endAttempt();
    this.lastError = error;
    this.retryInMs = this.backoff.nextDelay();
    this.problems.problem(error);
    if (!this.apply(event)) return;
    this.track(this.disconnect());
    this.retryTimer = this.clock.setTimer(() => {
      this.retryTimer = undefined;
      void this.releasing.then(() => {
        if (!this.stopping && this.apply('retry')) this.connect();
      });
    }, this.retryInMs);
  }

  /** Reopens at once with other settings (the next speed in `auto` mode); not a failure. */
  protected reopen(): void {
    if (this.stopping || !this.apply('reopen')) return;
    this.endAttempt();
    this.track(this.disconnect());
    void this.releasing.then(() => {
      if (!this.stopping && this.state === 'opening') this.connect();
    });
  }

  /** A timer of the current attempt: it never fires after the attempt ended or the source closed. */
  protected later(callback: () => void, ms: number): TimerHandle {
    const handle = this.clock.setTimer(() => {
      this.attemptTimers.delete(handle);
      callback();
    }, ms);
    this.attemptTimers.add(handle);
    return handle;
  }

  protected cancel(handle: TimerHandle | undefined): void {
    this.clock.clearTimer(handle);
    this.attemptTimers.delete(handle);
  }

  protected warn(text: string): void {
    this.each((listener) => listener.onWarning?.(text));
  }

  /** Tells the listeners the current state again, because its info changed. */
  protected announce(): void {
    const info = this.info();
    this.each((listener) => listener.onState(this.state, info));
  }

  private info(): SourceStateInfo {
    const info: SourceStateInfo = { detail: this.detail(), retrying: this.backoff.failures > 0, ...this.extraInfo() };
    if (this.state === 'waiting-to-retry') {
      info.error = this.lastError;
      info.retryInMs = this.retryInMs;
    }
    if (this.state === 'open' && this.late) info.lateSince = this.cadence.lastTelegramAt;
    return info;
  }

  private apply(event: ConnectionEvent): boolean {
    if (this.machine.apply(event) === undefined) return false;
    this.announce();
    return true;
  }

  private each(action: (listener: SourceListener) => void): void {
    for (const listener of [...this.listeners]) safely(() => action(listener));
  }

  private track(release: Promise<void>): void {
    const settled = release.catch(() => undefined);
    this.releasing = Promise.all([this.releasing, settled]).then(() => undefined);
  }

  private endAttempt(): void {
    for (const handle of this.attemptTimers) this.clock.clearTimer(handle);
    this.attemptTimers.clear();
    this.watchdog = undefined;
  }

  private silenceMs(): number {
    return this.options.silenceMs ?? this.cadence.silenceTimeoutMs();
  }

  /** One timer for the next thing to check: the telegram becoming late, or the line being silent too long. */
  private armWatchdog(): void {
    if (this.options.watchLine === false) return;
    this.cancel(this.watchdog);
    this.watchdog = undefined;
    const dues: number[] = [];
    const silenceMs = this.silenceMs();
    if (silenceMs > 0) dues.push(this.lastByteAt + silenceMs);
    const lateAt = this.lateAt();
    if (lateAt !== undefined) dues.push(lateAt);
    if (dues.length === 0) return;
    this.watchdog = this.later(() => this.checkLine(), Math.max(0, Math.min(...dues) - this.clock.now()));
  }

  /**
   * When the next telegram becomes late: counted from the last one, or from the moment the
   * connection opened if that was later (a reopened port gets the meter's interval first).
   * Undefined once late, or before any telegram (there is no time to show yet).
   */
  private lateAt(): number | undefined {
    const lastTelegramAt = this.cadence.lastTelegramAt;
    if (this.late || lastTelegramAt === undefined) return undefined;
    return Math.max(lastTelegramAt, this.openedAt) + this.cadence.lateAfterMs();
  }

  private checkLine(): void {
    this.watchdog = undefined;
    if (this.stopping || this.state !== 'open') return;
    const now = this.clock.now();
    const silenceMs = this.silenceMs();
    if (silenceMs > 0 && now - this.lastByteAt >= silenceMs) {
      this.failed(this.silenceError(Math.round(silenceMs / 1000)));
      return;
    }
    const lateAt = this.lateAt();
    if (lateAt !== undefined && now >= lateAt) {
      this.late = true;
      this.announce();
    }
    this.armWatchdog();
  }
}
