import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { headerAuth } from '../../../src/core/http/auth';
import { ServiceError, errorForStatus } from '../../../src/core/http/errors';
import { PersistentQueue } from '../../../src/core/dsmr-reader/queue';
import { DeliveryWorker, DeliveryState } from '../../../src/core/dsmr-reader/delivery';
import { DsmrReaderError } from '../../../src/core/dsmr-reader/errors';
import { classifyFailure, endpointUrl, sendPost } from '../../../src/core/dsmr-reader/api';
import { DsmrReaderPost, preparePost } from '../../../src/core/dsmr-reader/prepare';
import { deliveryStatus } from '../../../src/core/dsmr-reader/status';
import { DsmrReaderFake } from '../../../testing/fakes/dsmr-reader';
import { ManualClock, until } from '../../../testing/manual-clock';
import { BELGIAN, DSMR5, numberedTelegram } from '../../../testing/dsmr-telegrams';

const KEY = 'dsmr-api-key-7f3c9a1e5b2d4c6e8f0a';

describe('DSMR-reader endpoints and answers', () => {
  it('builds the endpoint from any base URL form users type', () => {
    assert.equal(endpointUrl('http://10.0.0.5:7777', 'v1'), 'http://10.0.0.5:7777/api/v1/datalogger/dsmrreading');
    assert.equal(endpointUrl('http://10.0.0.5:7777/', 'v2'), 'http://10.0.0.5:7777/api/v2/datalogger/dsmrreading');
    assert.equal(endpointUrl('https://home.example/dsmr/api/v1/', 'v2'), 'https://home.example/dsmr/api/v2/datalogger/dsmrreading');
    assert.equal(endpointUrl('https://home.example/dsmr/api', 'v1'), 'https://home.example/dsmr/api/v1/datalogger/dsmrreading');
  });

  const fromStatus = (status: number, serviceMessage?: string) => classifyFailure(errorForStatus(status, { service: 'dsmr-reader', serviceMessage }), 'v1');

  it('pauses on a wrong key or a disabled API, with DSMR-reader\'s hint and what to do', () => {
    const forbidden = fromStatus(403, 'Invalid auth key');
    assert.equal(forbidden.action, 'pause');
    assert.match(forbidden.message, /"Invalid auth key"/);
    assert.match(forbidden.message, /Copy the API key from DSMR-reader/);
    assert.match(forbidden.message, /every queued item is kept/);
    const disabled = fromStatus(405, 'API is disabled');
    assert.equal(disabled.action, 'pause');
    assert.match(disabled.message, /"API is disabled"/);
    assert.match(disabled.message, /Enable the API in DSMR-reader/);
    assert.match(classifyFailure(errorForStatus(403, { service: 'dsmr-reader' }), 'v2').message, /API is disabled in DSMR-reader/);
    assert.equal(fromStatus(404).action, 'pause');
    assert.equal(classifyFailure(new ServiceError('No base URL', { code: 'CONFIG' }), 'v1').action, 'pause');
  });

  it('drops only the item on 400 and on the 500 "Failed to parse telegram"', () => {
    const invalid = fromStatus(400, 'Invalid data');
    assert.equal(invalid.action, 'reject');
    assert.match(invalid.message, /"Invalid data"/);
    const unparsed = fromStatus(500, 'Failed to parse telegram');
    assert.equal(unparsed.action, 'reject');
    assert.match(unparsed.message, /dsmr_version/);
    assert.match(unparsed.message, /Belgium/);
    assert.equal(fromStatus(413).action, 'reject');
  });

  it('retries other server errors, timeouts and network failures', () => {
    assert.equal(fromStatus(500, 'Server Error (500)').action, 'retry');
    assert.equal(fromStatus(502).action, 'retry');
    assert.equal(fromStatus(503).action, 'retry');
    assert.equal(fromStatus(429).action, 'retry');
    assert.equal(classifyFailure(new ServiceError('x', { code: 'TIMEOUT', retryable: true }), 'v1').action, 'retry');
    assert.equal(classifyFailure(new ServiceError('x', { code: 'NETWORK', retryable: true }), 'v1').action, 'retry');
    assert.equal(classifyFailure(new Error('disk'), 'v1').action, 'retry');
    assert.equal(classifyFailure(new ServiceError('x', { code: 'CANCELLED' }), 'v1').action, 'stop');
  });

  it('shows queue length, last error and pause in the status', () => {
    const base: DeliveryState = { phase: 'backoff', queued: 12, queuedBytes: 0, dropped: 0, delivered: 0, rejected: 0, failedAttempts: 3, lastError: new DsmrReaderError('x', { code: 'DELIVERY', status: 503, action: 'retry' }) };
    assert.deepEqual(deliveryStatus(base), { fill: 'yellow', shape: 'ring', text: 'queued 12 · 503' });
    assert.equal(deliveryStatus({ ...base, dropped: 4 }).text, 'queued 12 · 503 · dropped 4');
    assert.deepEqual(deliveryStatus({ ...base, phase: 'paused', lastError: new DsmrReaderError('x', { code: 'DELIVERY', status: 403, action: 'pause' }) }), { fill: 'red', shape: 'ring', text: 'paused · 403 · 12' });
    assert.match(deliveryStatus({ ...base, phase: 'idle', queued: 0, lastError: undefined, lastDeliveredAt: Date.UTC(2024, 0, 1, 12) }).text, /^delivered \d\d:\d\d:\d\d$/);
    assert.equal(deliveryStatus({ ...base, phase: 'sending', queued: 40, lastError: undefined }).text, 'sending 40');
  });
});

