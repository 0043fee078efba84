import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MessageBatcher } from '../../../src/core/metry/batcher';
import { forceRequest, metersFromMessage } from '../../../src/core/metry/input';
import { ManualClock } from '../../../testing/manual-clock';

describe('gathering a message sequence into batches', () => {
  it('runs a batch when it is full and when the announced count has arrived', async () => {
    const batches: number[][] = [];
    const clock = new ManualClock();
    const batcher = new MessageBatcher<number>({ maxSize: 3, idleMs: 100, clock, run: async (items) => void batches.push(items) });
    const done = [1, 2, 3, 4, 5].map((n) => batcher.add('seq', n, n === 5 ? 5 : undefined));
    await Promise.all(done);
    assert.deepEqual(batches, [[1, 2, 3], [4, 5]]);
    assert.equal(batcher.waiting, 0);
    assert.equal(clock.pending, 0, 'no idle timer left behind');
  });

  it('runs what it has after an idle period when no count is announced, per sequence', async () => {
    const batches: string[][] = [];
    const clock = new ManualClock();
    const batcher = new MessageBatcher<string>({ maxSize: 10, idleMs: 100, clock, run: async (items) => void batches.push(items) });
    const done = [batcher.add('a', 'a1'), batcher.add('b', 'b1')];
    clock.advance(60);
    done.push(batcher.add('a', 'a2'));
    assert.deepEqual(batches, []);
    assert.equal(batcher.waiting, 3);
    clock.advance(40);
    assert.deepEqual(batches, [['b1']], 'b was idle for 100 ms; a got a message 40 ms ago');
    clock.advance(60);
    await Promise.all(done);
    assert.deepEqual(batches, [['b1'], ['a1', 'a2']]);
  });

  it('reports a failed batch once, on its first message', async () => {
    const batcher = new MessageBatcher<number>({ maxSize: 3, idleMs: 100, clock: new ManualClock(), run: async () => { throw new Error('Metry is down'); } });
    const results = await Promise.allSettled([1, 2, 3].map((n) => batcher.add('seq', n)));
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled']);
    assert.match(((results[0] as PromiseRejectedResult).reason as Error).message, /Metry is down/);
  });

  it('ends waiting items without running them when the node closes', async () => {
    const batches: number[][] = [];
    const clock = new ManualClock();
    const batcher = new MessageBatcher<number>({ maxSize: 10, idleMs: 100, clock, run: async (items) => void batches.push(items) });
    const done = [batcher.add('a', 1), batcher.add('b', 2)];
    assert.equal(batcher.discardAll(), 2);
    await Promise.all(done);
    assert.deepEqual(batches, []);
    assert.equal(clock.pending, 0);
  });

  it('flushes everything on request', async () => {
    const batches: number[][] = [];
    const clock = new ManualClock();
    const batcher = new MessageBatcher<number>({ maxSize: 10, idleMs: 100, clock, run: async (items) => void batches.push(items) });
    const done = batcher.add('seq', 1);
    batcher.flushAll();
    await done;
    assert.deepEqual(batches, [[1]]);
    assert.equal(clock.pending, 0);
  });
});

describe('reading a metry-consumption message', () => {
  it('takes meters from msg.force or else the payload, and true as "the payload, the node period"', () => {
    assert.equal(forceRequest(undefined), undefined);
    assert.deepEqual(forceRequest(true), {});
    assert.deepEqual(metersFromMessage(['a', 'b'], undefined), ['a', 'b']);
    assert.deepEqual(metersFromMessage('a', forceRequest(true)), ['a']);
    assert.deepEqual(metersFromMessage('a', forceRequest({ meter: 'x', period: '202401' })), ['x']);
    assert.deepEqual(metersFromMessage('a', forceRequest({ meters: ['x', 'y'] })), ['x', 'y']);
  });
});
