import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PersistentQueue, QueueError, QueueFile, QueueOptions } from '../../../src/core/dsmr-reader/queue';

interface Item {
  n: number;
  text: string;
}

interface Room {
  /** Largest size a file may reach; a write past it stores what fits and reports the short count. */
  bytes: number;
  /** Which files are limited: the journal (`a`), the compaction temp file (`w`), or both. */
  only?: 'a' | 'w';
  /** Make truncation fail too, as it could on a failing device, so a partial line stays behind. */
  failTruncate?: boolean;
}

/**
 * Opens real files that stop growing at `room.bytes`, the way a disk that has just filled up
 * behaves for `write(2)`: the bytes that fit are stored, `write` reports fewer bytes than asked
 * and does not throw, and the next write stores nothing.
 */
function filesWithRoom(room: Room): NonNullable<QueueOptions['openFile']> {
  return async (file, flags) => {
    const real = await fsp.open(file, flags);
    if (room.only && room.only !== flags) return real;
    const limited: QueueFile = {
      async write(buffer, offset, length) {
        const size = (await real.stat()).size;
        const fits = Math.max(0, Math.min(length, room.bytes - size));
        return fits === 0 ? { bytesWritten: 0 } : real.write(buffer, offset, fits);
      },
      datasync: () => real.datasync(),
      sync: () => real.sync(),
      truncate: (length) => (room.failTruncate ? Promise.reject(Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' })) : real.truncate(length)),
      close: () => real.close(),
    };
    return limited;
  };
}

const DISK_FULL = /could not be written completely \(disk full\? .+\) — free disk space/;

describe('PersistentQueue on a full disk', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsmr-reader-queue-full-'));
    file = path.join(dir, 'node1.queue');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const open = (extra: Partial<QueueOptions> = {}) => PersistentQueue.open<Item>({ file, maxItems: 1_000_000, maxBytes: 1e9, ...extra });
  const numbers = (queue: PersistentQueue<Item>) => queue.toArray().map((item) => item.data.n);

  /** Size of one journal line for an item `{ n: <one digit>, text: 'd' × 100 }`. */
  async function lineBytes(): Promise<number> {
    const probe = await open();
    const { item } = await probe.push({ n: 0, text: 'd'.repeat(100) });
    await probe.remove(item.seq);
    await probe.close();
    return item.bytes;
  }

  /** Pushes items 1, 2, … until one is refused; returns the acknowledged numbers and the refusal. */
  async function pushUntilRefused(queue: PersistentQueue<Item>): Promise<{ acked: number[]; refusal: QueueError }> {
    const acked: number[] = [];
    for (let n = 1; n < 1000; n += 1) {
      try {
        await queue.push({ n, text: 'd'.repeat(100) });
        acked.push(n);
      } catch (error) {
        return { acked, refusal: error as QueueError };
      }
    }
    throw new Error('the disk never filled up');
  }

  it('fails the push that does not fit loudly, keeps every acknowledged item, and works again once there is room', async () => {
    const line = await lineBytes();
    const room: Room = { bytes: 5 * line + Math.floor(line / 2) };
    const queue = await open({ openFile: filesWithRoom(room) });
    const { acked, refusal } = await pushUntilRefused(queue);

    assert.deepEqual(acked, [1, 2, 3, 4, 5]);
    assert.equal(refusal.code, 'QUEUE_DISK_FULL');
    assert.match(refusal.message, DISK_FULL);
    assert.match(refusal.message, new RegExp(`only ${Math.floor(line / 2)} of ${line} bytes were written`));
    assert.match(refusal.message, /the message was not queued/);
    assert.deepEqual(numbers(queue), acked);
    // The half-written line was cut off again: the file holds exactly the acknowledged lines.
    assert.equal(fs.statSync(file).size, 5 * line);

    room.bytes = Infinity;
    await queue.push({ n: 7, text: 'd'.repeat(100) });
    await queue.close();
    const again = await open();
    assert.deepEqual(numbers(again), [1, 2, 3, 4, 5, 7]);
    assert.deepEqual(again.recovery, { recovered: 6, damagedRecords: 0, tornTail: false });
    await again.close();
  });

  it('drops a half-written line that could not be cut off when the file is opened again, and keeps the rest', async () => {
    const line = await lineBytes();
    const room: Room = { bytes: 3 * line + 40, failTruncate: true };
    const queue = await open({ openFile: filesWithRoom(room) });
    const { acked, refusal } = await pushUntilRefused(queue);
    assert.equal(refusal.code, 'QUEUE_DISK_FULL');
    assert.equal(fs.statSync(file).size, 3 * line + 40, 'the partial line is still on disk');
    await queue.close(); // as if Node-RED stopped (or crashed) now

    const again = await open();
    assert.deepEqual(numbers(again), acked);
    // Reported so the node can warn, and cut off before anything new is written after it.
    assert.deepEqual(again.recovery, { recovered: 3, damagedRecords: 1, tornTail: true });
    await again.push({ n: 9, text: 'd'.repeat(100) });
    await again.close();
    const third = await open();
    assert.deepEqual(numbers(third), [1, 2, 3, 9]);
    assert.equal(third.recovery.damagedRecords, 0);
    await third.close();
  });

  it('cuts a half-written line off before the next write when the first attempt to do so failed', async () => {
    const line = await lineBytes();
    const room: Room = { bytes: 3 * line + 40, failTruncate: true };
    const queue = await open({ openFile: filesWithRoom(room) });
    await pushUntilRefused(queue);
    room.failTruncate = false;
    room.bytes = Infinity;
    await queue.push({ n: 8, text: 'd'.repeat(100) });
    await queue.close();

    const again = await open();
    assert.deepEqual(numbers(again), [1, 2, 3, 8]);
    assert.deepEqual(again.recovery, { recovered: 4, damagedRecords: 0, tornTail: false });
    await again.close();
  });

  it('does not hand out a delivered item again when its removal cannot be written, and records the removal with the next write', async () => {
    const room: Room = { bytes: Infinity };
    const queue = await open({ openFile: filesWithRoom(room) });
    for (let n = 1; n <= 3; n += 1) await queue.push({ n, text: 'd'.repeat(100) });
    room.bytes = fs.statSync(file).size;

    await assert.rejects(queue.remove(queue.peek()!.seq), (error: QueueError) => error.code === 'QUEUE_DISK_FULL' && DISK_FULL.test(error.message) && /sent again after a restart/.test(error.message));
    assert.equal(queue.peek()!.data.n, 2, 'the delivered item is not the next to send');

    room.bytes = Infinity;
    await queue.push({ n: 4, text: 'd'.repeat(100) });
    await queue.close();
    const again = await open();
    assert.deepEqual(numbers(again), [2, 3, 4]);
    await again.close();
  });

  it('keeps queueing when compaction cannot write its temp file, reports it, and compacts once there is room', async () => {
    const line = await lineBytes();
    const maxBytes = 6 * (line + 1); // six items, whose seq has two digits from the tenth on
    const room: Room = { bytes: 10, only: 'w' };
    const queue = await open({ maxBytes, openFile: filesWithRoom(room) });
    const failures: QueueError[] = [];
    for (let n = 1; n <= 30; n += 1) {
      const { compactionError } = await queue.push({ n: n % 10, text: 'd'.repeat(100) });
      if (compactionError) failures.push(compactionError);
    }
    assert.ok(failures.length > 0, 'compaction was attempted and failed');
    assert.equal(failures[0].code, 'QUEUE_DISK_FULL');
    assert.match(failures[0].message, DISK_FULL);
    assert.equal(queue.compactionError, failures[failures.length - 1]);
    assert.equal(fs.existsSync(`${file}.tmp`), false);
    const kept = numbers(queue);
    assert.equal(kept.length, 6);

    room.bytes = Infinity;
    for (let n = 31; n <= 60 && queue.compactionError; n += 1) await queue.push({ n: n % 10, text: 'd'.repeat(100) });
    assert.equal(queue.compactionError, undefined);
    assert.ok(fs.statSync(file).size <= 2 * maxBytes, `file is ${fs.statSync(file).size} bytes`);
    const last = numbers(queue);
    await queue.close();
    const again = await open({ maxBytes });
    assert.deepEqual(numbers(again), last);
    await again.close();
  });

  it(
    'loses no acknowledged item in a real process under a file size limit (ulimit -f) and says the disk is full',
    { skip: process.platform === 'win32' ? 'needs bash and ulimit' : false },
    async () => {
      // The filler pushes until refused, then tries three more. `trap '' XFSZ` keeps the
      // process alive past the limit (Node ignores SIGXFSZ itself too), so writes fail with EFBIG.
      const filler = path.join(__dirname, '../../../testing/queue-filler.js');
      const limitBlocks = 8; // bash counts `ulimit -f` in 1024-byte blocks
      const child = spawn('bash', ['-c', `trap '' XFSZ; ulimit -f ${limitBlocks}; exec "$@"`, 'bash', process.execPath, filler, file, '300', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      let errors = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      const [exitCode] = await once(child, 'close');
      assert.equal(exitCode, 0, errors);

      const lines = output.split('\n').filter(Boolean);
      const acked = lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)));
      const refusals = lines.filter((l) => l.startsWith('refused ')).map((l) => JSON.parse(l.slice(8)) as { n: number; code: string; message: string });
      assert.ok(acked.length >= 10, `only ${acked.length} pushes fitted`);
      assert.deepEqual(acked, Array.from({ length: acked.length }, (_, i) => i + 1));
      assert.ok(fs.statSync(file).size <= limitBlocks * 1024);
      const queue = await open();
      assert.deepEqual(numbers(queue), acked, 'every acknowledged item, in order, and nothing else');
      assert.deepEqual(queue.recovery, { recovered: acked.length, damagedRecords: 0, tornTail: false });
      await queue.close();

      assert.equal(refusals.length, 4);
      for (const refusal of refusals) {
        assert.equal(refusal.code, 'QUEUE_DISK_FULL');
        assert.match(refusal.message, DISK_FULL);
        assert.match(refusal.message, /EFBIG/);
      }
    },
  );
});
