import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { headerAuth } from '../../../src/core/http/auth';
import { ServiceError, errorForStatus } from '../../../src/core/http/errors';
import type { RetryPolicy } from '../../../src/core/runtime/backoff';
import { PersistentQueue } from '../../../src/core/dsmr-reader/queue';
import { DeadLetterFile } from '../../../src/core/dsmr-reader/dead-letters';
import { DeliveryWorker, DeliveryState, DeliveryOptions } from '../../../src/core/dsmr-reader/delivery';
import { DsmrReaderError } from '../../../src/core/dsmr-reader/errors';
import { classifyFailure, endpointUrl, isStored, sendPost } from '../../../src/core/dsmr-reader/api';
import { DsmrReaderPost, preparePost } from '../../../src/core/dsmr-reader/prepare';
import { deliveryStatus } from '../../../src/core/dsmr-reader/status';
import { DsmrReaderFake } from '../../../testing/fakes/dsmr-reader';
import { ManualClock } from '../../../testing/manual-clock';
import { BELGIAN, DSMR22, DSMR5, numberedTelegram, withCrc, DSMR5_LINES } from '../../../testing/dsmr-telegrams';

const KEY = 'dsmr-api-key-7f3c9a1e5b2d4c6e8f0a';
const SERVER_NOW = Date.UTC(2024, 2, 15, 12);
const RETRY: RetryPolicy = { baseDelayMs: 1000, maxDelayMs: 60_000, jitter: true, maxRetries: 4, maxRetryAfterMs: 300_000 };
/** A guard so a missing event fails the test instead of hanging the run; never a timing assertion. */
const GUARD = { timeout: 120_000 };

const v1 = (telegram: string): DsmrReaderPost => preparePost('v1', { telegram });

/** A telegram as an earlier version of the node queued it: a Luxembourg meter writing Wh, sent raw. */
const WH_TELEGRAM = withCrc(DSMR5_LINES.map((line) => line.replace('1-0:1.8.1(004512.734*kWh)', '1-0:1.8.1(5017120*Wh)')));

