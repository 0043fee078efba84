/**
 * A persistent first-in-first-out queue in one append-only journal file.
 *
 * Every change is one line `<crc32 as 8 hex> <json>\n`: an `add` record carries an item, a
 * `done` record removes it after delivery and a `drop` record removes it when the queue was
 * full. Lines are written with a single append and made durable with fsync before the promise
 * resolves, so a crash (power cut included) leaves at worst a torn last line. Loading replays the
 * journal, skips any line whose checksum does not match (a torn tail or a damaged sector) and
 * then rewrites the live items into a fresh file through write-temp, fsync, rename. Because the
 * journal only grows, it is compacted the same way whenever its dead records (delivered, dropped)
 * outweigh both the live ones and the byte limit (capped by `compactAfterBytes`) — after a push
 * as well as after a removal, so the file stays within twice `maxBytes` even during a long outage
 * that drops the oldest items — and simply truncated whenever the queue becomes empty (the normal
 * state while the server is reachable).
 *
 * A write that does not reach the disk completely (disk full, file size limit: `write` returns
 * fewer bytes, or fails with ENOSPC/EFBIG) rejects the push with a QUEUE_DISK_FULL error and is
 * cut off again, so no acknowledged item ever depends on bytes that are not on disk and the next
 * line is never glued to a torn one.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { diskFullDetail, syncDirectory, writeFully } from '../durable-files';
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
  /**
   * Compact once dead records exceed this many bytes (or `maxBytes`, when smaller) and outweigh
   * the live ones. Default 1 MB.
   */
  compactAfterBytes?: number;
  /**
   * Opens the journal (flag `a`) and the compaction temp file (flag `w`); `fs.promises.open` by
   * default. A seam for tests that need a disk that fills up; not for production use.
   */
  openFile?: (file: string, flags: 'a' | 'w') => Promise<QueueFile>;
}

