import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileSource, frameRecording } from '../../../src/core/p1-source/file-source';
import { expandEnvReferences } from '../../../src/core/p1-source/env';
import { openP1Source, readP1InOptions } from '../../../src/core/p1-source';
import { SerialPortPool } from '../../../src/core/p1-source/serial/pool';
import { ManualClock } from '../../../testing/manual-clock';
import { fixturePath, repoRoot } from '../../../testing/runtime';
import { Recorder } from './recorder';

const DEMO = path.join(repoRoot, 'demo', 'data', 'p1-recorded.txt');

describe('recorded file source', () => {
  it('replays every telegram of the demo recording once per interval, then loops', async () => {
    const { telegrams } = frameRecording(fs.readFileSync(DEMO));
    assert.equal(telegrams.length, 5, 'the demo file holds five telegrams');
    const clock = new ManualClock();
    const listener = new Recorder(clock);
    const source = new FileSource({ path: DEMO, intervalMs: 2000, clock }, listener);
    await listener.when(() => listener.data.length === 1, 'the first telegram');
    assert.equal(listener.state, 'open');
    clock.advance(1999);
    assert.equal(listener.data.length, 1, 'nothing before the interval');
    clock.advance(1);
    assert.equal(listener.data.length, 2);
    clock.advance(2000 * 5);
    assert.equal(listener.data.length, 7);
    assert.deepEqual(listener.data.slice(0, 5), telegrams);
    assert.deepEqual(listener.data[5], telegrams[0], 'starts again at the first telegram');
    assert.equal(listener.info!.lateSince, undefined, 'a replay is never late');
    await source.close();
    assert.equal(clock.pending, 0);
    assert.equal(listener.state, 'idle');
  });

  it('stops after the last telegram when not looping', async () => {
    const clock = new ManualClock();
    const listener = new Recorder(clock);
    const source = new FileSource({ path: DEMO, intervalMs: 1000, clock, loop: false }, listener);
    await listener.when(() => listener.data.length === 1, 'the first telegram');
    clock.advance(60_000);
    assert.equal(listener.data.length, 5);
    assert.equal(clock.pending, 0);
    assert.equal(listener.state, 'open');
    await source.close();
  });

  it('frames a recording that starts mid-telegram and warns about the bytes it skips', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p1-file-'));
    const telegram = fs.readFileSync(fixturePath('dsmr', 'ndokter_v5-iskra-mt382.txt'));
    const file = path.join(dir, 'capture.txt');
    fs.writeFileSync(file, Buffer.concat([telegram.subarray(500), telegram, telegram]));
    const clock = new ManualClock();
    const listener = new Recorder(clock);
    const source = new FileSource({ path: file, intervalMs: 1000, clock }, listener);
    await listener.when(() => listener.data.length === 1, 'the first telegram');
    assert.deepEqual(listener.data[0], telegram);
    assert.match(listener.warnings[0], /bytes of .* are not part of a complete telegram/);
    await source.close();
  });

  it('reports a missing file once and keeps retrying with backoff until it appears', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p1-file-'));
    const file = path.join(dir, 'later.txt');
    const clock = new ManualClock();
    const listener = new Recorder(clock);
    const source = new FileSource({ path: file, intervalMs: 1000, clock }, listener);
    const failures = (): number => listener.states.filter((s) => s.state === 'waiting-to-retry').length;
    await listener.when(() => failures() === 1, 'the failure');
    assert.equal(listener.info!.retryInMs, 1000);
    clock.advance(1000);
    await listener.when(() => failures() === 2, 'the second failure');
    assert.equal(listener.info!.retryInMs, 2000);
    assert.deepEqual(listener.problemCodes, ['no file']);
    assert.match(listener.problems[0].message, /does not exist/);
    fs.copyFileSync(DEMO, file);
    clock.advance(2000);
    await listener.when(() => listener.data.length === 1, 'the replay');
    await source.close();
  });

  it('expands ${VAR} references in the path and names a missing variable', async () => {
    assert.equal(expandEnvReferences('${DIR}/data/p1.txt', (name) => (name === 'DIR' ? '/srv/demo' : undefined)), '/srv/demo/data/p1.txt');
    assert.throws(() => expandEnvReferences('${NOPE}/p1.txt', () => undefined), /Environment variable NOPE used in "\$\{NOPE\}\/p1.txt" is not set/);

    const clock = new ManualClock();
    const listener = new Recorder(clock);
    const options = readP1InOptions({ source: 'file', filePath: '${P1_TEST_DEMO_DIR}/data/p1-recorded.txt', interval: '2' }, {}, (name) =>
      name === 'P1_TEST_DEMO_DIR' ? path.join(repoRoot, 'demo') : undefined,
    );
    const source = openP1Source(options, { pool: () => new SerialPortPool({ createPort: () => assert.fail('no serial port for a file source') }), clock }, listener);
    await listener.when(() => listener.data.length === 1, 'the first telegram');
    await source.close();
  });
});
