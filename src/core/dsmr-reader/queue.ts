/**
 * A persistent first-in-first-out queue in one append-only journal file.
 *
 * Every change is one line `<crc32 as 8 hex> <json>\n`: an `add` record carries an item, a
 * `done` record removes it after delivery and a `drop` record removes it when the queue was
 * full. Lines are written with a single append and made durable with fsync before the promise
 * resolves, so a crash (power cut included) leaves at worst a torn last line. Loading replays the
 * journal, skips any line whose checksum does not match (a torn tail or a damaged sector) and
 * then rewrites the live items into a fresh file through write-temp, fsync, rename. Because the
 * journal only grows, it is compacted the same way once it is mostly dead records, and simply
 * truncated whenever the queue becomes empty (the normal state while the server is reachable).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';

export interface QueueItem<T> {
  /** Increasing sequence number: the delivery order. */
  seq: number;
  /** Epoch ms when the item was queued. */
  queuedAt: number;
  data: T;
  /** Size of the item's journal line, which is what the byte limit counts. */
  bytes: number;
}

export interface QueueOptions {
  /** The journal file; its directory is created when missing. */
  file: string;
  /** Most items kept; the oldest are dropped beyond it. */
  maxItems: number;
  /** Most bytes kept (journal lines of live items); the oldest are dropped beyond it. */
  maxBytes: number;
  now?: () => number;
  /** Compact once dead records exceed this many bytes and outweigh the live ones. */
  compactAfterBytes?: number;
}

export interface QueueRecovery {
  /** Items found in the journal on open. */
  recovered: number;
  /** Lines skipped because their checksum or JSON was bad (a torn last line counts here). */
  damagedRecords: number;
  /** True when the file ended in the middle of a line (a crash during a write). */
  tornTail: boolean;
}

export type QueueErrorCode = 'QUEUE_IO' | 'ITEM_TOO_LARGE' | 'QUEUE_CLOSED';

export class QueueError extends Error {
  readonly code: QueueErrorCode;
  constructor(message: string, code: QueueErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueueError';
    this.code = code;
  }
}

type JournalRecord =
  | { t: 'head'; v: 1 }
  | { t: 'add'; s: number; at: number; d: unknown }
  | { t: 'done'; s: number }
  | { t: 'drop'; s: number };

const JOURNAL_VERSION = 1;

function encodeLine(record: JournalRecord): Buffer {
  const body = Buffer.from(JSON.stringify(record), 'utf8');
  const checksum = zlib.crc32(body).toString(16).padStart(8, '0');
  return Buffer.concat([Buffer.from(`${checksum} `, 'ascii'), body, Buffer.from('\n', 'ascii')]);
}

