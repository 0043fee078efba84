import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileSource, frameRecording } from '../../../src/core/p1-source/file-source';
import { expandEnvReferences } from '../../../src/core/p1-source/env';
import { openP1Source } from '../../../src/core/p1-source';
import { ManualClock } from '../../../testing/manual-clock';
import type { ConnectionState } from '../../../src/core/p1-source/connection-state';
import type { SourceListener, SourceStateInfo } from '../../../src/core/p1-source/source';
import { SerialPortPool } from '../../../src/core/serial/pool';
import { fixturePath, repoRoot } from '../../../testing/runtime';

const DEMO = path.join(repoRoot, 'demo', 'data', 'p1-recorded.txt');

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

class Recorder implements SourceListener {
  readonly data: Buffer[] = [];
  readonly states: Array<{ state: ConnectionState; info: SourceStateInfo }> = [];
  readonly problems: Error[] = [];
  readonly warnings: string[] = [];
  onData(chunk: Buffer): void {
    this.data.push(chunk);
  }
  onState(state: ConnectionState, info: SourceStateInfo): void {
    this.states.push({ state, info });
  }
  onProblem(error: Error): void {
    this.problems.push(error);
  }
  onWarning(text: string): void {
    this.warnings.push(text);
  }
  get state(): ConnectionState | undefined {
    return this.states.at(-1)?.state;
  }
}

describe('recorded file source', () => {
  it('replays every telegram of the demo recording once per interval, then loops', async () => {
    const { telegrams } = frameRecording(fs.readFileSync(DEMO));
    assert.equal(telegrams.length, 5, 'the demo file holds five telegrams');
    const timers = new ManualClock();
    const listener = new Recorder();
    const source = new FileSource({ path: DEMO, intervalMs: 2000, clock: timers }, listener);
    await until(() => listener.data.length === 1, 'the first telegram');
    assert.equal(listener.state, 'open');
    timers.advance(1999);
    assert.equal(listener.data.length, 1, 'nothing before the interval');
    timers.advance(1);
    assert.equal(listener.data.length, 2);
    timers.advance(2000 * 5);
    assert.equal(listener.data.length, 7);
    assert.deepEqual(listener.data.slice(0, 5), telegrams);
    assert.deepEqual(listener.data[5], telegrams[0], 'starts again at the first telegram');
    await source.close();
    assert.equal(timers.pending, 0);
    assert.equal(listener.state, 'idle');
  });

  it('frames a recording that starts mid-telegram and warns about the bytes it skips', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p1-file-'));
    const telegram = fs.readFileSync(fixturePath('dsmr', 'ndokter_v5-iskra-mt382.txt'));
    const file = path.join(dir, 'capture.txt');
    fs.writeFileSync(file, Buffer.concat([telegram.subarray(500), telegram, telegram]));
    const timers = new ManualClock();
    const listener = new Recorder();
    const source = new FileSource({ path: file, intervalMs: 1000, clock: timers }, listener);
    await until(() => listener.data.length === 1, 'the first telegram');
    assert.deepEqual(listener.data[0], telegram);
    assert.match(listener.warnings[0], /bytes of .* are not part of a complete telegram/);
    await source.close();
  });

  it('reports a missing file once and keeps retrying until it appears', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p1-file-'));
    const file = path.join(dir, 'later.txt');
    const timers = new ManualClock();
    const listener = new Recorder();
    const source = new FileSource({ path: file, intervalMs: 1000, clock: timers, reconnectMs: 5000 }, listener);
    await until(() => listener.state === 'waiting-to-retry', 'the failure');
    timers.advance(5000);
    await until(() => listener.states.filter((s) => s.state === 'waiting-to-retry').length === 2, 'the second failure');
    assert.equal(listener.problems.length, 1);
    assert.match(listener.problems[0].message, /does not exist/);
    fs.copyFileSync(DEMO, file);
    timers.advance(5000);
    await until(() => listener.data.length === 1, 'the replay');
    await source.close();
  });

  it('expands ${VAR} references in the path and names a missing variable', async () => {
    assert.equal(expandEnvReferences('${DIR}/data/p1.txt', (name) => (name === 'DIR' ? '/srv/demo' : undefined)), '/srv/demo/data/p1.txt');
    assert.throws(() => expandEnvReferences('${NOPE}/p1.txt', () => undefined), /Environment variable NOPE used in "\$\{NOPE\}\/p1.txt" is not set/);

    const timers = new ManualClock();
    const listener = new Recorder();
    const source = openP1Source(
      { source: 'file', filePath: '${P1_TEST_DEMO_DIR}/data/p1-recorded.txt', interval: '2' },
      { pool: () => new SerialPortPool({ createPort: () => assert.fail('no serial port for a file source') }), clock: timers, env: (name) => (name === 'P1_TEST_DEMO_DIR' ? path.join(repoRoot, 'demo') : undefined) },
      listener,
    );
    await until(() => listener.data.length === 1, 'the first telegram');
    await source.close();
  });

  it('rejects configuration mistakes with a sentence', () => {
    const deps = { pool: () => assert.fail('unused'), env: () => undefined };
    const listener = new Recorder();
    assert.throws(() => openP1Source({ source: 'file', filePath: '', interval: '2' }, deps, listener), /Enter the path/);
    assert.throws(() => openP1Source({ source: 'file', filePath: '/x', interval: '0' }, deps, listener), /more than 0 seconds/);
    assert.throws(() => openP1Source({ source: 'serial', serialPath: ' ' }, deps, listener), /Choose the serial port/);
    assert.throws(() => openP1Source({ source: 'carrier-pigeon' }, deps, listener), /Unknown source/);
  });
});