/** The part of `fs.promises.FileHandle` the queue uses. */
export interface QueueFile {
  /** Writes at the end (append mode) or the current position; may write fewer bytes than asked. */
  write(buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface PushResult<T> {
  item: QueueItem<T>;
  /** The oldest items dropped to make room (the queue was full). */
  dropped: QueueItem<T>[];
  /**
   * Set when the item is safely queued but compacting the file afterwards failed (typically
   * the disk is nearly full): the file is larger than it should be until a later compaction.
   */
  compactionError?: QueueError;
}

export interface QueueRecovery {
  /** Items found in the journal on open. */
  recovered: number;
  /** Lines skipped because their checksum or JSON was bad (a torn last line counts here). */
  damagedRecords: number;
  /** True when the file ended in the middle of a line (a crash during a write). */
  tornTail: boolean;
}

/** QUEUE_DISK_FULL: a write reached the disk only partly (ENOSPC, EFBIG, EDQUOT or a short write). */
export type QueueErrorCode = 'QUEUE_IO' | 'QUEUE_DISK_FULL' | 'ITEM_TOO_LARGE' | 'QUEUE_CLOSED';

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
  private readonly openFile: (file: string, flags: 'a' | 'w') => Promise<QueueFile>;
  /** Live items in order; `head` skips the ones already removed so removal is O(1). */
  private items: QueueItem<T>[] = [];
  private head = 0;
  private liveBytes = 0;
  /** Bytes of the journal known to be complete lines on disk; the next line starts here. */
  private fileBytes = 0;
  /** True when a failed write may have left bytes after `fileBytes` that could not be cut off yet. */
  private tailDirty = false;
  /** Removed items whose `done` record could not be written yet; it goes with the next write. */
  private pendingDone: number[] = [];
  private lastCompactionError: QueueError | undefined;
  /** After a failed compaction, the file size at which to try again (not on every push of a full disk). */
  private compactRetryAt = 0;
  private nextSeq = 1;
  private handle: QueueFile | undefined;
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
    this.openFile = options.openFile ?? ((file, flags) => fsp.open(file, flags));
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

  /** Size of the journal file in bytes (live items plus records not yet compacted away). */
  get fileSize(): number {
    return this.fileBytes;
  }

  /** Items dropped because the queue was full, since it was opened. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Why the last compaction failed, until one succeeds; the queue's content is not affected. */
  get compactionError(): QueueError | undefined {
    return this.lastCompactionError;
  }

  /** The oldest item, which is the next to deliver. */
  peek(): QueueItem<T> | undefined {
    return this.items[this.head];
  }

  toArray(): QueueItem<T>[] {
    return this.items.slice(this.head);
  }

  /**
   * Appends an item and resolves once it is completely on disk; rejects (QUEUE_DISK_FULL when the
   * disk is full) without queueing it otherwise. When the queue is full the oldest items are
   * dropped first (in the same durable write) and returned, so the caller can warn about them.
   */
  push(data: T): Promise<PushResult<T>> {
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
      const lines = [...this.pendingDoneLines(), ...dropped.map((item) => encodeLine({ t: 'drop', s: item.seq })), line];
      const item: QueueItem<T> = { seq, queuedAt, data, bytes: line.length };
      try {
        await this.append(Buffer.concat(lines), 'the message was not queued');
      } catch (error) {
        // Keep memory and disk telling the same story: the dropped items are still on disk.
        this.unshiftHead(dropped);
        throw error;
      }
      this.pendingDone = [];
      this.nextSeq += 1;
      this.items.push(item);
      this.liveBytes += item.bytes;
      this.droppedTotal += dropped.length;
      const compactionError = await this.compactIfWasteful();
      return compactionError ? { item, dropped, compactionError } : { item, dropped };
    });
  }

  /**
   * Removes a delivered (or permanently refused) item; false when it was no longer queued. When
   * the removal cannot be written (disk full) the item still leaves the queue in memory, so it is
   * not sent twice in this run, the promise rejects, and the record goes with the next write.
   */
  remove(seq: number): Promise<boolean> {
    return this.exclusive(async () => {
      const index = this.indexOf(seq);
      if (index < 0) return false;
      this.removeAt(index);
      try {
        // The last item leaves: an empty file says the same as any journal with nothing live.
        if (this.length === 0) await this.truncate();
        else await this.append(Buffer.concat([...this.pendingDoneLines(), encodeLine({ t: 'done', s: seq })]), 'the delivered item would be sent again after a restart');
        this.pendingDone = [];
      } catch (error) {
        this.pendingDone.push(seq);
        throw error;
      }
      await this.compactIfWasteful();
      return true;
    });
  }

  /** Waits for pending writes and closes the file; the items stay on disk for the next open. */
  close(): Promise<void> {
    return this.exclusive(async () => {
      this.closed = true;
      if (this.pendingDone.length > 0) {
        // Last chance to record removals a full disk held back; failing here changes nothing more.
        await (this.length === 0 ? this.truncate() : this.append(Buffer.concat(this.pendingDoneLines()), '')).catch(() => undefined);
      }
      const handle = this.handle;
      this.handle = undefined;
      await handle?.close();
    }, true);
  }

  private indexOf(seq: number): number {
    if (this.peek()?.seq === seq) return this.head;
    return this.items.findIndex((item, i) => i >= this.head && item.seq === seq);
  }

  private removeAt(index: number): void {
    if (index === this.head) {
      this.shiftHead();
      return;
    }
    const [item] = this.items.splice(index, 1);
    this.liveBytes -= item.bytes;
  }

  private pendingDoneLines(): Buffer[] {
    return this.pendingDone.map((s) => encodeLine({ t: 'done', s }));
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

  private async openHandle(): Promise<QueueFile> {
    if (this.handle) return this.handle;
    const existed = fs.existsSync(this.file);
    this.handle = await this.openFile(this.file, 'a');
    // A new file's directory entry must be durable too, or a power cut could lose the whole file.
    if (!existed) await syncDirectory(path.dirname(this.file));
    return this.handle;
  }

  /** Appends complete lines and makes them durable, or cuts them off again and rejects. */
  private async append(bytes: Buffer, consequence: string): Promise<void> {
    let handle: QueueFile;
    try {
      handle = await this.openHandle();
    } catch (error) {
      throw ioError('open', this.file, error);
    }
    try {
      if (this.tailDirty) await handle.truncate(this.fileBytes);
      this.tailDirty = false;
      await writeFully(handle, bytes);
      await handle.datasync();
    } catch (error) {
      // A partial line must neither be read back as data nor swallow the next line glued to it.
      this.tailDirty = true;
      await handle.truncate(this.fileBytes).then(
        () => (this.tailDirty = false),
        () => undefined,
      );
      throw writeError(this.file, error, consequence);
    }
    this.fileBytes += bytes.length;
  }

  private async truncate(): Promise<void> {
    try {
      const handle = await this.openHandle();
      await handle.truncate(0);
      this.fileBytes = 0;
      this.tailDirty = false;
      await handle.datasync();
    } catch (error) {
      throw ioError('truncate', this.file, error);
    }
  }

  /**
   * Compacts when dead records outweigh both the live ones and the allowance (`maxBytes`, at most
   * `compactAfterBytes`), so the file stays within twice `maxBytes`. The caller's record is already
   * durable, so a failure (typically a full disk) is reported, not thrown.
   */
  private async compactIfWasteful(): Promise<QueueError | undefined> {
    const allowance = Math.max(this.liveBytes, Math.min(this.compactAfterBytes, this.maxBytes));
    if (this.fileBytes - this.liveBytes <= allowance || this.fileBytes < this.compactRetryAt) return undefined;
    try {
      await this.rewrite();
      this.lastCompactionError = undefined;
      this.compactRetryAt = 0;
    } catch (error) {
      this.lastCompactionError = error as QueueError;
      // Rewriting the whole file on every push while the disk is full would only wear it out.
      this.compactRetryAt = this.fileBytes + allowance;
    }
    return this.lastCompactionError;
  }

  /** Writes only the live items to a temporary file, makes it durable and renames it over the journal. */
  private async rewrite(): Promise<void> {
    const temp = `${this.file}.tmp`;
    const lines = [encodeLine({ t: 'head', v: JOURNAL_VERSION }), ...this.toArray().map((item) => encodeLine({ t: 'add', s: item.seq, at: item.queuedAt, d: item.data }))];
    const content = this.length === 0 ? Buffer.alloc(0) : Buffer.concat(lines);
    try {
      const handle = await this.openFile(temp, 'w');
      try {
        await writeFully(handle, content);
        await handle.sync();
      } finally {
        await handle.close();
      }
      const old = this.handle;
      this.handle = undefined;
      await old?.close();
      await fsp.rename(temp, this.file);
      await syncDirectory(path.dirname(this.file));
    } catch (error) {
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      throw writeError(this.file, error, 'the queue itself is unchanged');
    }
    this.fileBytes = content.length;
    this.tailDirty = false;
    this.pendingDone = [];
    // Line sizes are re-measured from what was written so the byte limit stays exact.
    for (let i = this.head, l = 1; i < this.items.length; i += 1, l += 1) this.items[i].bytes = lines[l].length;
    this.liveBytes = this.toArray().reduce((sum, item) => sum + item.bytes, 0);
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
    const replay = replayJournal<T>(content);
    this.items = replay.items;
    this.head = 0;
    this.liveBytes = this.items.reduce((sum, item) => sum + item.bytes, 0);
    this.nextSeq = replay.maxSeq + 1;
    this.fileBytes = replay.completeBytes;
    this.recovery = { recovered: this.items.length, damagedRecords: replay.damaged, tornTail: replay.tornTail };
    if (replay.tornTail) await this.cutTornTail();
    // Start every run from a compact journal; when that fails (disk full) the journal still works.
    if (replay.damaged > 0 || replay.deadRecords > 0) {
      await this.rewrite().catch((error: QueueError) => {
        this.lastCompactionError = error;
      });
    }
  }

  /** Cuts a torn last line off (in place, which needs no free space) so new lines start cleanly. */
  private async cutTornTail(): Promise<void> {
    try {
      const handle = await this.openHandle();
      await handle.truncate(this.fileBytes);
      await handle.datasync();
    } catch (error) {
      throw ioError('repair', this.file, error);
    }
  }
}