function decodeLine(line: Buffer): JournalRecord | undefined {
  if (line.length < 10 || line[8] !== 0x20) return undefined;
  const checksum = line.subarray(0, 8).toString('ascii');
  const body = line.subarray(9);
  if (zlib.crc32(body).toString(16).padStart(8, '0') !== checksum) return undefined;
  try {
    const record = JSON.parse(body.toString('utf8')) as JournalRecord;
    return record && typeof record === 'object' && typeof record.t === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}

export class PersistentQueue<T> {
  readonly file: string;
  readonly maxItems: number;
  readonly maxBytes: number;
  private readonly now: () => number;
  private readonly compactAfterBytes: number;
  /** Live items in order; `head` skips the ones already removed so removal is O(1). */
  private items: QueueItem<T>[] = [];
  private head = 0;
  private liveBytes = 0;
  private fileBytes = 0;
  private nextSeq = 1;
  private handle: fsp.FileHandle | undefined;
  /** Every file operation runs on this chain so lines never interleave. */
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private droppedTotal = 0;
  recovery: QueueRecovery = { recovered: 0, damagedRecords: 0, tornTail: false };

  private constructor(options: QueueOptions) {
    this.file = options.file;
    this.maxItems = Math.max(1, Math.floor(options.maxItems));
    this.maxBytes = Math.max(1, Math.floor(options.maxBytes));
    this.now = options.now ?? Date.now;
    this.compactAfterBytes = options.compactAfterBytes ?? 1024 * 1024;
  }

  /** Opens (or creates) the queue and recovers whatever a previous run left in it. */
  static async open<T>(options: QueueOptions): Promise<PersistentQueue<T>> {
    const queue = new PersistentQueue<T>(options);
    await queue.load();
    return queue;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.liveBytes;
  }

  /** Items dropped because the queue was full, since it was opened. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** The oldest item, which is the next to deliver. */
  peek(): QueueItem<T> | undefined {
    return this.items[this.head];
  }

  toArray(): QueueItem<T>[] {
    return this.items.slice(this.head);
  }

  /**
   * Appends an item and resolves once it is on disk. When the queue is full the oldest items are
   * dropped first (in the same durable write) and returned, so the caller can warn about them.
   */
  push(data: T): Promise<{ item: QueueItem<T>; dropped: QueueItem<T>[] }> {
    return this.exclusive(async () => {
      const seq = this.nextSeq;
      const queuedAt = this.now();
      const line = encodeLine({ t: 'add', s: seq, at: queuedAt, d: data });
      if (line.length > this.maxBytes) {
        throw new QueueError(`The item is ${line.length} bytes, more than the whole queue may hold (${this.maxBytes} bytes). Raise the queue size limit.`, 'ITEM_TOO_LARGE');
      }
      const dropped: QueueItem<T>[] = [];
      while (this.length > 0 && (this.length + 1 > this.maxItems || this.liveBytes + line.length > this.maxBytes)) {
        dropped.push(this.shiftHead());
      }
      const lines = [...dropped.map((item) => encodeLine({ t: 'drop', s: item.seq })), line];
      const item: QueueItem<T> = { seq, queuedAt, data, bytes: line.length };
      try {
        await this.append(Buffer.concat(lines));
      } catch (error) {
        // Keep memory and disk telling the same story: the dropped items are still on disk.
        this.unshiftHead(dropped);
        throw error;
      }
      this.nextSeq += 1;
      this.items.push(item);
      this.liveBytes += item.bytes;
      this.droppedTotal += dropped.length;
      return { item, dropped };
    });
  }

  /** Removes a delivered (or permanently refused) item; false when it was no longer queued. */
  remove(seq: number): Promise<boolean> {
    return this.exclusive(async () => {
      const first = this.peek();
      if (!first) return false;
      let index = this.head;
      if (first.seq !== seq) {
        index = this.items.findIndex((item, i) => i >= this.head && item.seq === seq);
        if (index < 0) return false;
      }
      if (this.length === 1) {
        // The last item leaves: an empty file says the same as any journal with nothing live.
        await this.truncate();
        this.shiftHead();
        return true;
      }
      await this.append(encodeLine({ t: 'done', s: seq }));
      if (index === this.head) this.shiftHead();
      else {
        const [item] = this.items.splice(index, 1);
        this.liveBytes -= item.bytes;
      }
      if (this.fileBytes - this.liveBytes > this.compactAfterBytes && this.fileBytes > 2 * this.liveBytes) {
        await this.rewrite();
      }
      return true;
    });
  }

  /** Waits for pending writes and closes the file; the items stay on disk for the next open. */
  close(): Promise<void> {
    return this.exclusive(async () => {
      this.closed = true;
      const handle = this.handle;
      this.handle = undefined;
      await handle?.close();
    }, true);
  }

  private shiftHead(): QueueItem<T> {
    const item = this.items[this.head];
    this.head += 1;
    this.liveBytes -= item.bytes;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return item;
  }

  private unshiftHead(items: QueueItem<T>[]): void {
    this.items = [...items, ...this.items.slice(this.head)];
    this.head = 0;
    for (const item of items) this.liveBytes += item.bytes;
  }

  private exclusive<R>(operation: () => Promise<R>, allowClosed = false): Promise<R> {
    const run = async (): Promise<R> => {
      if (this.closed && !allowClosed) throw new QueueError('The queue is closed because the node is stopping.', 'QUEUE_CLOSED');
      return operation();
    };
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  private async openHandle(): Promise<fsp.FileHandle> {
    if (this.handle) return this.handle;
    const existed = fs.existsSync(this.file);
    this.handle = await fsp.open(this.file, 'a');
    // A new file's directory entry must be durable too, or a power cut could lose the whole file.
    if (!existed) await syncDirectory(path.dirname(this.file));
    return this.handle;
  }

  private async append(bytes: Buffer): Promise<void> {
    try {
      const handle = await this.openHandle();
      await handle.write(bytes);
      await handle.datasync();
      this.fileBytes += bytes.length;
    } catch (error) {
      // A half-written line (disk full) would swallow the next record glued to it: cut it off.
      await this.handle?.truncate(this.fileBytes).catch(() => undefined);
      throw ioError('write to', this.file, error);
    }
  }

  private async truncate(): Promise<void> {
    try {
      const handle = await this.openHandle();
      await handle.truncate(0);
      await handle.datasync();
      this.fileBytes = 0;
    } catch (error) {
      throw ioError('truncate', this.file, error);
    }
  }

  /** Writes only the live items to a temporary file, makes it durable and renames it over the journal. */
  private async rewrite(): Promise<void> {
    const temp = `${this.file}.tmp`;
    const lines = [encodeLine({ t: 'head', v: JOURNAL_VERSION }), ...this.toArray().map((item) => encodeLine({ t: 'add', s: item.seq, at: item.queuedAt, d: item.data }))];
    const content = this.length === 0 ? Buffer.alloc(0) : Buffer.concat(lines);
    try {
      const handle = await fsp.open(temp, 'w');
      try {
        await handle.write(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
      const old = this.handle;
      this.handle = undefined;
      await old?.close();
      await fsp.rename(temp, this.file);
      await syncDirectory(path.dirname(this.file));
      this.fileBytes = content.length;
      // Line sizes are re-measured from what was written so the byte limit stays exact.
      for (let i = this.head, l = 1; i < this.items.length; i += 1, l += 1) this.items[i].bytes = lines[l].length;
      this.liveBytes = this.toArray().reduce((sum, item) => sum + item.bytes, 0);
    } catch (error) {
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      throw ioError('rewrite', this.file, error);
    }
  }

  private async load(): Promise<void> {
    try {
      await fsp.mkdir(path.dirname(this.file), { recursive: true });
      // A temp file is left only by a crash during a rewrite, before the rename: the journal is intact.
      await fsp.rm(`${this.file}.tmp`, { force: true });
    } catch (error) {
      throw ioError('prepare the folder of', this.file, error);
    }
    let content: Buffer;
    try {
      content = await fsp.readFile(this.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw ioError('read', this.file, error);
    }
    const live = new Map<number, QueueItem<T>>();
    let maxSeq = 0;
    let damaged = 0;
    let start = 0;
    let tornTail = false;
    let deadRecords = 0;
    while (start < content.length) {
      const end = content.indexOf(0x0a, start);
      if (end < 0) {
        tornTail = true;
        damaged += 1;
        break;
      }
      const line = content.subarray(start, end);
      start = end + 1;
      if (line.length === 0) continue;
      const record = decodeLine(line);
      if (!record) {
        damaged += 1;
        continue;
      }
      switch (record.t) {
        case 'add':
          if (Number.isSafeInteger(record.s)) {
            live.set(record.s, { seq: record.s, queuedAt: Number(record.at) || 0, data: record.d as T, bytes: line.length + 1 });
            maxSeq = Math.max(maxSeq, record.s);
          }
          break;
        case 'done':
        case 'drop':
          live.delete(record.s);
          deadRecords += 2;
          break;
        default:
          deadRecords += 1;
      }
    }
    this.items = [...live.values()].sort((a, b) => a.seq - b.seq);
    this.head = 0;
    this.liveBytes = this.items.reduce((sum, item) => sum + item.bytes, 0);
    this.nextSeq = maxSeq + 1;
    this.fileBytes = content.length;
    this.recovery = { recovered: this.items.length, damagedRecords: damaged, tornTail };
    // Start every run from a clean journal: no torn tail for new lines to be glued to.
    if (damaged > 0 || deadRecords > 0) await this.rewrite();
  }
}

async function syncDirectory(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch {
    // Some platforms (Windows) cannot open or fsync a directory; the rename is still atomic there.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function ioError(action: string, file: string, error: unknown): QueueError {
  const reason = (error as NodeJS.ErrnoException)?.code ?? (error as Error)?.message ?? String(error);
  return new QueueError(`Could not ${action} the queue file ${file} (${reason}). Check that the Node-RED user directory is writable and the disk is not full.`, 'QUEUE_IO', { cause: error });
}

/** `<dir>/<node id>.queue`, with anything a file name should not hold replaced. */
export function queueFilePath(dir: string, nodeId: string): string {
  return path.join(dir, `${nodeId.replace(/[^A-Za-z0-9_.-]/g, '_')}.queue`);
}
