/**
 * Replays telegrams recorded in a file, one per interval, looping: for demos, tests and users
 * without a meter at hand. The file is framed with the same framer as live data, so a recording
 * made with `cat /dev/ttyUSB0 > p1.txt` (starting mid-telegram, any line endings) works as is.
 * A missing or empty file is retried like an unplugged port (`ReconnectingSource`).
 */
import { readFile } from 'node:fs/promises';
import { TelegramFramer } from '../dsmr';
import { ReconnectingSource, type ReconnectingSourceOptions } from './reconnecting-source';
import { SourceError, type SourceListener } from './source';

export interface FileSourceOptions extends Omit<ReconnectingSourceOptions, 'silenceMs' | 'watchLine'> {
  path: string;
  intervalMs: number;
  /** Start again at the first telegram after the last. Default true. */
  loop?: boolean;
  maxTelegramBytes?: number;
  /** The recording holds Luxembourg 0xDB encrypted frames. */
  encrypted?: boolean;
}

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

function readError(error: unknown, path: string): SourceError {
  if ((error as { code?: unknown })?.code === 'ENOENT') {
    return new SourceError(`Recorded telegram file ${path} does not exist. Check the path (it may use \${VARIABLES}).`, 'no file', { cause: error });
  }
  return new SourceError(`Cannot read recorded telegram file ${path}: ${error instanceof Error ? error.message : String(error)}`, 'read error', { cause: error });
}

export class FileSource extends ReconnectingSource {
  private telegrams: Buffer[] = [];
  private position = 0;

  constructor(
    private readonly file: FileSourceOptions,
    listener: SourceListener,
  ) {
    // A replay cannot go silent: no watchdog.
    super({ ...file, watchLine: false });
    this.addListener(listener);
    this.start();
  }

  protected detail(): string {
    return this.file.path;
  }

  protected silenceError(): SourceError {
    return new SourceError(`No telegram from ${this.file.path}.`, 'no data');
  }

  protected connect(): void {
    void this.load();
  }

  protected disconnect(): Promise<void> {
    this.telegrams = [];
    return Promise.resolve();
  }

  private async load(): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.file.path);
    } catch (error) {
      this.failed(readError(error, this.file.path));
      return;
    }
    if (this.state !== 'opening') return;
    const { telegrams, skipped } = frameRecording(bytes, this.file.maxTelegramBytes, this.file.encrypted);
    if (telegrams.length === 0) {
      this.failed(new SourceError(`File ${this.file.path} holds no complete DSMR telegram (from a line starting with "/" to a line starting with "!").`, 'no telegram'));
      return;
    }
    if (skipped > 0) this.warn(`${skipped} bytes of ${this.file.path} are not part of a complete telegram and are not replayed.`);
    if (!this.opened()) return;
    this.telegrams = telegrams;
    this.position = 0;
    this.emitNext();
  }

  private emitNext(): void {
    const telegram = this.telegrams[this.position];
    this.position += 1;
    const more = this.position < this.telegrams.length || this.file.loop !== false;
    if (this.position >= this.telegrams.length) this.position = 0;
    if (more) this.later(() => this.emitNext(), Math.max(1, this.file.intervalMs));
    this.received(telegram);
  }
}
