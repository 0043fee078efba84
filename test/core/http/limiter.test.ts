/**
 * The rate limit against a strict window, in virtual time: the limiter must never start more
 * than N requests in any sliding second, also when its timers fire late (a busy event loop)
 * and after a pause, and it must not be slower than the margin requires.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RATE_MARGIN, RequestLimiter } from '../../../src/core/http/limiter';
import type { Clock, TimerHandle } from '../../../src/core/runtime/clock';
import { sleepWithTimers } from '../../../src/core/runtime/clock';
import { ManualClock, settle } from '../../../testing/manual-clock';

/** A clock whose timers fire late by `lateness(n)` ms for the n-th timer: a busy event loop. */
class LateClock implements Clock {
  private count = 0;
  constructor(
    readonly inner: ManualClock,
    private readonly lateness: (n: number) => number,
  ) {}
  now(): number {
    return this.inner.now();
  }
  setTimer(callback: () => void, ms: number): TimerHandle {
    this.count += 1;
    return this.inner.setTimer(callback, ms + this.lateness(this.count));
  }
  clearTimer(handle: TimerHandle | undefined): void {
    this.inner.clearTimer(handle);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWithTimers(this, ms, signal);
  }
}

/** The most starts that fall into any window [t, t + 1000 ms). */
function busiestSecond(starts: readonly number[]): number {
  let most = 0;
  for (const from of starts) most = Math.max(most, starts.filter((t) => t >= from && t < from + 1000).length);
  return most;
}

function gaps(starts: readonly number[]): number[] {
  return starts.slice(1).map((t, i) => t - starts[i]);
}

/** Starts `count` requests at once and records when each is let through; resolves when all are. */
function startRequests(limiter: RequestLimiter, clock: Clock, count: number, starts: number[]): Promise<void> {
  return Promise.all(
    Array.from({ length: count }, () =>
      limiter.acquire().then((release) => {
        starts.push(clock.now());
        release();
      }),
    ),
  ).then(() => undefined);
}

describe('RequestLimiter rate limit', () => {
  it('starts no more than 10 requests in any sliding second at 10/s, evenly just under the rate', async () => {
    const clock = new ManualClock(0);
    const limiter = new RequestLimiter({ maxConcurrent: 0, requestsPerSecond: 10, clock });
    const starts: number[] = [];
    const all = startRequests(limiter, clock, 30, starts);
    await clock.whenTimers(1);
    await settle();
    await clock.advanceStepwise(10_000);
    await all;
    assert.equal(starts.length, 30);
    assert.ok(busiestSecond(starts) <= 10, `busiest second had ${busiestSecond(starts)} starts`);
    const spacing = 1000 / (10 * DEFAULT_RATE_MARGIN);
    assert.ok(gaps(starts).every((gap) => gap >= spacing), `gaps ${gaps(starts)}`);
    // Not slower than the margin asks for: 29 gaps of about 105.3 ms (whole ms, rounded up).
    assert.ok(starts[29] - starts[0] <= 29 * Math.ceil(spacing), `30 starts took ${starts[29] - starts[0]} ms`);
  });

  it('plans from actual start times, so a timer that fires late is not caught up with a burst', async () => {
    const manual = new ManualClock(0);
    // Every other timer fires 73 ms late, as seen on a busy machine.
    const clock = new LateClock(manual, (n) => (n % 2 === 0 ? 73 : 0));
    const limiter = new RequestLimiter({ maxConcurrent: 0, requestsPerSecond: 10, clock });
    const starts: number[] = [];
    const all = startRequests(limiter, clock, 30, starts);
    await manual.whenTimers(1);
    await settle();
    await manual.advanceStepwise(20_000);
    await all;
    assert.equal(starts.length, 30);
    const spacing = 1000 / (10 * DEFAULT_RATE_MARGIN);
    assert.ok(gaps(starts).every((gap) => gap >= spacing), `a late timer shortened a gap: ${gaps(starts)}`);
    assert.ok(busiestSecond(starts) <= 10, `busiest second had ${busiestSecond(starts)} starts`);
  });

  it('keeps the sliding window even without a margin and with late timers', async () => {
    const manual = new ManualClock(0);
    const clock = new LateClock(manual, (n) => (n % 3 === 0 ? 250 : 0));
    const limiter = new RequestLimiter({ maxConcurrent: 0, requestsPerSecond: 10, rateMargin: 1, clock });
    const starts: number[] = [];
    const all = startRequests(limiter, clock, 40, starts);
    await manual.whenTimers(1);
    await settle();
    await manual.advanceStepwise(20_000);
    await all;
    assert.ok(busiestSecond(starts) <= 10, `busiest second had ${busiestSecond(starts)} starts`);
  });

  it('lets the first request after a pause go at once, and no burst follows it', async () => {
    const clock = new ManualClock(0);
    const limiter = new RequestLimiter({ maxConcurrent: 0, requestsPerSecond: 10, clock });
    const starts: number[] = [];
    const first = startRequests(limiter, clock, 10, starts);
    await clock.whenTimers(1);
    await settle();
    await clock.advanceStepwise(5_000);
    await first;
    const resumedAt = clock.now();
    const second = startRequests(limiter, clock, 15, starts);
    await clock.whenTimers(1);
    await settle();
    await clock.advanceStepwise(5_000);
    await second;
    assert.equal(starts.length, 25);
    assert.equal(starts[10], resumedAt, 'the first request after the pause did not wait');
    assert.ok(busiestSecond(starts) <= 10, `busiest second had ${busiestSecond(starts)} starts`);
    assert.ok(gaps(starts.slice(10)).every((gap) => gap >= 1000 / (10 * DEFAULT_RATE_MARGIN)), `gaps ${gaps(starts.slice(10))}`);
  });

  it('allows one request per window below 1/s and spaces it for the margin', async () => {
    const clock = new ManualClock(0);
    const limiter = new RequestLimiter({ maxConcurrent: 0, requestsPerSecond: 0.5, clock });
    const starts: number[] = [];
    const all = startRequests(limiter, clock, 4, starts);
    await clock.whenTimers(1);
    await settle();
    await clock.advanceStepwise(20_000);
    await all;
    assert.ok(gaps(starts).every((gap) => gap >= 2000 / DEFAULT_RATE_MARGIN), `gaps ${gaps(starts)}`);
  });

  it('drops a request whose signal aborts while it waits for the rate, and the rest go on', async () => {
    const clock = new ManualClock(0);
    const limiter = new RequestLimiter({ maxConcurrent: 0, requestsPerSecond: 2, clock });
    const starts: number[] = [];
    const before = startRequests(limiter, clock, 1, starts);
    await before;
    const controller = new AbortController();
    const aborted = limiter.acquire(controller.signal);
    const after = startRequests(limiter, clock, 1, starts);
    await clock.whenTimers(1);
    await settle();
    assert.equal(limiter.queued, 2);
    controller.abort(new Error('closed'));
    await assert.rejects(aborted, /closed/);
    assert.equal(limiter.queued, 1);
    await clock.advanceStepwise(2_000);
    await after;
    assert.equal(starts.length, 2);
    assert.equal(limiter.queued, 0);
  });

  it('waits for nothing without a rate', async () => {
    const clock = new ManualClock(0);
    const limiter = new RequestLimiter({ maxConcurrent: 0, requestsPerSecond: 0, clock });
    const starts: number[] = [];
    await startRequests(limiter, clock, 50, starts);
    assert.equal(clock.pending, 0);
    assert.ok(starts.every((t) => t === 0));
  });
});
