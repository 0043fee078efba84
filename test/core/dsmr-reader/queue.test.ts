import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PersistentQueue, queueFilePath } from '../../../src/core/dsmr-reader/queue';

interface Item {
  n: number;
  text?: string;
}

describe('PersistentQueue (append-only journal)', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsmr-reader-queue-'));
    file = path.join(dir, 'sub', 'node1.queue');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const open = (extra: Partial<{ maxItems: number; maxBytes: number; compactAfterBytes: number }> = {}) =>
    PersistentQueue.open<Item>({ file, maxItems: 1000, maxBytes: 1024 * 1024, ...extra });

  it('keeps items in order across close and reopen, and creates its folder', async () => {
    const queue = await open();
    for (let n = 1; n <= 5; n += 1) await queue.push({ n });
    assert.equal(queue.length, 5);
    assert.equal(await queue.remove(queue.peek()!.seq), true);
    await queue.close();
    assert.ok(fs.existsSync(file));

    const again = await open();
    assert.deepEqual(again.toArray().map((item) => item.data.n), [2, 3, 4, 5]);
    assert.equal(again.recovery.recovered, 4);
    // New items continue after the recovered ones.
    const { item } = await again.push({ n: 6 });
    assert.ok(item.seq > again.toArray()[3].seq);
    await again.close();
  });

  it('pushes made at the same time keep the order they were made in', async () => {
    const queue = await open();
    await Promise.all(Array.from({ length: 50 }, (_, n) => queue.push({ n })));
    await queue.close();
    const again = await open();
    assert.deepEqual(again.toArray().map((item) => item.data.n), Array.from({ length: 50 }, (_, n) => n));
    await again.close();
  });

  it('empties the file when the last item leaves, so an idle queue costs nothing', async () => {
    const queue = await open();
    const { item } = await queue.push({ n: 1 });
    assert.ok(fs.statSync(file).size > 0);
    await queue.remove(item.seq);
    assert.equal(fs.statSync(file).size, 0);
    assert.equal(queue.length, 0);
    await queue.close();
  });

  it('ignores a torn last record and keeps everything before it', async () => {
    const queue = await open();
    for (let n = 1; n <= 3; n += 1) await queue.push({ n, text: 'x'.repeat(40) });
    await queue.close();
    // A crash in the middle of the fourth append: half a line, no newline.
    const fourth = fs.readFileSync(file, 'utf8').split('\n')[2].replace('"n":3', '"n":4');
    fs.appendFileSync(file, fourth.slice(0, fourth.length / 2));

    const again = await open();
    assert.deepEqual(again.toArray().map((item) => item.data.n), [1, 2, 3]);
    assert.equal(again.recovery.tornTail, true);
    assert.equal(again.recovery.damagedRecords, 1);
    // The file was rewritten, so a new record cannot be glued to the torn one.
    await again.push({ n: 5 });
    await again.close();
    const third = await open();
    assert.deepEqual(third.toArray().map((item) => item.data.n), [1, 2, 3, 5]);
    assert.equal(third.recovery.damagedRecords, 0);
    await third.close();
  });

  it('skips a record whose checksum does not match and keeps the others', async () => {
    const queue = await open();
    for (let n = 1; n <= 3; n += 1) await queue.push({ n });
    await queue.close();
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[1] = lines[1].replace('"n":2', '"n":7');
    fs.writeFileSync(file, lines.join('\n'));
    const again = await open();
    assert.deepEqual(again.toArray().map((item) => item.data.n), [1, 3]);
    assert.equal(again.recovery.damagedRecords, 1);
    await again.close();
  });

  it('ignores a temp file left by a crash during compaction', async () => {
    const queue = await open();
    await queue.push({ n: 1 });
    await queue.close();
    fs.writeFileSync(`${file}.tmp`, 'half a rewrite');
    const again = await open();
    assert.deepEqual(again.toArray().map((item) => item.data.n), [1]);
    assert.equal(fs.existsSync(`${file}.tmp`), false);
    await again.close();
  });

  it('drops the oldest items when the count limit is reached, and says which', async () => {
    const queue = await open({ maxItems: 3 });
    for (let n = 1; n <= 3; n += 1) await queue.push({ n });
    const { dropped } = await queue.push({ n: 4 });
    assert.deepEqual(dropped.map((item) => item.data.n), [1]);
    const second = await queue.push({ n: 5 });
    assert.deepEqual(second.dropped.map((item) => item.data.n), [2]);
    assert.equal(queue.dropped, 2);
    assert.deepEqual(queue.toArray().map((item) => item.data.n), [3, 4, 5]);
    await queue.close();
    // The drops are in the journal too.
    const again = await open({ maxItems: 3 });
    assert.deepEqual(again.toArray().map((item) => item.data.n), [3, 4, 5]);
    await again.close();
  });

  it('drops the oldest items when the byte limit is reached', async () => {
    const probe = await open();
    const { item } = await probe.push({ n: 0, text: 'y'.repeat(200) });
    await probe.remove(item.seq);
    await probe.close();
    const lineBytes = item.bytes;

    const queue = await open({ maxBytes: lineBytes * 2 + 10 });
    await queue.push({ n: 1, text: 'y'.repeat(200) });
    await queue.push({ n: 2, text: 'y'.repeat(200) });
    const { dropped } = await queue.push({ n: 3, text: 'y'.repeat(200) });
    assert.deepEqual(dropped.map((d) => d.data.n), [1]);
    assert.ok(queue.bytes <= lineBytes * 2 + 10);
    await queue.close();
  });

  it('refuses an item larger than the whole queue instead of emptying the queue for it', async () => {
    const queue = await open({ maxBytes: 300 });
    await queue.push({ n: 1 });
    await assert.rejects(queue.push({ n: 2, text: 'z'.repeat(400) }), (error: Error & { code?: string }) => error.code === 'ITEM_TOO_LARGE' && /Raise the queue size limit/.test(error.message));
    assert.deepEqual(queue.toArray().map((item) => item.data.n), [1]);
    await queue.close();
  });

  it('compacts a journal that is mostly delivered records, keeping order and content', async () => {
    const queue = await open({ compactAfterBytes: 2000 });
    await queue.push({ n: 0 });
    for (let n = 1; n <= 200; n += 1) {
      const { item } = await queue.push({ n, text: 'c'.repeat(30) });
      await queue.remove(item.seq);
    }
    await queue.push({ n: 201 });
    // 200 add + 200 done records would be far above 2000 bytes without compaction.
    assert.ok(fs.statSync(file).size < 2000 + 200, `journal is ${fs.statSync(file).size} bytes`);
    await queue.close();
    const again = await open();
    assert.deepEqual(again.toArray().map((item) => item.data.n), [0, 201]);
    await again.close();
  });

  it('keeps the file within twice the byte limit during a long outage (60,000 pushes, none delivered)', async () => {
    // Only the file's size is under test, not durability: where tmpfs exists the journal goes
    // there, where fsync costs nothing, so 60,000 durable pushes stay quick on a busy machine.
    const base = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/dsmr-reader-queue-') : dir;
    const outageFile = path.join(base, 'outage.queue');
    const limit = 1024 * 1024;
    try {
      const queue = await PersistentQueue.open<Item>({ file: outageFile, maxItems: 100_000, maxBytes: limit });
      let largest = 0;
      for (let n = 1; n <= 60_000; n += 1) {
        await queue.push({ n, text: 'o'.repeat(950) }); // about one telegram
        largest = Math.max(largest, fs.statSync(outageFile).size);
      }
      assert.ok(largest <= 2 * limit, `the file reached ${largest} bytes`);
      assert.ok(queue.dropped > 55_000, 'the queue dropped its oldest items to stay within the limit');
      assert.equal(queue.fileSize, fs.statSync(outageFile).size);
      const kept = queue.toArray().map((item) => item.data.n);
      await queue.close();

      const again = await PersistentQueue.open<Item>({ file: outageFile, maxItems: 100_000, maxBytes: limit });
      assert.deepEqual(again.toArray().map((item) => item.data.n), kept);
      assert.equal(kept[kept.length - 1], 60_000);
      assert.equal(kept[0], 60_000 - kept.length + 1, 'the newest items, without gaps');
      await again.close();
    } finally {
      if (base !== dir) fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it('removes an item only once and tells when it was already gone', async () => {
    const queue = await open();
    const { item } = await queue.push({ n: 1 });
    await queue.push({ n: 2 });
    assert.equal(await queue.remove(item.seq), true);
    assert.equal(await queue.remove(item.seq), false);
    assert.deepEqual(queue.toArray().map((i) => i.data.n), [2]);
    await queue.close();
  });

  it('refuses pushes after close with a clear error', async () => {
    const queue = await open();
    await queue.close();
    await assert.rejects(queue.push({ n: 1 }), /closed/);
  });

  it('loses no acknowledged item when the process is killed in the middle of writing', async () => {
    // A real crash: a child process pushes (and delivers every third item) as fast as it can
    // and is killed with SIGKILL; every push it reported as done must be there afterwards.
    const moduleFile = path.join(__dirname, '../../../src/core/dsmr-reader/queue.js');
    const script = `
      const { PersistentQueue } = require(${JSON.stringify(moduleFile)});
      (async () => {
        const queue = await PersistentQueue.open({ file: ${JSON.stringify(file)}, maxItems: 100000, maxBytes: 1e9 });
        for (let n = 1; ; n += 1) {
          const { item } = await queue.push({ n, text: 'p'.repeat(n % 300) });
          if (n % 3 === 0) await queue.remove(queue.peek().seq);
          process.stdout.write(n + '\\n');
        }
      })();`;
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      // Killed the moment it has reported 300 pushes, wherever it is in the next one.
      if (output.split('\n').length > 300) child.kill('SIGKILL');
    });
    await exited;
    const reported = output.split('\n').filter(Boolean).map(Number);
    const lastDone = reported[reported.length - 1];

    const queue = await open({ maxItems: 100000, maxBytes: 1e9 });
    const kept = queue.toArray().map((item) => item.data.n);
    // Items 1..lastDone were pushed and every third one removed from the head, so what is left
    // is a contiguous run ending at lastDone or at the one push that was in flight.
    const last = kept[kept.length - 1];
    assert.ok(last === lastDone || last === lastDone + 1, `last kept ${last}, last reported ${lastDone}`);
    for (let i = 1; i < kept.length; i += 1) assert.equal(kept[i], kept[i - 1] + 1, 'no gap and no reordering');
    const removed = Math.floor(lastDone / 3);
    assert.ok(kept[0] === removed + 1 || kept[0] === removed + 2, `first kept ${kept[0]} after ${removed} removals`);
    await queue.close();
  });

  it('names one file per node and keeps the file name safe', () => {
    assert.equal(queueFilePath('/data/dsmr-reader-out', 'a1b2c3.d4'), path.join('/data/dsmr-reader-out', 'a1b2c3.d4.queue'));
    assert.equal(path.basename(queueFilePath('/q', '../evil/id')), '.._evil_id.queue');
  });

  it('says what to check when the folder cannot be written', async () => {
    const blocker = path.join(dir, 'not-a-dir');
    fs.writeFileSync(blocker, '');
    await assert.rejects(PersistentQueue.open({ file: path.join(blocker, 'x.queue'), maxItems: 10, maxBytes: 1000 }), /user directory is writable/);
  });
});