/** Replays a journal: the live items in order, and what was wrong with it. */
function replayJournal<T>(content: Buffer): { items: QueueItem<T>[]; maxSeq: number; completeBytes: number; damaged: number; tornTail: boolean; deadRecords: number } {
  const live = new Map<number, QueueItem<T>>();
  let maxSeq = 0;
  let damaged = 0;
  let start = 0;
  let tornTail = false;
  let deadRecords = 0;
  while (start < content.length) {
    const end = content.indexOf(0x0a, start);
    if (end < 0) {
      // Half a line at the end: a crash (or a full disk) in the middle of a write.
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
  const items = [...live.values()].sort((a, b) => a.seq - b.seq);
  return { items, maxSeq, completeBytes: tornTail ? start : content.length, damaged, tornTail, deadRecords };
}

function writeError(file: string, error: unknown, consequence: string): QueueError {
  const detail = diskFullDetail(error);
  if (detail !== undefined) {
    return new QueueError(
      `The queue file ${file} could not be written completely (disk full? ${detail}) — free disk space or raise the file size limit of the Node-RED process${consequence ? `; ${consequence}` : ''}.`,
      'QUEUE_DISK_FULL',
      { cause: error },
    );
  }
  return ioError('write to', file, error);
}

function ioError(action: string, file: string, error: unknown): QueueError {
  const reason = (error as NodeJS.ErrnoException)?.code ?? (error as Error)?.message ?? String(error);
  return new QueueError(`Could not ${action} the queue file ${file} (${reason}). Check that the Node-RED user directory is writable and the disk is not full.`, 'QUEUE_IO', { cause: error });
}

/** `<dir>/<node id>.queue`, with anything a file name should not hold replaced. */
export function queueFilePath(dir: string, nodeId: string): string {
  return path.join(dir, `${nodeId.replace(/[^A-Za-z0-9_.-]/g, '_')}.queue`);
}
