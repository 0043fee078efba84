import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { headerAuth } from '../../../src/core/http/auth';
import type { StatusView } from '../../../src/core/runtime/status';
import { isConfigError } from '../../../src/core/runtime/options';
import { DsmrReaderOutController, RETRY_DEAD_LETTERS } from '../../../src/core/dsmr-reader/controller';
import { readDsmrReaderOutSettings } from '../../../src/core/dsmr-reader/settings';
import { DsmrReaderFake } from '../../../testing/fakes/dsmr-reader';
import { ManualClock } from '../../../testing/manual-clock';
import { DSMR22, WATER_ONLY, WH_UNITS, numberedTelegram } from '../../../testing/dsmr-telegrams';

const KEY = 'controller-key-4b6d8f0a2c4e6a8b';
const GUARD = { timeout: 120_000 };

describe('dsmr-reader-out settings', () => {
  const config = (extra: Record<string, unknown>) => readDsmrReaderOutSettings({ apiVersion: 'v1', queueMaxItems: '20000', queueMaxMb: '20', retryBaseSeconds: '1', retryMaxSeconds: '60', ...extra });
  const configError = (field: string, text: RegExp) => (error: unknown) => isConfigError(error) && error.field === field && text.test(error.message);

  it('reads the editor\'s strings, with defaults for empty fields', () => {
    const settings = config({ queueMaxItems: '', queueMaxMb: '', retryBaseSeconds: '2', retryMaxSeconds: '', apiVersion: 'v1-v2' });
    assert.equal(settings.api, 'v1-v2');
    assert.equal(settings.queueMaxItems, 20_000);
    assert.equal(settings.queueMaxBytes, 20 * 1024 * 1024);
    assert.deepEqual(settings.retry, { baseDelayMs: 2000, maxDelayMs: 60_000, jitter: true, maxRetries: 4, maxRetryAfterMs: 300_000 });
  });

  it('refuses out-of-bounds values at deploy with the field and what to enter', () => {
    assert.throws(() => config({ queueMaxItems: '0' }), configError('Max. queue', /whole number from 1 to 10000000 telegrams/));
    assert.throws(() => config({ queueMaxItems: '2.5' }), configError('Max. queue', /whole number/));
    assert.throws(() => config({ queueMaxMb: '20000' }), configError('Queue size', /from 0\.1 to 10240 MB/));
    assert.throws(() => config({ retryBaseSeconds: '-1' }), configError('First retry', /seconds/));
    assert.throws(() => config({ retryMaxSeconds: '3000000' }), configError('Max. wait', /to 86400 seconds/));
    assert.throws(() => config({ retryBaseSeconds: '30', retryMaxSeconds: '10' }), configError('Max. wait', /shorter than First retry/));
    assert.throws(() => config({ apiVersion: 'v3' }), configError('API', /v1, v1-v2, v2/));
  });
});