describe('DSMR-reader endpoints and answers', () => {
  it('builds the endpoint from any base URL form users type', () => {
    assert.equal(endpointUrl('http://10.0.0.5:7777', 'v1'), 'http://10.0.0.5:7777/api/v1/datalogger/dsmrreading');
    assert.equal(endpointUrl('http://10.0.0.5:7777/', 'v2'), 'http://10.0.0.5:7777/api/v2/datalogger/dsmrreading');
    assert.equal(endpointUrl('https://home.example/dsmr/api/v1/', 'v2'), 'https://home.example/dsmr/api/v2/datalogger/dsmrreading');
    assert.equal(endpointUrl('https://home.example/dsmr/api', 'v1'), 'https://home.example/dsmr/api/v1/datalogger/dsmrreading');
  });

  const fromStatus = (status: number, serviceMessage?: string, post = v1(DSMR5)) => classifyFailure(errorForStatus(status, { service: 'dsmr-reader', serviceMessage }), post);

  it('pauses on a wrong key or a disabled API, with DSMR-reader\'s hint and what to do', () => {
    const forbidden = fromStatus(403, 'Invalid auth key');
    assert.equal(forbidden.action, 'pause');
    assert.match(forbidden.message, /"Invalid auth key"/);
    assert.match(forbidden.message, /Copy the API key from DSMR-reader/);
    assert.match(forbidden.message, /every queued item is kept/);
    const disabled = fromStatus(405, 'API is disabled');
    assert.equal(disabled.action, 'pause');
    assert.match(disabled.message, /Enable the API in DSMR-reader/);
    assert.match(fromStatus(403, undefined, preparePost('v2', { payload: DSMR5 })).message, /API is disabled in DSMR-reader/);
    assert.equal(fromStatus(404).action, 'pause');
    assert.equal(classifyFailure(new ServiceError('No base URL', { code: 'CONFIG' }), v1(DSMR5)).action, 'pause');
  });

  it('moves only the item to the dead letters on 400 and on the 500 "Failed to parse telegram", naming the dsmr_version it needs', () => {
    const invalid = fromStatus(400, 'Invalid data');
    assert.equal(invalid.action, 'reject');
    assert.match(invalid.message, /"Invalid data"/);
    assert.match(invalid.message, /dead-letter file/);
    assert.match(invalid.message, /retry-dead-letters/);
    const withoutCrc = fromStatus(500, 'Failed to parse telegram', v1(DSMR22));
    assert.equal(withoutCrc.action, 'reject');
    assert.match(withoutCrc.message, /dsmr_version/);
    assert.match(withoutCrc.message, /"DSMR v2\/3" \(the telegram has no CRC\)/);
    assert.match(fromStatus(500, 'Failed to parse telegram', v1(BELGIAN)).message, /"Belgium \(Fluvius\)"/);
    assert.match(fromStatus(500, 'Failed to parse telegram').message, /"DSMR v4\/v5"/);
    assert.equal(fromStatus(413).action, 'reject');
  });

  it('retries other server errors, timeouts and network failures, and says which may have been stored', () => {
    const page = fromStatus(500, 'Server Error (500)');
    assert.equal(page.action, 'retry');
    assert.equal(page.maybeStored, true, 'DSMR-reader may fail after storing');
    assert.equal(page.failureKey, '500 Server Error (500)');
    assert.deepEqual([502, 503, 429].map((status) => fromStatus(status).action), ['retry', 'retry', 'retry']);
    assert.equal(fromStatus(503).maybeStored, false, 'a 503 server takes no requests');
    assert.equal(fromStatus(503).failureKey, undefined, 'unavailable is never blamed on the item');
    const timeout = classifyFailure(new ServiceError('x', { code: 'TIMEOUT', retryable: true }), v1(DSMR5));
    assert.equal(timeout.action, 'retry');
    assert.equal(timeout.maybeStored, true);
    assert.equal(classifyFailure(new ServiceError('x', { code: 'NETWORK', retryable: true }), v1(DSMR5)).maybeStored, true);
    assert.equal(classifyFailure(new Error('disk'), v1(DSMR5)).action, 'retry');
    assert.equal(classifyFailure(new ServiceError('x', { code: 'CANCELLED' }), v1(DSMR5)).action, 'stop');
  });

  it('shows queue length, last error, pause and dead letters as catalog keys with parameters', () => {
    const base: DeliveryState = { phase: 'backoff', queued: 12, queuedBytes: 0, dropped: 0, delivered: 0, deadLettered: 0, alreadyStored: 0, failedAttempts: 3, lastError: new DsmrReaderError('x', { code: 'DELIVERY', status: 503, action: 'retry' }) };
    assert.deepEqual(deliveryStatus(base), { kind: 'retrying', fill: 'yellow', shape: 'ring', key: 'queued', params: { reason: '503', queued: 12, dropped: 0 } });
    assert.equal(deliveryStatus({ ...base, dropped: 4 }).key, 'queuedDropped');
    const paused = deliveryStatus({ ...base, phase: 'paused', lastError: new DsmrReaderError('x', { code: 'DELIVERY', status: 403, action: 'pause' }) });
    assert.deepEqual([paused.fill, paused.shape, paused.key, paused.params?.reason], ['red', 'ring', 'paused', '403']);
    const delivered = deliveryStatus({ ...base, phase: 'idle', queued: 0, lastError: undefined, lastDeliveredAt: Date.UTC(2024, 0, 1, 12) });
    assert.equal(delivered.key, 'delivered');
    assert.match(String(delivered.params?.time), /^\d\d:\d\d:\d\d$/);
    assert.deepEqual(deliveryStatus({ ...base, phase: 'sending', queued: 40, lastError: undefined }).params, { queued: 40, dropped: 0 });
    assert.equal(deliveryStatus({ ...base, phase: 'idle', queued: 0, deadLettered: 1, lastError: new DsmrReaderError('x', { code: 'DELIVERY', status: 400, action: 'reject' }) }).key, 'deadLettered');
    assert.deepEqual(deliveryStatus({ ...base, phase: 'idle', queued: 0, lastError: undefined, lastDeliveredAt: 1 }, 2).params, { dead: 2 });
  });
});

