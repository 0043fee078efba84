/**
 * Replays telegrams recorded in a file, one per interval, looping: for demos, tests and users
 * without a meter at hand. The file is framed with the same framer as live data, so a recording
 * made with `cat /dev/ttyUSB0 > p1.txt` (starting mid-telegram, any line endings) works as is.
 */
import { readFile } from 'node:fs/promises';
import { TelegramFramer } from '../dsmr';
import { ConnectionStateMachine, type ConnectionEvent, type ConnectionState } from './connection-state';
import { ProblemReporter, safely, SourceError, type P1Source, type SourceListener, type SourceStateInfo } from './source';
import { systemClock, type Clock } from '../runtime/clock';

export interface FileSourceOptions {
  path: string;
  intervalMs: number;
  /** Start again at the first telegram after the last. Default true. */
  loop?: boolean;
  maxTelegramBytes?: number;
  /** The recording holds Luxembourg 0xDB encrypted frames. */
  encrypted?: boolean;
  clock?: Clock;
  /** Wait before reading again when the file is missing or holds no telegram. Default 5 s. */
  reconnectMs?: number;
  readFile?: (path: string) => Promise<Buffer>;
}

const DEFAULT_RECONNECT_MS = 5000;

/** Splits a recording into whole telegrams; the bytes that are not part of one are counted. */
export function frameRecording(bytes: Buffer, maxTelegramBytes?: number, encrypted = false): { telegrams: Buffer[]; skipped: number } {
  const framer = new TelegramFramer({ maxTelegramBytes, encrypted });
  const telegrams: Buffer[] = [];
  let skipped = 0;
  // flush(): the last telegram of a file often ends at its CRC digits, with no line end after them.
  for (const event of [...framer.push(bytes), ...framer.flush()]) {
    if (event.type === 'telegram') telegrams.push(event.raw);
    else skipped += event.raw.length;
  }
  return { telegrams, skipped: skipped + framer.stats.skippedBytes };
}

export class FileSource implements P1Source {
  private readonly machine = new ConnectionStateMachine();
  private readonly clock: Clock;
  private readonly problems: ProblemReporter;
  private telegrams: Buffer[] = [];
  private position = 0;
  private timer: unknown;
  private stopping = false;
  private lastError: Error | undefined;

  constructor(
    private readonly options: FileSourceOptions,
    private readonly listener: SourceListener,
  ) {
    this.clock = options.clock ?? systemClock;
    this.problems = new ProblemReporter((error) => safely(() => listener.onProblem(error)));
    this.apply('start');
    void this.load();
  }

  get state(): ConnectionState {
    return this.machine.state;
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.apply('stop');
    this.apply('stopped');
  }

  private info(): SourceStateInfo {
    const info: SourceStateInfo = { detail: this.options.path };
    if (this.state === 'waiting-to-retry') {
      info.error = this.lastError;
      info.retryInMs = this.options.reconnectMs ?? DEFAULT_RECONNECT_MS;
    }
    return info;
  }

  private apply(event: ConnectionEvent): boolean {
    if (this.machine.apply(event) === undefined) return false;
    const info = this.info();
    safely(() => this.listener.onState(this.state, info));
    return true;
  }

  private async load(): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = await (this.options.readFile ?? readFile)(this.options.path);
    } catch (error) {
      const code = (error as { code?: unknown })?.code;
      this.fail(
        code === 'ENOENT'
          ? new SourceError(`Recorded telegram file ${this.options.path} does not exist. Check the path (it may use \${VARIABLES}).`, 'no file', { cause: error })
          : new SourceError(`Cannot read recorded telegram file ${this.options.path}: ${error instanceof Error ? error.message : String(error)}`, 'read error', { cause: error }),
      );
      return;
    }
    if (this.stopping) return;
    const { telegrams, skipped } = frameRecording(bytes, this.options.maxTelegramBytes, this.options.encrypted);
    if (telegrams.length === 0) {
      this.fail(new SourceError(`File ${this.options.path} holds no complete DSMR telegram (from a line starting with "/" to a line starting with "!").`, 'no telegram'));
      return;
    }
    if (skipped > 0) {
      safely(() => this.listener.onWarning?.(`${skipped} bytes of ${this.options.path} are not part of a complete telegram and are not replayed.`));
    }
    this.telegrams = telegrams;
    this.position = 0;
    this.problems.reset();
    this.apply('opened');
    this.emitNext();
  }

  private fail(error: SourceError): void {
    if (this.stopping) return;
    this.lastError = error;
    this.problems.problem(error);
    if (!this.apply('failed')) return;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      if (this.apply('retry')) void this.load();
    }, this.options.reconnectMs ?? DEFAULT_RECONNECT_MS);
  }

  private emitNext(): void {
    if (this.stopping) return;
    const telegram = this.telegrams[this.position];
    this.position += 1;
    if (this.position >= this.telegrams.length) {
      if (this.options.loop === false) {
        safely(() => this.listener.onData(telegram));
        return;
      }
      this.position = 0;
    }
    safely(() => this.listener.onData(telegram));
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.emitNext();
    }, Math.max(1, this.options.intervalMs));
  }
}
