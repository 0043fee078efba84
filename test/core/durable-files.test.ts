import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ShortWriteError, diskFullDetail, writeFileAtomically, writeFully, type WritableFile } from '../../src/core/durable-files';

/** A file that takes at most `chunk` bytes per write, and nothing once `room` is used up. */
function cramped(room: number, chunk: number): WritableFile & { bytes: number[] } {
  const bytes: number[] = [];
  return {
    bytes,
    async write(buffer, offset, length) {
      const take = Math.max(0, Math.min(chunk, length, room - bytes.length));
      bytes.push(...buffer.subarray(offset, offset + take));
      return { bytesWritten: take };
    },
  };
}

describe('durable files', () => {
  it('continues after short writes until every byte is written', async () => {
    const file = cramped(100, 3);
    await writeFully(file, Buffer.from('0123456789'));
    assert.equal(Buffer.from(file.bytes).toString(), '0123456789');
  });

  it('says the disk is full when a write makes no progress, with how far it got', async () => {
    const file = cramped(4, 3);
    const error = await writeFully(file, Buffer.from('0123456789')).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof ShortWriteError);
    assert.equal(diskFullDetail(error), 'only 4 of 10 bytes were written');
    assert.equal(diskFullDetail(Object.assign(new Error('x'), { code: 'ENOSPC' })), 'ENOSPC');
    assert.equal(diskFullDetail(Object.assign(new Error('x'), { code: 'EACCES' })), undefined);
  });

  it('replaces a file all at once and leaves no temporary file behind', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-'));
    try {
      const file = path.join(dir, 'sub', 'cursor.json');
      await writeFileAtomically(file, '{"a":1}');
      await writeFileAtomically(file, '{"a":2}');
      assert.equal(fs.readFileSync(file, 'utf8'), '{"a":2}');
      assert.deepEqual(fs.readdirSync(path.dirname(file)), ['cursor.json']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
