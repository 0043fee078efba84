import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Node, NodeMessage } from 'node-red';
import { helper, nodeModule } from '../../testing/runtime';
import { DsmrReaderFake } from '../../testing/fakes/dsmr-reader';
import { ManualClock, until } from '../../testing/manual-clock';
import { parseTelegram } from '../../src/core/dsmr';
import { PersistentQueue } from '../../src/core/dsmr-reader/queue';
import { BELGIAN, DSMR5, NORDIC, numberedTelegram } from '../../testing/dsmr-telegrams';

const KEY = 'dsmr-reader-key-2c4e6a8b0d1f3e5a7c9b';
const NOW = Date.UTC(2024, 2, 15, 12);

interface StatusCall {
  fill?: string;
  shape?: string;
  text?: string;
}

type SpiedNode = Node & { status: { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> }; warn: { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> } };

/** A message as dsmr-p1-in sends it: the parsed telegram in payload, the raw one in telegram. */
function fromP1(raw: string): NodeMessage {
  return { payload: parseTelegram(raw), telegram: raw, topic: 'p1' } as unknown as NodeMessage;
}

describe('dsmr-reader-out in the Node-RED runtime', () => {
  let fake1: DsmrReaderFake;
  let fake2: DsmrReaderFake;
  let clock: ManualClock;
  let userDir: string;

  before(async () => {
    fake1 = await new DsmrReaderFake({ authKey: KEY, now: () => NOW }).start();
    fake2 = await new DsmrReaderFake({ authKey: KEY, now: () => NOW }).start();
    await new Promise<void>((resolve) => helper.startServer(resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await fake1.stop();
    await fake2.stop();
  });
  beforeEach(() => {
    fake1.reset();
    fake2.reset();
    fake1.authKey = KEY;
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsmr-reader-out-node-'));
    useSettings();
  });
  afterEach(async () => {
    await helper.unload();
    await fake1.comeBack();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  function useSettings(extra: Record<string, unknown> = {}): void {
    clock = new ManualClock(NOW);
    helper.settings({ userDir, energyExportClock: clock, ...extra } as never);
  }

  interface OutOptions {
    apiVersion?: 'v1' | 'v2';
    queueMaxItems?: number;
    key?: string;
    second?: boolean;
  }

  async function load(options: OutOptions = {}): Promise<void> {
    const nodes: Array<Record<string, unknown>> = [
      { id: 'tab1', type: 'tab', label: 'test' },
      { id: 'cfg1', z: 'tab1', type: 'energy-service', service: 'dsmr-reader', baseUrl: fake1.url },
      { id: 'src', z: 'tab1', type: 'helper', wires: [options.second ? ['out1', 'out2'] : ['out1']] },
      { id: 'out1', z: 'tab1', type: 'dsmr-reader-out', server: 'cfg1', apiVersion: options.apiVersion ?? 'v1', queueMaxItems: options.queueMaxItems ?? 20000, queueMaxMb: 20, retryBaseSeconds: 1, retryMaxSeconds: 60 },
      { id: 'catcher', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'tab1', type: 'helper' },
    ];
    const credentials: Record<string, unknown> = { cfg1: { authKey: options.key ?? KEY } };
    if (options.second) {
      nodes.push({ id: 'cfg2', z: 'tab1', type: 'energy-service', service: 'dsmr-reader', baseUrl: fake2.url });
      nodes.push({ id: 'out2', z: 'tab1', type: 'dsmr-reader-out', server: 'cfg2', apiVersion: 'v1', queueMaxItems: 20000, queueMaxMb: 20, retryBaseSeconds: 1, retryMaxSeconds: 60 });
      credentials.cfg2 = { authKey: KEY };
    }
    await helper.load([nodeModule('energy-service'), nodeModule('dsmr-reader-out')] as never, nodes as never, credentials);
  }

  function statuses(id: string): StatusCall[] {
    const node = helper.getNode(id) as SpiedNode;
    return node.status.getCalls().filter((call) => (call.thisValue as Node).id === id).map((call) => call.args[0] as StatusCall);
  }
  const lastStatus = (id = 'out1'): StatusCall => statuses(id).at(-1) ?? {};
  function warnings(id = 'out1'): string[] {
    const node = helper.getNode(id) as SpiedNode;
    return node.warn.getCalls().filter((call) => (call.thisValue as Node).id === id).map((call) => String(call.args[0]));
  }

  function collectCaught(): Array<NodeMessage & { error: { message: string }; statusCode?: number; errorCode?: string; telegram?: string }> {
    const caught: Array<NodeMessage & { error: { message: string } }> = [];
    (helper.getNode('caught') as unknown as { on(event: 'input', listener: (msg: never) => void): void }).on('input', (msg: never) => caught.push(msg));
    return caught as never;
  }

  /** Nothing is in flight: every worker sleeps or shows an idle status. */
  const quiet = (ids = ['out1']) => () => clock.pending >= ids.filter((id) => !/^(delivered|ready|rejected)/.test(lastStatus(id).text ?? '')).length;

  async function send(msg: NodeMessage, id = 'out1'): Promise<void> {
    helper.getNode(id).receive(msg);
  }

  async function runUntil(condition: () => boolean, what: string, ids = ['out1'], stepMs = 1000): Promise<void> {
    for (let i = 0; i < 3000 && !condition(); i += 1) {
      await until(quiet(ids), 'the queue to settle');
      if (condition()) return;
      await clock.advanceStepwise(stepMs, quiet(ids));
    }
    assert.ok(condition(), `not reached: ${what}`);
  }

  it('posts v1 telegrams as dsmr-p1-in sends them; DSMR-reader stores them', async () => {
    await load();
    await send(fromP1(DSMR5));
    // A telegram whose CRs were lost on the way and whose CRC is lower case is posted in the form DSMR-reader accepts.
    const belgianMangled = BELGIAN.replace(/\r\n/g, '\n').replace(/!([0-9A-F]{4})\n$/, (_, crc: string) => `!${crc.toLowerCase()}\n`);
    await send({ payload: belgianMangled } as NodeMessage);
    await runUntil(() => fake1.telegrams.length === 2, 'two telegrams stored');
    assert.deepEqual(fake1.telegrams, [DSMR5, BELGIAN]);
    assert.equal(fake1.requests[0].headers['x-authkey'], KEY);
    await until(() => /^delivered \d\d:\d\d:\d\d$/.test(lastStatus().text ?? ''), 'the delivered status');
    assert.equal(lastStatus().fill, 'green');
  });

  it('posts v2 readings mapped from the parsed telegram, gas included', async () => {
    await load({ apiVersion: 'v2' });
    await send(fromP1(DSMR5));
    await send({ payload: BELGIAN } as NodeMessage);
    await send(fromP1(NORDIC));
    await runUntil(() => fake1.readings.length === 3, 'three readings stored');
    const [dutch, belgian, nordic] = fake1.readings;
    assert.equal(dutch.timestamp, '2024-03-15T10:15:30+01:00');
    assert.equal(dutch.electricity_delivered_1, '4512.734');
    assert.equal(dutch.electricity_returned_2, '1930.448');
    assert.equal(dutch.electricity_currently_delivered, '1.284');
    assert.equal(dutch.phase_currently_delivered_l3, '0.418');
    assert.equal(dutch.extra_device_timestamp, '2024-03-15T10:15:00+01:00');
    assert.equal(dutch.extra_device_delivered, '2871.352');
    assert.equal(belgian.electricity_delivered_1, '2310.551', 'Belgian tariff 1 (day) stays on _1');
    assert.equal(nordic.electricity_delivered_1, '6678.394', 'the Nordic total is stored on tariff 1');
    assert.equal(fake1.requests[0].headers['content-type'], 'application/json');
  });

  it('refuses before sending what DSMR-reader cannot store, and says why', async () => {
    await load();
    const caught = collectCaught();
    await send(fromP1(NORDIC));
    await send({ telegram: DSMR5.replace('1-0:1.8.1(004512.734', '1-0:1.8.1(004512.735') } as NodeMessage);
    await until(() => caught.length === 2, 'two errors');
    assert.equal(caught[0].errorCode, 'NOT_STORABLE');
    assert.match(caught[0].error.message, /no 1-0:1\.8\.1 \/ 1-0:1\.8\.2/);
    assert.match(caught[0].error.message, /v2 readings/);
    assert.equal(caught[1].errorCode, 'CRC_MISMATCH');
    assert.match(caught[1].error.message, /damaged/);
    assert.equal(fake1.requests.length, 0, 'nothing was posted');
  });

  it('loses and duplicates nothing through a 10-minute outage and delivers in order', async () => {
    await load();
    const caught = collectCaught();
    const sent = Array.from({ length: 600 }, (_, n) => numberedTelegram(n));
    fake1.unavailable = 503;
    for (const telegram of sent) {
      await send({ telegram } as NodeMessage);
      await clock.advanceStepwise(1000, quiet());
    }
    await until(() => lastStatus().text === 'queued 600 · 503', 'the queued status');
    assert.equal(lastStatus().fill, 'yellow');
    const attempts = fake1.requests.length;
    assert.ok(attempts >= 8 && attempts <= 30, `backoff: ${attempts} attempts in 10 minutes`);
    assert.equal(warnings().filter((w) => /temporarily unavailable/.test(w)).length, 1, 'one warning per outage, not one per retry');
    assert.equal(caught.length, 0, 'an outage is not an error of any telegram');

    fake1.unavailable = false;
    await runUntil(() => fake1.telegrams.length === 600, 'the backlog delivered');
    assert.deepEqual(fake1.telegrams, sent);
    assert.equal(fake1.requests.length, attempts + 600, 'each telegram posted once after the outage');
    await until(() => lastStatus().fill === 'green', 'green status');
  });

  it('loses nothing when Node-RED restarts in the middle of an outage', async () => {
    await load();
    await fake1.goDown();
    const before = Array.from({ length: 30 }, (_, n) => numberedTelegram(n));
    for (const telegram of before) {
      await send({ telegram } as NodeMessage);
      await clock.advanceStepwise(2000, quiet());
    }
    await until(() => lastStatus().text === 'queued 30 · network', 'all 30 queued');
    await helper.unload();

    // The queue is on disk in the user directory, one file per node.
    const file = path.join(userDir, 'dsmr-reader-out', 'out1.queue');
    const onDisk = await PersistentQueue.open<{ telegram: string }>({ file, maxItems: 100, maxBytes: 1e8 });
    assert.deepEqual(onDisk.toArray().map((item) => item.data.telegram), before);
    await onDisk.close();

    // Node-RED starts again with the same user directory while DSMR-reader is still down.
    useSettings();
    await load();
    const after = Array.from({ length: 5 }, (_, n) => numberedTelegram(100 + n));
    for (const telegram of after) await send({ telegram } as NodeMessage);
    await until(() => lastStatus().text === 'queued 35 · network', 'old and new queued together');
    assert.ok((helper.log() as unknown as { args: Array<[{ msg?: unknown }]> }).args.some(([entry]) => /Found 30 undelivered items/.test(String(entry?.msg))));
    await fake1.comeBack();
    await runUntil(() => fake1.telegrams.length === 35, 'everything delivered after the restart');
    assert.deepEqual(fake1.telegrams, [...before, ...after]);
  });

  it('pauses on a wrong key (403) with DSMR-reader\'s hint, keeps the queue, and delivers it once the key is fixed', async () => {
    await load({ key: 'wrong-key-0000000000' });
    const caught = collectCaught();
    const sent = [1, 2, 3].map((n) => numberedTelegram(n));
    for (const telegram of sent) await send({ telegram } as NodeMessage);
    await until(() => lastStatus().text === 'paused · 403 · 3', 'the paused status');
    assert.equal(lastStatus().fill, 'red');
    assert.equal(caught.length, 1, 'one error per pause');
    assert.match(caught[0].error.message, /"Invalid auth key"/);
    assert.match(caught[0].error.message, /Copy the API key from DSMR-reader/);
    assert.equal(caught[0].statusCode, 403);
    assert.ok(!JSON.stringify(caught[0]).includes('wrong-key-0000000000'), 'the key is not in the error message');
    await clock.advanceStepwise(30 * 60_000, quiet());
    assert.ok(fake1.requests.length <= 8, `slow probing while paused: ${fake1.requests.length} requests in 30 minutes`);
    assert.equal(fake1.telegrams.length, 0);

    // The user fixes the key in the config node and deploys.
    await helper.unload();
    useSettings();
    await load();
    await runUntil(() => fake1.telegrams.length === 3, 'delivered with the right key');
    assert.deepEqual(fake1.telegrams, sent);
  });

  it('pauses while the API is disabled (405) and resumes by itself when it is enabled', async () => {
    fake1.apiEnabled = false;
    await load();
    const caught = collectCaught();
    await send({ telegram: numberedTelegram(1) } as NodeMessage);
    await send({ telegram: numberedTelegram(2) } as NodeMessage);
    await until(() => /^paused · 405 · [12]$/.test(lastStatus().text ?? '') && caught.length === 1, 'the paused status');
    assert.match(caught[0].error.message, /"API is disabled"/);
    assert.match(caught[0].error.message, /Enable the API in DSMR-reader/);
    fake1.apiEnabled = true;
    await runUntil(() => fake1.telegrams.length === 2, 'delivered after enabling the API', ['out1'], 60_000);
    assert.deepEqual(fake1.telegrams, [numberedTelegram(1), numberedTelegram(2)]);
  });

  it('reports a 400 with DSMR-reader\'s hint and the message it belongs to, drops only that telegram', async () => {
    await load();
    const caught = collectCaught();
    fake1.unavailable = 503;
    await send({ telegram: numberedTelegram(1), _msgid: 'first' } as NodeMessage);
    await send({ telegram: numberedTelegram(2) } as NodeMessage);
    await until(quiet(), 'waiting');
    fake1.unavailable = false;
    fake1.backend.fail({ kind: 'status', status: 400, body: 'Invalid data' }, 1);
    await runUntil(() => fake1.telegrams.length === 1, 'the second one delivered');
    assert.deepEqual(fake1.telegrams, [numberedTelegram(2)]);
    await until(() => caught.length === 1, 'the error');
    assert.match(caught[0].error.message, /"Invalid data"/);
    assert.match(caught[0].error.message, /dropped so the rest of the queue can be delivered/);
    assert.equal(caught[0].statusCode, 400);
    assert.equal(caught[0]._msgid, 'first');
    assert.equal(caught[0].telegram, numberedTelegram(1));
  });

  it('drops a telegram DSMR-reader answers with 500 "Failed to parse telegram" and delivers the rest', async () => {
    await load();
    const caught = collectCaught();
    const future = numberedTelegram(0, Date.UTC(2024, 2, 20, 9));
    for (const telegram of [numberedTelegram(1), future, numberedTelegram(2)]) await send({ telegram } as NodeMessage);
    await runUntil(() => fake1.telegrams.length === 2 && caught.length === 1, 'two delivered, one refused');
    assert.deepEqual(fake1.telegrams, [numberedTelegram(1), numberedTelegram(2)]);
    assert.match(caught[0].error.message, /"Failed to parse telegram"/);
    assert.match(caught[0].error.message, /dsmr_version/);
    assert.equal(fake1.requests.length, 3, 'not retried');
  });

  it('drops the oldest when the queue is full, warns and counts it in the status', async () => {
    await load({ queueMaxItems: 5 });
    fake1.unavailable = 503;
    const sent = Array.from({ length: 8 }, (_, n) => numberedTelegram(n));
    for (const telegram of sent) {
      await send({ telegram } as NodeMessage);
      await clock.advanceStepwise(500, quiet());
    }
    await until(() => lastStatus().text === 'queued 5 · 503 · dropped 3', 'the dropped count in the status');
    const dropWarnings = warnings().filter((w) => /queue is full/.test(w));
    assert.equal(dropWarnings.length, 3);
    assert.match(dropWarnings[2], /3 dropped since the node started/);
    fake1.unavailable = false;
    await runUntil(() => fake1.telegrams.length === 5, 'the rest delivered');
    assert.deepEqual(fake1.telegrams, sent.slice(3), 'the newest five, in order');
  });

  it('delivers to two servers independently, each node with its own queue', async () => {
    await load({ second: true });
    fake1.unavailable = 503;
    const sent = Array.from({ length: 10 }, (_, n) => numberedTelegram(n));
    for (const telegram of sent) helper.getNode('src').send({ telegram } as NodeMessage);
    await runUntil(() => fake2.telegrams.length === 10, 'the second server has them all', ['out1', 'out2']);
    assert.equal(fake1.telegrams.length, 0);
    await until(() => lastStatus('out1').text === 'queued 10 · 503', 'the first node queued');
    assert.ok(fs.existsSync(path.join(userDir, 'dsmr-reader-out', 'out1.queue')));
    assert.ok(fs.existsSync(path.join(userDir, 'dsmr-reader-out', 'out2.queue')));
    fake1.unavailable = false;
    await runUntil(() => fake1.telegrams.length === 10, 'the first server catches up', ['out1', 'out2']);
    assert.deepEqual(fake1.telegrams, sent);
    assert.deepEqual(fake2.telegrams, sent);
  });

  it('falls back to the temp folder with a warning when Node-RED has no user directory', async () => {
    const queueDir = path.join(userDir, 'elsewhere');
    useSettings({ userDir: undefined, dsmrReaderOutQueueDir: queueDir });
    await load();
    await send({ telegram: numberedTelegram(1) } as NodeMessage);
    await runUntil(() => fake1.telegrams.length === 1, 'delivered');
    assert.ok(fs.existsSync(path.join(queueDir, 'out1.queue')));
    await helper.unload();

    useSettings({ userDir: undefined });
    await load();
    await until(() => warnings().some((w) => /no user directory setting/.test(w) && w.includes(os.tmpdir())), 'the warning');
  });
});
