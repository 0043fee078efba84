/**
 * Writing files that must survive a crash or a full disk: the queue journal, the dead-letter file
 * and the Metry cursor file all use these, so "written" always means every byte on disk and synced.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';

/** The part of a file handle these helpers write through (a test can hand in a handle that writes short). */
export interface WritableFile {
  write(buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
}

/** A write that stopped early without an error: the file system took fewer bytes than asked. */
export class ShortWriteError extends Error {
  constructor(
    readonly written: number,
    readonly total: number,
  ) {
    super(`only ${written} of ${total} bytes were written`);
    this.name = 'ShortWriteError';
  }
}

/** Writes all of `bytes`, continuing after a short write; a write that makes no progress means the disk is full. */
export async function writeFully(handle: WritableFile, bytes: Buffer): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
    if (!(bytesWritten > 0)) throw new ShortWriteError(written, bytes.length);
    written += bytesWritten;
  }
}

/** The file system's ways of saying "no room": no space, the process's file size limit, a quota. */
const DISK_FULL_CODES = new Set(['ENOSPC', 'EFBIG', 'EDQUOT']);

/** Whether a write failed for lack of room; returns the detail to show ("EFBIG", "only 3 of 9 bytes …"). */
export function diskFullDetail(error: unknown): string | undefined {
  if (error instanceof ShortWriteError) return error.message;
  const code = (error as NodeJS.ErrnoException)?.code;
  return code !== undefined && DISK_FULL_CODES.has(code) ? code : undefined;
}

/** Makes a new or renamed directory entry durable; a power cut could otherwise lose the file itself. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch {
    // Some platforms (Windows) cannot open or fsync a directory; a rename is still atomic there.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Replaces `file` with `text` all at once: a crash leaves the old content or the new, never a mix. */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await fsp.open(temporary, 'w');
  try {
    await writeFully(handle, Buffer.from(text, 'utf8'));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(temporary, file);
  await syncDirectory(path.dirname(file));
}