describe('DsmrReaderOutController without Node-RED', () => {
  let fake: DsmrReaderFake;
  let client: ServiceHttpClient;
  let clock: ManualClock;
  let dir: string;
  let controller: DsmrReaderOutController;
  let statuses: StatusView[];
  let errors: Array<{ error: Error; msg: Record<string, unknown> }>;
  let logs: string[];
  let warnings: string[];
  let statusWaiters: Array<{ key: string; resolve: () => void }>;

  before(async () => {
    fake = await new DsmrReaderFake({ authKey: KEY, now: () => Date.UTC(2024, 2, 15, 12) }).start();
  });
  after(() => fake.stop());

  function start(api = 'v1'): void {
    controller = new DsmrReaderOutController(readDsmrReaderOutSettings({ apiVersion: api }), { dir, nodeId: 'out1' }, {
      clock,
      lease: () => ({ requester: client.lease(), baseUrl: fake.url }),
      status: (view) => {
        statuses.push(view);
        for (const waiter of statusWaiters.filter((w) => w.key === view.key)) {
          statusWaiters.splice(statusWaiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      },
      error: (error, msg) => errors.push({ error, msg }),
      warn: (text) => warnings.push(text),
      log: (text) => logs.push(text),
    });
  }

  beforeEach(() => {
    fake.reset();
    clock = new ManualClock(Date.UTC(2024, 2, 15, 11));
    client = new ServiceHttpClient({ service: 'dsmr-reader', baseURL: fake.url, auth: headerAuth('X-AUTHKEY', KEY), clock, maxConcurrent: 1 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsmr-reader-controller-'));
    statuses = [];
    errors = [];
    logs = [];
    warnings = [];
    statusWaiters = [];
    start();
  });
  afterEach(async () => {
    await controller.close();
    await client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Resolves when a status with this key is shown (or already was the last one). */
  function whenStatus(key: string): Promise<void> {
    if (statuses.at(-1)?.key === key) return Promise.resolve();
    return new Promise((resolve) => statusWaiters.push({ key, resolve }));
  }

  it('shows a draining backlog\'s count about once a second, and the final state always', GUARD, async () => {
    fake.unavailable = 503;
    for (let n = 0; n < 40; n += 1) await controller.handle({ telegram: numberedTelegram(n) });
    await clock.whenTimers(1);
    assert.deepEqual(statuses.at(-1), { kind: 'retrying', fill: 'yellow', shape: 'ring', key: 'queued', params: { reason: '503', queued: 40, dropped: 0 } });
    fake.unavailable = false;
    const before = statuses.length;
    clock.advance(60_000);
    await fake.whenStored(40);
    await whenStatus('delivered');
    const drain = statuses.slice(before);
    // No clock time passes while draining, so one "sending" status, then the result.
    assert.deepEqual(drain.map((view) => view.key), ['sending', 'delivered']);
    assert.equal(drain[0].params?.queued, 40);
  });

  it('moves a telegram DSMR-reader refuses to the dead letters, names the dsmr_version, and sends it again on "retry-dead-letters"', GUARD, async () => {
    await controller.handle({ telegram: DSMR22, _msgid: 'm22', topic: 'meter' });
    await controller.handle({ telegram: numberedTelegram(1) });
    await fake.whenStored(1);
    await whenStatus('deadLetters');
    assert.equal(errors.length, 1);
    assert.match(errors[0].error.message, /"Failed to parse telegram"/);
    assert.match(errors[0].error.message, /"DSMR v2\/3"/);
    assert.match(errors[0].error.message, /retry-dead-letters/);
    assert.equal(errors[0].msg._msgid, 'm22');
    assert.equal(errors[0].msg.telegram, DSMR22);
    assert.equal(errors[0].msg.deadLetterFile, path.join(dir, 'out1.dead-letters.jsonl'));
    assert.deepEqual(statuses.at(-1)?.params, { dead: 1 });

    // The user sets DSMR-reader's datalogger to DSMR v2/3 and sends the dead letters again.
    fake.dsmrVersion = 3;
    await controller.handle({ topic: RETRY_DEAD_LETTERS });
    await fake.whenStored(2);
    await whenStatus('delivered');
    assert.deepEqual(fake.telegrams, [numberedTelegram(1), DSMR22]);
    assert.equal(fake.rows[1].fields.extra_device_delivered, '1277.350');
    assert.match(logs.join('\n'), /Queued 1 dead letter\(s\) again/);
    assert.equal(fs.readFileSync(path.join(dir, 'out1.dead-letters.jsonl'), 'utf8'), '');
    await controller.handle({ topic: RETRY_DEAD_LETTERS });
    assert.match(warnings.at(-1) ?? '', /no dead letters/);
  });

  it('in the v1-v2 mode sends what v1 would store wrongly as a v2 reading, and logs the reason once', GUARD, async () => {
    await controller.close();
    start('v1-v2');
    await controller.handle({ telegram: WH_UNITS });
    await controller.handle({ telegram: WATER_ONLY });
    await controller.handle({ telegram: numberedTelegram(1) });
    await fake.whenStored(3);
    assert.deepEqual(fake.rows.map((row) => row.source), ['v2', 'v2', 'v1']);
    assert.equal(fake.rows[0].fields.electricity_delivered_1, '100.000');
    assert.equal(logs.filter((line) => /sent as v2 readings when/.test(line)).length, 2, 'one line per distinct reason');
  });

  it('sends an uncertain item again, with one warning, when DSMR-reader offers no v2 list endpoint to check it', GUARD, async () => {
    await controller.close();
    await client.close();
    client = new ServiceHttpClient({ service: 'dsmr-reader', baseURL: fake.url, auth: headerAuth('X-AUTHKEY', KEY), clock, timeoutMs: 200, maxConcurrent: 1 });
    start();
    fake.holdAnswers();
    await controller.handle({ telegram: numberedTelegram(1) });
    await fake.whenStored(1);
    await clock.whenTimers(1);
    fake.thaw();
    fake.backend.fail({ kind: 'status', status: 404, body: { detail: 'Not found.' } }, 1, /\/api\/v2\//);
    clock.advance(60_000);
    await fake.whenStored(2);
    assert.deepEqual(fake.requests.map((r) => r.method), ['POST', 'GET', 'POST']);
    assert.equal(warnings.filter((w) => /cannot check whether a post that timed out was stored/.test(w)).length, 1);
  });
});