describe('DeliveryWorker against a local DSMR-reader', () => {
  let fake: DsmrReaderFake;
  let client: ServiceHttpClient;
  let clock: ManualClock;
  let dir: string;
  let queue: PersistentQueue<DsmrReaderPost>;
  let deadLetters: DeadLetterFile<DsmrReaderPost>;
  let worker: DeliveryWorker<DsmrReaderPost>;
  let events: string[];
  let errors: DsmrReaderError[];
  let stateWaiters: Array<{ ready: (state: DeliveryState) => boolean; resolve: () => void }>;

  before(async () => {
    fake = await new DsmrReaderFake({ authKey: KEY, now: () => SERVER_NOW }).start();
  });
  after(() => fake.stop());

  function newClient(timeoutMs = 10_000): ServiceHttpClient {
    return new ServiceHttpClient({ service: 'dsmr-reader', baseURL: fake.url, auth: headerAuth('X-AUTHKEY', KEY), clock, timeoutMs, maxConcurrent: 1 });
  }

  function startWorker(overrides: Partial<DeliveryOptions<DsmrReaderPost>> = {}): void {
    worker = new DeliveryWorker<DsmrReaderPost>({
      queue,
      clock,
      retry: RETRY,
      pauseProbeMs: 300_000,
      random: () => 0.5,
      send: (item, signal) => sendPost(client, fake.url, item.data, signal),
      isStored: (item, signal) => isStored(client, fake.url, item.data, signal),
      needsCheck: (item) => item.data.verify === true,
      classify: (error, item) => classifyFailure(error, item.data),
      deadLetter: async (item, error, attempts) => {
        await deadLetters.append({ deadAt: new Date(clock.now()).toISOString(), queuedAt: new Date(item.queuedAt).toISOString(), attempts, status: error.status, answer: error.serviceMessage, reason: error.message, item: item.data });
      },
      listener: {
        outageStarted: (error) => events.push(`outage ${error.statusText}`),
        recovered: (n) => events.push(`recovered after ${n}`),
        alreadyStored: () => events.push('already stored'),
        paused: (error) => {
          events.push(`paused ${error.statusText}`);
          errors.push(error);
        },
        deadLettered: (item, error, attempts) => {
          events.push(`dead letter ${error.statusText} after ${attempts}`);
          errors.push(error);
        },
        changed: (state) => {
          for (const waiter of [...stateWaiters]) {
            if (!waiter.ready(state)) continue;
            stateWaiters.splice(stateWaiters.indexOf(waiter), 1);
            waiter.resolve();
          }
        },
      },
      ...overrides,
    });
    worker.start();
  }

  beforeEach(async () => {
    fake.reset();
    fake.authKey = KEY;
    clock = new ManualClock();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsmr-reader-delivery-'));
    client = newClient();
    queue = await PersistentQueue.open<DsmrReaderPost>({ file: path.join(dir, 'n.queue'), maxItems: 10_000, maxBytes: 50 * 1024 * 1024, now: () => clock.now() });
    deadLetters = await DeadLetterFile.open<DsmrReaderPost>(path.join(dir, 'n.dead-letters.jsonl'), 1024 * 1024);
    events = [];
    errors = [];
    stateWaiters = [];
    startWorker();
  });
  afterEach(async () => {
    fake.thaw();
    await worker.stop();
    await queue.close();
    await deadLetters.close();
    await client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Resolves at the first state change (or now) that satisfies `ready`. */
  function whenState(ready: (state: DeliveryState) => boolean): Promise<void> {
    if (ready(worker.state)) return Promise.resolve();
    return new Promise((resolve) => stateWaiters.push({ ready, resolve }));
  }
  const drained = () => whenState((state) => state.phase === 'idle' && state.queued === 0);

  async function push(...posts: DsmrReaderPost[]): Promise<void> {
    for (const post of posts) {
      await queue.push(post);
      worker.notify();
    }
  }

  /** Lets `ms` of clock time pass and waits until a worker woken by it sleeps again. */
  async function pass(ms: number): Promise<void> {
    clock.advance(ms);
    await clock.whenTimers(1);
  }

  it('posts a v1 telegram as the form field and a v2 reading as JSON; both are stored', GUARD, async () => {
    await push(v1(DSMR5), preparePost('v2', { payload: BELGIAN }));
    await fake.whenStored(2);
    await drained();
    assert.equal(fake.telegrams[0], DSMR5);
    assert.equal(fake.readings[0].electricity_delivered_1, '2310.551');
    assert.equal(fake.requests[0].headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(fake.requests[1].headers['content-type'], 'application/json');
    assert.equal(fake.requests[0].headers['x-authkey'], KEY);
    assert.equal(worker.state.delivered, 2);
  });

  it('counts a 200 (DSMR-reader before 1.6) as delivered', GUARD, async () => {
    fake.backend.fail({ kind: 'status', status: 200, body: '' }, 1);
    await push(v1(numberedTelegram(1)), v1(numberedTelegram(2)));
    await fake.whenStored(1);
    await drained();
    assert.equal(fake.requests.length, 2, 'each sent once');
  });

  it('survives a 10-minute outage of 503s: nothing lost, nothing duplicated, in order, with backoff', GUARD, async () => {
    const sent = Array.from({ length: 600 }, (_, n) => numberedTelegram(n));
    fake.unavailable = 503;
    const outageStart = clock.now();
    for (const telegram of sent) {
      await push(v1(telegram));
      await clock.whenTimers(1);
      await pass(1000);
    }
    assert.ok(clock.now() - outageStart >= 600_000);
    const attemptsDuringOutage = fake.requests.length;
    assert.equal(queue.length, 600);
    assert.equal(fake.rows.length, 0);
    assert.ok(attemptsDuringOutage >= 8 && attemptsDuringOutage <= 30, `${attemptsDuringOutage} attempts in 10 minutes`);
    assert.ok(Math.max(...clock.sleeps) <= 60_000, 'backoff is capped at the maximum delay');
    assert.deepEqual(events, ['outage 503']);

    fake.unavailable = false;
    clock.advance(60_000);
    await fake.whenStored(600);
    await drained();
    assert.deepEqual(fake.telegrams, sent);
    assert.equal(fake.requests.length, attemptsDuringOutage + 600, 'every telegram posted exactly once after the outage');
    assert.deepEqual(events, ['outage 503', `recovered after ${attemptsDuringOutage}`]);
  });

  it('survives a server that is down (connection refused) and comes back on the same port, storing each once', GUARD, async () => {
    await fake.goDown();
    const sent = Array.from({ length: 20 }, (_, n) => numberedTelegram(n));
    for (const telegram of sent) {
      await push(v1(telegram));
      await clock.whenTimers(1);
      await pass(5000);
    }
    assert.equal(queue.length, 20);
    assert.match(events[0], /^outage network/);
    await fake.comeBack();
    clock.advance(60_000);
    await fake.whenStored(20);
    await drained();
    assert.deepEqual(fake.telegrams, sent);
  });

  it('asks DSMR-reader before re-sending a request that timed out, and sends it once when it was not stored', GUARD, async () => {
    await worker.stop();
    await client.close();
    client = newClient(150);
    startWorker();
    fake.backend.fail({ kind: 'hang' }, 1);
    await push(v1(numberedTelegram(1)));
    await clock.whenTimers(1);
    clock.advance(60_000);
    await fake.whenStored(1);
    await drained();
    assert.deepEqual(fake.requests.map((r) => r.method), ['POST', 'GET', 'POST']);
    assert.equal(fake.requests[1].query.get('timestamp__gte'), '2024-03-15T10:00:01+01:00');
    assert.equal(worker.state.delivered, 1);
  });

  it('stores every telegram exactly once, in order, when DSMR-reader freezes for longer than the timeout', GUARD, async () => {
    await worker.stop();
    await client.close();
    client = newClient(200);
    startWorker();
    const sent = [1, 2, 3, 4, 5].map((n) => numberedTelegram(n));
    fake.freeze();
    await push(...sent.map(v1));
    // The first post is held by the frozen server, times out, and the worker backs off.
    await fake.whenHandled(1);
    await clock.whenTimers(1);
    // Still frozen: the check before re-sending times out too, and nothing is posted again.
    await pass(60_000);
    assert.deepEqual(fake.requests.map((r) => r.method), ['POST', 'GET']);
    // The server wakes up and finishes the requests it held, the first post included.
    fake.thaw();
    await fake.whenStored(1);
    clock.advance(60_000);
    await fake.whenStored(5);
    await drained();
    assert.deepEqual(fake.telegrams, sent, 'each telegram stored once, in order');
    assert.equal(fake.rows.length, 5);
    assert.equal(worker.state.alreadyStored, 1, 'the first one was found stored and not sent again');
    assert.deepEqual(events, ['outage timeout', 'recovered after 2', 'already stored']);
  });

  it('skips a reading a slow DSMR-reader stored but answered after the timeout', GUARD, async () => {
    await worker.stop();
    await client.close();
    client = newClient(200);
    startWorker();
    fake.holdAnswers();
    await push(preparePost('v2', { payload: DSMR5 }), preparePost('v2', { payload: BELGIAN }));
    await fake.whenStored(1);
    await clock.whenTimers(1);
    fake.thaw();
    clock.advance(60_000);
    await fake.whenStored(2);
    await drained();
    assert.deepEqual(fake.rows.map((row) => row.fields.electricity_delivered_1), ['4512.734', '2310.551']);
    assert.deepEqual(fake.requests.map((r) => r.method), ['POST', 'GET', 'POST']);
  });

  it('checks the oldest item after a restart, since it may have been in flight when the node stopped', GUARD, async () => {
    fake.holdAnswers();
    await push(v1(numberedTelegram(1)));
    await fake.whenStored(1);
    await worker.stop();
    fake.thaw();
    startWorker();
    await drained();
    assert.equal(fake.rows.length, 1, 'not stored twice');
    assert.deepEqual(fake.requests.map((r) => r.method), ['POST', 'GET']);
  });

  it('waits quietly when its HTTP client is closed under it (config node redeployed), then carries on', GUARD, async () => {
    let current = newClient();
    await worker.stop();
    startWorker({ send: (item, signal) => sendPost(current, fake.url, item.data, signal), isStored: (item, signal) => isStored(current, fake.url, item.data, signal) });
    await current.close();
    await push(v1(numberedTelegram(1)));
    await clock.whenTimers(1);
    assert.equal(queue.length, 1);
    current = newClient();
    clock.advance(1000);
    await fake.whenStored(1);
    await drained();
    assert.deepEqual(events, [], 'no outage, pause or dead letter reported');
    await current.close();
  });

  it('pauses on a wrong key (403), keeps the queue and probes slowly until the key works', GUARD, async () => {
    fake.authKey = 'another-key-0000';
    await push(...[1, 2, 3].map((n) => v1(numberedTelegram(n))));
    await clock.whenTimers(1);
    assert.equal(worker.state.phase, 'paused');
    assert.deepEqual(events, ['paused 403']);
    assert.match(errors[0].message, /"Invalid auth key"/);
    // Ten minutes later: two probes, no more, and nothing lost.
    for (let minute = 0; minute < 10; minute += 1) await pass(60_000 - (minute === 9 ? 1 : 0));
    assert.equal(fake.requests.length, 2);
    assert.equal(queue.length, 3);
    assert.deepEqual(events, ['paused 403'], 'told once per pause');
    fake.authKey = KEY;
    clock.advance(300_000);
    await fake.whenStored(3);
    await drained();
    assert.deepEqual(fake.telegrams, [1, 2, 3].map((n) => numberedTelegram(n)));
  });

  it('pauses while the API is disabled (405) and resumes when it is enabled again', GUARD, async () => {
    fake.apiEnabled = false;
    await push(v1(numberedTelegram(1)));
    await clock.whenTimers(1);
    assert.deepEqual(events, ['paused 405']);
    assert.match(errors[0].message, /"API is disabled"/);
    fake.apiEnabled = true;
    clock.advance(300_000);
    await fake.whenStored(1);
    await drained();
    assert.deepEqual(events, ['paused 405', 'recovered after 1']);
  });

  it('moves a telegram DSMR-reader cannot parse (500 "Failed to parse telegram") to the dead letters at once and delivers the rest', GUARD, async () => {
    // DSMR-reader refuses a telegram whose timestamp lies more than 24 hours ahead of its clock.
    const future = numberedTelegram(0, Date.UTC(2024, 2, 20, 9));
    await push(v1(numberedTelegram(1)), v1(future), v1(numberedTelegram(2)));
    await fake.whenStored(2);
    await drained();
    assert.deepEqual(fake.telegrams, [numberedTelegram(1), numberedTelegram(2)]);
    assert.deepEqual(events, ['dead letter 500 after 1']);
    assert.match(errors[0].message, /"Failed to parse telegram"/);
    assert.equal(fake.requests.length, 3, 'the refused telegram is not retried');
    const { letters } = await deadLetters.readAll();
    assert.deepEqual(letters.map((letter) => (letter.item as { telegram: string }).telegram), [future]);
    assert.equal(letters[0].answer, 'Failed to parse telegram');
  });

  it('moves an item answered with 400 to the dead letters and delivers the rest; a v2 field error keeps DRF\'s message', GUARD, async () => {
    fake.backend.fail({ kind: 'status', status: 400, body: 'Invalid data' }, 1);
    const reading = (preparePost('v2', { payload: DSMR5 }) as unknown as { reading: Record<string, unknown> }).reading;
    // A hand-made reading that bypassed the node's validation, to see the server's answer.
    await push(v1(numberedTelegram(1)), { api: 'v2', reading: { ...reading, electricity_delivered_1: 1.23456 } as never }, v1(numberedTelegram(2)));
    await fake.whenStored(1);
    await drained();
    assert.deepEqual(fake.telegrams, [numberedTelegram(2)]);
    assert.deepEqual(events, ['dead letter 400 after 1', 'dead letter 400 after 1']);
    assert.match(errors[0].message, /"Invalid data"/);
    assert.match(errors[1].message, /no more than 3 decimal places/);
    assert.equal(deadLetters.count, 2);
  });

  it('moves an item that gets the same HTML 500 on every attempt to the dead letters after 5 attempts; the queue moves on', GUARD, async () => {
    // DSMR-reader stores Wh numbers as written: 5017120 does not fit its 9-digit column (InvalidOperation).
    await push({ api: 'v1', telegram: WH_TELEGRAM }, v1(numberedTelegram(1)), v1(numberedTelegram(2)));
    for (let attempt = 1; attempt < 5; attempt += 1) {
      await clock.whenTimers(1);
      clock.advance(60_000);
    }
    await fake.whenStored(2);
    await drained();
    assert.deepEqual(fake.telegrams, [numberedTelegram(1), numberedTelegram(2)]);
    assert.deepEqual(events.filter((e) => e.startsWith('dead')), ['dead letter 500 after 5']);
    const methods = fake.requests.map((r) => r.method);
    assert.deepEqual(methods.slice(0, 9), ['POST', 'GET', 'POST', 'GET', 'POST', 'GET', 'POST', 'GET', 'POST'], 'checked with DSMR-reader before every retry');
    assert.equal(fake.refusals.filter((r) => /InvalidOperation/.test(r.reason)).length, 5);
    assert.equal(deadLetters.count, 1);
  });

  it('keeps retrying, never dead-lettering, when DSMR-reader fails every request the same way', GUARD, async () => {
    // A server-wide failure (e.g. DSMR-reader's API user deleted): reads fail too, so no item is to blame.
    fake.backend.fail({ kind: 'status', status: 500, headers: { 'Content-Type': 'text/html' }, body: '<html><title>Server Error (500)</title></html>' }, 30);
    await push(v1(numberedTelegram(1)));
    for (let attempt = 0; attempt < 12; attempt += 1) {
      await clock.whenTimers(1);
      clock.advance(60_000);
    }
    fake.backend.clearFailures();
    clock.advance(60_000);
    await fake.whenStored(1);
    await drained();
    assert.equal(deadLetters.count, 0);
    assert.deepEqual(events.filter((e) => e.startsWith('dead')), []);
    assert.deepEqual(fake.telegrams, [numberedTelegram(1)]);
  });

  it('checks a dead letter sent again before posting it, so one that was stored after all is not stored twice', GUARD, async () => {
    await push(v1(numberedTelegram(1)));
    await fake.whenStored(1);
    await drained();
    await push({ ...v1(numberedTelegram(1)), verify: true }, { ...v1(numberedTelegram(2)), verify: true });
    await fake.whenStored(2);
    await drained();
    assert.deepEqual(fake.telegrams, [numberedTelegram(1), numberedTelegram(2)]);
    assert.deepEqual(fake.requests.map((r) => r.method), ['POST', 'GET', 'GET', 'POST']);
  });
});
