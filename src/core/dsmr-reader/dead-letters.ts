/**
 * The dead-letter file: items DSMR-reader refused, or failed on the same way attempt after
 * attempt, kept next to the queue file so the queue can move on and nothing is lost.
 *
 * One JSON object per line (JSON lines), readable with any editor or `jq`. Each line is written
 * with complete writes (a short write is continued, never left half) and made durable with fsync
 * before `append` resolves; only then does the worker remove the item from the queue, so a crash
 * leaves an item in both files at worst, never in neither. A crash during a write leaves a torn
 * last line without its newline: it is cut off on open (the item is still in the queue then).
 * `retry-dead-letters` reads every letter back into the queue and empties the file.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { syncDirectory, writeFully } from '../durable-files';

export interface DeadLetter<T> {
  /** When the item was moved here, ISO 8601. */
  deadAt: string;
  /** When it was queued, ISO 8601. */
  queuedAt: string;
  /** Attempts made before it was moved here. */
  attempts: number;
  /** DSMR-reader's HTTP status, when it answered. */
  status?: number;
  /** DSMR-reader's own text, sanitised (never the key; an HTML page reduced to its title). */
  answer?: string;
  /** What the node reported, with the hint for the user. */
  reason: string;
  /** The queued item itself, ready to be queued again. */
  item: T;
}

export class DeadLetterError extends Error {
  readonly code = 'DEAD_LETTER_IO';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeadLetterError';
  }
}

/** `<queue file without .queue>.dead-letters.jsonl`, next to the queue file. */
export function deadLetterFilePath(queueFile: string): string {
  return queueFile.replace(/\.queue$/, '') + '.dead-letters.jsonl';
}

export class DeadLetterFile<T> {
  private size = 0;
  private lines = 0;
  private handle: fsp.FileHandle | undefined;
  /** Every file operation runs on this chain, so lines never interleave. */
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly file: string,
    /** Most bytes the file may hold; a letter that does not fit is not written. */
    readonly maxBytes: number,
  ) {}

  /** Opens the file (creating nothing yet) and cuts off a torn last line. */
  static async open<T>(file: string, maxBytes: number): Promise<DeadLetterFile<T>> {
    const letters = new DeadLetterFile<T>(file, maxBytes);
    await letters.load();
    return letters;
  }

  /** Letters in the file (damaged lines included). */
  get count(): number {
    return this.lines;
  }

  get bytes(): number {
    return this.size;
  }

  /** Appends one letter durably. Resolves false (nothing written) when the file is full. */
  append(letter: DeadLetter<T>): Promise<boolean> {
    return this.exclusive(async () => {
      const line = Buffer.from(`${JSON.stringify(letter)}\n`, 'utf8');
      if (this.size + line.length > this.maxBytes) return false;
      const handle = await this.open();
      try {
        await writeFully(handle, line);
        await handle.sync();
      } catch (error) {
        // Never leave half a line for the next one to be glued to.
        await handle.truncate(this.size).catch(() => undefined);
        throw ioError('write to', this.file, error);
      }
      this.size += line.length;
      this.lines += 1;
      return true;
    });
  }

  /** Every letter in the file, oldest first; `damaged` counts lines that are not a letter. */
  readAll(): Promise<{ letters: DeadLetter<T>[]; damaged: number }> {
    return this.exclusive(async () => {
      const text = await readOrEmpty(this.file);
      const letters: DeadLetter<T>[] = [];
      let damaged = 0;
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        const letter = parseLetter<T>(line);
        if (letter) letters.push(letter);
        else damaged += 1;
      }
      return { letters, damaged };
    });
  }

  /** Empties the file, durably (after its letters were queued again). */
  clear(): Promise<void> {
    return this.exclusive(async () => {
      const handle = await this.open();
      try {
        await handle.truncate(0);
        await handle.sync();
      } catch (error) {
        throw ioError('empty', this.file, error);
      }
      this.size = 0;
      this.lines = 0;
    });
  }

  close(): Promise<void> {
    return this.exclusive(async () => {
      const handle = this.handle;
      this.handle = undefined;
      await handle?.close();
    });
  }

  private exclusive<R>(operation: () => Promise<R>): Promise<R> {
    const result = this.chain.then(operation, operation);
    this.chain = result.catch(() => undefined);
    return result;
  }

  private async open(): Promise<fsp.FileHandle> {
    if (this.handle) return this.handle;
    try {
      await fsp.mkdir(path.dirname(this.file), { recursive: true });
      const existed = await fsp.stat(this.file).then(() => true, () => false);
      this.handle = await fsp.open(this.file, 'a');
      // A new file's directory entry must be durable too, or a power cut could lose the file.
      if (!existed) await syncDirectory(path.dirname(this.file));
      return this.handle;
    } catch (error) {
      throw ioError('open', this.file, error);
    }
  }

  private async load(): Promise<void> {
    const text = await readOrEmpty(this.file);
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) {
      // A torn last line from a crash during a write: its item is still in the queue.
      const handle = await this.open();
      await handle.truncate(Buffer.byteLength(text.slice(0, end), 'utf8'));
      await handle.sync();
    }
    const kept = text.slice(0, end);
    this.size = Buffer.byteLength(kept, 'utf8');
    this.lines = kept.split('\n').filter((line) => line.trim() !== '').length;
  }
}

function parseLetter<T>(line: string): DeadLetter<T> | undefined {
  try {
    const letter = JSON.parse(line) as DeadLetter<T>;
    return letter && typeof letter === 'object' && letter.item !== undefined ? letter : undefined;
  } catch {
    return undefined;
  }
}

async function readOrEmpty(file: string): Promise<string> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw ioError('read', file, error);
  }
}

function ioError(action: string, file: string, error: unknown): DeadLetterError {
  const reason = (error as NodeJS.ErrnoException)?.code ?? (error as Error)?.message ?? String(error);
  return new DeadLetterError(`Could not ${action} the dead-letter file ${file} (${reason}). Check that the Node-RED user directory is writable and the disk is not full.`, { cause: error });
}