describe('DeliveryWorker against a local DSMR-reader', () => {
  let fake: DsmrReaderFake;
  let client: ServiceHttpClient;
  let clock: ManualClock;
  let dir: string;
  let queue: PersistentQueue<DsmrReaderPost>;
  let worker: DeliveryWorker<DsmrReaderPost>;
  let events: string[];
  let errors: DsmrReaderError[];

  before(async () => {
    fake = await new DsmrReaderFake({ authKey: KEY, now: () => Date.UTC(2024, 2, 15, 12) }).start();
  });
  after(() => fake.stop());

  beforeEach(async () => {
    fake.reset();
    fake.authKey = KEY;
    clock = new ManualClock();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsmr-reader-delivery-'));
    client = new ServiceHttpClient({ service: 'dsmr-reader', baseURL: fake.url, auth: headerAuth('X-AUTHKEY', KEY), clock, timeoutMs: 2000, maxConcurrent: 1 });
    queue = await PersistentQueue.open<DsmrReaderPost>({ file: path.join(dir, 'n.queue'), maxItems: 10_000, maxBytes: 50 * 1024 * 1024, now: () => clock.now() });
    events = [];
    errors = [];
    worker = new DeliveryWorker<DsmrReaderPost>({
      queue,
      clock,
      baseDelayMs: 1000,
      maxDelayMs: 60_000,
      pauseProbeMs: 300_000,
      random: () => 0.5,
      send: (item, signal) => sendPost(client, fake.url, item.data, signal),
      classify: (error, item) => classifyFailure(error, item.data.api),
      listener: {
        outageStarted: (error) => events.push(`outage ${error.statusText}`),
        recovered: (n) => events.push(`recovered after ${n}`),
        paused: (error) => {
          events.push(`paused ${error.statusText}`);
          errors.push(error);
        },
        rejected: (item, error) => {
          events.push(`rejected ${error.statusText}`);
          errors.push(error);
        },
      },
    });
    worker.start();
  });
  afterEach(async () => {
    await worker.stop();
    await queue.close();
    await client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The worker is asleep (backoff/pause) or has delivered everything. */
  const quiet = () => clock.pending > 0 || (queue.length === 0 && worker.state.phase === 'idle');

  async function push(...posts: DsmrReaderPost[]): Promise<void> {
    for (const post of posts) {
      await queue.push(post);
      worker.notify();
    }
  }

  async function runUntil(condition: () => boolean, what: string, stepMs = 1000, maxSteps = 2000): Promise<void> {
    for (let i = 0; i < maxSteps && !condition(); i += 1) {
      await until(quiet, 'the worker to settle');
      if (condition()) return;
      await clock.advanceStepwise(stepMs, quiet);
    }
    assert.ok(condition(), `not reached: ${what}`);
  }

  it('posts a v1 telegram as the form field and a v2 reading as JSON; both are stored', async () => {
    await push(preparePost('v1', { telegram: DSMR5 }), preparePost('v2', { payload: BELGIAN }));
    await runUntil(() => fake.telegrams.length === 1 && fake.readings.length === 1, 'both stored');
    assert.equal(fake.telegrams[0], DSMR5);
    assert.equal(fake.readings[0].electricity_delivered_1, '2310.551');
    assert.equal(fake.requests[0].headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(fake.requests[1].headers['content-type'], 'application/json');
    assert.equal(fake.requests[0].headers['x-authkey'], KEY);
    assert.equal(queue.length, 0);
    assert.equal(worker.state.delivered, 2);
  });

  it('counts a 200 (DSMR-reader before 1.6) as delivered', async () => {
    fake.backend.fail({ kind: 'status', status: 200, body: '' }, 1);
    await push(preparePost('v1', { telegram: numberedTelegram(1) }), preparePost('v1', { telegram: numberedTelegram(2) }));
    await runUntil(() => queue.length === 0 && fake.telegrams.length === 1, 'drained');
    assert.equal(fake.requests.length, 2, 'each sent once');
  });

  it('survives a 10-minute outage of 503s: nothing lost, nothing duplicated, in order, with backoff', async () => {
    const sent = Array.from({ length: 600 }, (_, n) => numberedTelegram(n));
    fake.unavailable = 503;
    const outageStart = clock.now();
    for (const telegram of sent) {
      await push(preparePost('v1', { telegram }));
      await until(quiet, 'the worker to wait');
      await clock.advanceStepwise(1000, quiet);
    }
    assert.ok(clock.now() - outageStart >= 600_000);
    const attemptsDuringOutage = fake.requests.length;
    assert.equal(queue.length, 600);
    assert.equal(fake.telegrams.length, 0);
    assert.ok(attemptsDuringOutage >= 8 && attemptsDuringOutage <= 30, `${attemptsDuringOutage} attempts in 10 minutes`);
    assert.ok(Math.max(...clock.sleeps) <= 60_000, 'backoff is capped at the maximum delay');
    assert.deepEqual(events, ['outage 503']);

    fake.unavailable = false;
    await runUntil(() => fake.telegrams.length === 600, 'all delivered after the outage');
    assert.deepEqual(fake.telegrams, sent);
    assert.equal(fake.requests.length, attemptsDuringOutage + 600, 'every telegram posted exactly once after the outage');
    assert.equal(queue.length, 0);
    assert.deepEqual(events, ['outage 503', `recovered after ${attemptsDuringOutage}`]);
  });

  it('survives a server that is down (connection refused) and comes back on the same port', async () => {
    await fake.goDown();
    const sent = Array.from({ length: 20 }, (_, n) => numberedTelegram(n));
    for (const telegram of sent) {
      await push(preparePost('v1', { telegram }));
      await until(quiet, 'the worker to wait');
      await clock.advanceStepwise(5000, quiet);
    }
    assert.equal(queue.length, 20);
    assert.match(events[0], /^outage network/);
    await fake.comeBack();
    await runUntil(() => fake.telegrams.length === 20, 'delivered after the server came back');
    assert.deepEqual(fake.telegrams, sent);
  });

  it('retries a request that timed out and delivers it once', async () => {
    const quick = new ServiceHttpClient({ service: 'dsmr-reader', baseURL: fake.url, auth: headerAuth('X-AUTHKEY', KEY), clock, timeoutMs: 150, maxConcurrent: 1 });
    await worker.stop();
    worker = new DeliveryWorker<DsmrReaderPost>({ queue, clock, baseDelayMs: 1000, maxDelayMs: 60_000, pauseProbeMs: 300_000, send: (item, signal) => sendPost(quick, fake.url, item.data, signal), classify: (e, item) => classifyFailure(e, item.data.api) });
    worker.start();
    fake.backend.fail({ kind: 'hang' }, 1);
    await push(preparePost('v1', { telegram: numberedTelegram(1) }));
    await runUntil(() => fake.telegrams.length === 1, 'delivered after the timeout');
    assert.equal(worker.state.delivered, 1);
    assert.equal(fake.requests.length, 2);
    await quick.close();
  });

  it('waits quietly when its HTTP client is closed under it (config node redeployed), then carries on', async () => {
    let current = new ServiceHttpClient({ service: 'dsmr-reader', baseURL: fake.url, auth: headerAuth('X-AUTHKEY', KEY), clock, maxConcurrent: 1 });
    await worker.stop();
    worker = new DeliveryWorker<DsmrReaderPost>({
      queue,
      clock,
      baseDelayMs: 1000,
      maxDelayMs: 60_000,
      pauseProbeMs: 300_000,
      send: (item, signal) => sendPost(current, fake.url, item.data, signal),
      classify: (e, item) => classifyFailure(e, item.data.api),
      listener: { outageStarted: (error) => events.push(`outage ${error.statusText}`), paused: () => events.push('paused'), rejected: () => events.push('rejected') },
    });
    worker.start();
    await current.close();
    await push(preparePost('v1', { telegram: numberedTelegram(1) }));
    await until(quiet, 'waiting');
    assert.equal(queue.length, 1);
    current = new ServiceHttpClient({ service: 'dsmr-reader', baseURL: fake.url, auth: headerAuth('X-AUTHKEY', KEY), clock, maxConcurrent: 1 });
    await runUntil(() => fake.telegrams.length === 1, 'delivered with the new client');
    assert.deepEqual(events, [], 'no outage, pause or rejection reported');
    await current.close();
  });

  it('pauses on a wrong key (403), keeps the queue and probes slowly until the key works', async () => {
    fake.authKey = 'another-key-0000';
    await push(...[1, 2, 3].map((n) => preparePost('v1', { telegram: numberedTelegram(n) })));
    await until(quiet, 'paused');
    assert.equal(worker.state.phase, 'paused');
    assert.deepEqual(events, ['paused 403']);
    assert.match(errors[0].message, /"Invalid auth key"/);
    // Ten minutes later: two probes, no more, and nothing lost.
    await clock.advanceStepwise(600_000 - 1, quiet);
    assert.equal(fake.requests.length, 2);
    assert.equal(queue.length, 3);
    assert.deepEqual(events, ['paused 403'], 'told once per pause');
    fake.authKey = KEY;
    await runUntil(() => fake.telegrams.length === 3, 'delivered once the key matches', 60_000);
    assert.deepEqual(fake.telegrams, [1, 2, 3].map((n) => numberedTelegram(n)));
  });

  it('pauses while the API is disabled (405) and resumes when it is enabled again', async () => {
    fake.apiEnabled = false;
    await push(preparePost('v1', { telegram: numberedTelegram(1) }));
    await until(quiet, 'paused');
    assert.deepEqual(events, ['paused 405']);
    assert.match(errors[0].message, /"API is disabled"/);
    fake.apiEnabled = true;
    await runUntil(() => fake.telegrams.length === 1, 'delivered after enabling', 60_000);
    assert.deepEqual(events, ['paused 405', 'recovered after 1']);
  });

  it('drops only the item DSMR-reader cannot parse (500 "Failed to parse telegram") and delivers the rest', async () => {
    // DSMR-reader refuses a telegram whose timestamp lies more than 24 hours ahead of its clock.
    const future = numberedTelegram(0, Date.UTC(2024, 2, 20, 9));
    await push(preparePost('v1', { telegram: numberedTelegram(1) }), preparePost('v1', { telegram: future }), preparePost('v1', { telegram: numberedTelegram(2) }));
    await runUntil(() => queue.length === 0, 'queue drained');
    assert.deepEqual(fake.telegrams, [numberedTelegram(1), numberedTelegram(2)]);
    assert.deepEqual(events, ['rejected 500']);
    assert.match(errors[0].message, /"Failed to parse telegram"/);
    assert.equal(fake.requests.length, 3, 'the refused telegram is not retried');
  });

  it('drops only the item answered with 400 "Invalid data" and delivers the rest', async () => {
    fake.backend.fail({ kind: 'status', status: 400, body: 'Invalid data' }, 1);
    await push(preparePost('v1', { telegram: numberedTelegram(1) }), preparePost('v1', { telegram: numberedTelegram(2) }));
    await runUntil(() => queue.length === 0, 'queue drained');
    assert.deepEqual(fake.telegrams, [numberedTelegram(2)]);
    assert.deepEqual(events, ['rejected 400']);
    assert.match(errors[0].message, /"Invalid data"/);
  });

  it('reports a v2 field error (400) with DSMR-reader\'s field message', async () => {
    const reading = (preparePost('v2', { payload: DSMR5 }) as unknown as { reading: Record<string, unknown> }).reading;
    // A hand-made reading that bypassed validation, to see the server's answer.
    await push({ api: 'v2', reading: { ...reading, electricity_delivered_1: 1.23456 } as never }, preparePost('v2', { payload: DSMR5 }));
    await runUntil(() => queue.length === 0, 'queue drained');
    assert.equal(fake.readings.length, 1);
    assert.match(errors[0].message, /no more than 3 decimal places/);
  });
});
