import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeadLetter, DeadLetterFile, deadLetterFilePath } from '../../../src/core/dsmr-reader/dead-letters';

interface Item {
  telegram: string;
}

function letter(telegram: string, attempts = 1): DeadLetter<Item> {
  return { deadAt: '2024-03-15T11:00:00.000Z', queuedAt: '2024-03-15T10:59:00.000Z', attempts, status: 500, answer: 'Failed to parse telegram', reason: 'refused', item: { telegram } };
}

describe('DeadLetterFile (JSON lines next to the queue file)', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsmr-reader-dead-'));
    file = deadLetterFilePath(path.join(dir, 'out1.queue'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lives next to the queue file', () => {
    assert.equal(file, path.join(dir, 'out1.dead-letters.jsonl'));
  });

  it('appends one JSON object per line, reads them back in order and empties on request', async () => {
    const letters = await DeadLetterFile.open<Item>(file, 1024 * 1024);
    assert.equal(letters.count, 0);
    assert.equal(fs.existsSync(file), false, 'no file until there is a dead letter');
    assert.equal(await letters.append(letter('/A\r\n!\r\n')), true);
    assert.equal(await letters.append(letter('/B\r\n!\r\n', 5)), true);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[2], '');
    assert.deepEqual(JSON.parse(lines[1]), letter('/B\r\n!\r\n', 5), 'readable with any JSON tool');
    const { letters: read, damaged } = await letters.readAll();
    assert.deepEqual(read.map((l) => l.item.telegram), ['/A\r\n!\r\n', '/B\r\n!\r\n']);
    assert.equal(damaged, 0);
    await letters.clear();
    assert.equal(letters.count, 0);
    assert.equal(fs.readFileSync(file, 'utf8'), '');
    await letters.close();
  });

  it('keeps its letters across a restart and cuts off a line torn by a crash', async () => {
    const letters = await DeadLetterFile.open<Item>(file, 1024 * 1024);
    await letters.append(letter('/A\r\n!\r\n'));
    await letters.close();
    fs.appendFileSync(file, '{"deadAt":"2024-03-15T11:00:01.000Z","item":{"tele');
    const reopened = await DeadLetterFile.open<Item>(file, 1024 * 1024);
    assert.equal(reopened.count, 1);
    assert.ok(fs.readFileSync(file, 'utf8').endsWith('}\n'), 'the torn line is gone, so the next one is not glued to it');
    await reopened.append(letter('/B\r\n!\r\n'));
    assert.deepEqual((await reopened.readAll()).letters.map((l) => l.item.telegram), ['/A\r\n!\r\n', '/B\r\n!\r\n']);
    await reopened.close();
  });

  it('counts a damaged line instead of failing on it', async () => {
    fs.writeFileSync(file, `${JSON.stringify(letter('/A\r\n!\r\n'))}\nnot json\n`);
    const letters = await DeadLetterFile.open<Item>(file, 1024 * 1024);
    const { letters: read, damaged } = await letters.readAll();
    assert.equal(read.length, 1);
    assert.equal(damaged, 1);
    await letters.close();
  });

  it('writes nothing once the byte limit is reached, and says so', async () => {
    const letters = await DeadLetterFile.open<Item>(file, 400);
    assert.equal(await letters.append(letter('x'.repeat(100))), true);
    assert.equal(await letters.append(letter('y'.repeat(200))), false);
    assert.equal(letters.count, 1);
    assert.equal((await letters.readAll()).letters.length, 1);
    await letters.close();
  });

  it('fails loudly and leaves no half line when the disk refuses part of a write (a child under ulimit -f)', { skip: process.platform === 'win32' }, () => {
    // The child writes a small letter, then one that crosses the 2 KiB file-size limit: the kernel
    // writes part of it (a short write) and refuses the rest with EFBIG.
    const modulePath = path.join(__dirname, '..', '..', '..', 'src', 'core', 'dsmr-reader', 'dead-letters.js');
    const script = `
      const { DeadLetterFile } = require(${JSON.stringify(modulePath)});
      const letter = (telegram) => ({ deadAt: 'x', queuedAt: 'x', attempts: 1, reason: 'r', item: { telegram } });
      (async () => {
        const letters = await DeadLetterFile.open(${JSON.stringify(file)}, 1e9);
        await letters.append(letter('small'));
        try {
          await letters.append(letter('L'.repeat(4000)));
          console.log('no error');
        } catch (error) {
          console.log(error.name + ': ' + error.message);
        }
        console.log('count ' + letters.count);
      })();`;
    const child = spawnSync('bash', ['-c', `ulimit -f 2 && exec "${process.execPath}" -e '${script.replace(/'/g, "'\\''")}'`], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /DeadLetterError: Could not write to the dead-letter file .* \(EFBIG\)\. Check that .* the disk is not full/);
    assert.match(child.stdout, /count 1/);
    const content = fs.readFileSync(file, 'utf8');
    assert.equal(content.split('\n').length, 2, 'exactly the first letter and its newline');
    assert.equal(JSON.parse(content.split('\n')[0]).item.telegram, 'small');
  });
});
