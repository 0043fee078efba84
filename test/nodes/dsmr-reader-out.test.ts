import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { helper, nodeModule } from '../../testing/runtime';
import { DsmrReaderFake } from '../../testing/fakes/dsmr-reader';
import { ManualClock } from '../../testing/manual-clock';
import { editorDefinition } from '../../testing/editor-definition';
import { parseTelegram } from '../../src/core/dsmr';
import { PersistentQueue } from '../../src/core/dsmr-reader/queue';
import { readDsmrReaderOutSettings } from '../../src/core/dsmr-reader/settings';
import { BELGIAN, CONFUSING_TIMESTAMP, DSMR22, DSMR5, DSMR5_LINES, NORDIC, WATER_ONLY, WH_UNITS, numberedTelegram, withCrc } from '../../testing/dsmr-telegrams';
import { translate } from '../../testing/catalog';

const KEY = 'dsmr-reader-key-2c4e6a8b0d1f3e5a7c9b';
const NOW = Date.UTC(2024, 2, 15, 12);
/** A guard so a missing event fails the test instead of hanging the run; never a timing assertion. */
const GUARD = { timeout: 120_000 };

interface StatusCall {
  fill?: string;
  shape?: string;
  text?: string;
}

interface Spy {
  getCalls(): Array<{ thisValue: unknown; args: unknown[] }>;
}
type SpiedNode = Node & { status: Spy; warn: Spy; error: Spy };
type Caught = NodeMessage & { error: { message: string }; statusCode?: number; errorCode?: string; telegram?: string; deadLetterFile?: string };

function dsmrReaderOut(RED: NodeAPI): void {
  (RED as unknown as { _: typeof translate })._ = translate;
  (nodeModule('dsmr-reader-out') as (RED: NodeAPI) => void)(RED);
}

/** A message as dsmr-p1-in sends it: the parsed telegram in payload, the raw one in telegram. */
function fromP1(raw: string): NodeMessage {
  return { payload: parseTelegram(raw), telegram: raw, topic: 'p1' } as unknown as NodeMessage;
}

describe('dsmr-reader-out in the Node-RED runtime', () => {
  let fake1: DsmrReaderFake;
  let fake2: DsmrReaderFake;
  let clock: ManualClock;
  let userDir: string;
  let caught: Caught[];
  let completed: NodeMessage[];
  let waiters: Array<() => void>;

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
    fake1.thaw();
    await helper.unload();
    await fake1.comeBack();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  function useSettings(extra: Record<string, unknown> = {}): void {
    clock = new ManualClock(NOW);
    helper.settings({ userDir, energyExportClock: clock, ...extra } as never);
  }

  interface OutOptions {
    apiVersion?: string;
    queueMaxItems?: number | string;
    key?: string;
    second?: boolean;
    timeout?: number;
  }

  async function load(options: OutOptions = {}): Promise<void> {
    const out = (id: string, server: string, apiVersion = 'v1') => ({ id, z: 'tab1', type: 'dsmr-reader-out', server, apiVersion, queueMaxItems: options.queueMaxItems ?? 20000, queueMaxMb: 20, retryBaseSeconds: 1, retryMaxSeconds: 60 });
    const nodes: Array<Record<string, unknown>> = [
      { id: 'tab1', type: 'tab', label: 'test' },
      { id: 'cfg1', z: 'tab1', type: 'energy-service', service: 'dsmr-reader', baseUrl: fake1.url, timeout: options.timeout ?? 15 },
      { id: 'src', z: 'tab1', type: 'helper', wires: [options.second ? ['out1', 'out2'] : ['out1']] },
      out('out1', 'cfg1', options.apiVersion),
      { id: 'catcher', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'tab1', type: 'helper' },
      { id: 'completer', z: 'tab1', type: 'complete', scope: ['out1', 'out2'], uncaught: false, wires: [['completed']] },
      { id: 'completed', z: 'tab1', type: 'helper' },
    ];
    const credentials: Record<string, unknown> = { cfg1: { authKey: options.key ?? KEY } };
    if (options.second) {
      nodes.push({ id: 'cfg2', z: 'tab1', type: 'energy-service', service: 'dsmr-reader', baseUrl: fake2.url });
      nodes.push(out('out2', 'cfg2'));
      credentials.cfg2 = { authKey: KEY };
    }
    await helper.load([nodeModule('energy-service'), dsmrReaderOut] as never, nodes as never, credentials);
    caught = [];
    completed = [];
    waiters = [];
    const wake = (): void => waiters.forEach((waiter) => waiter());
    (helper.getNode('caught') as unknown as Node).on('input', (msg: NodeMessage) => {
      caught.push(msg as Caught);
      wake();
    });
    (helper.getNode('completed') as unknown as Node).on('input', (msg: NodeMessage) => {
      completed.push(msg);
      wake();
    });
  }

  /** Resolves once `condition` holds, re-checked at every caught error or completed message. */
  function whenMessages(condition: () => boolean): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = (): void => {
        if (!condition()) return;
        waiters.splice(waiters.indexOf(waiter), 1);
        resolve();
      };
      waiters.push(waiter);
    });
  }
  const whenCaught = (count: number) => whenMessages(() => caught.length >= count);
  const whenCompleted = (count: number) => whenMessages(() => completed.length >= count);

  function calls(id: string, method: 'status' | 'warn' | 'error'): unknown[] {
    const node = helper.getNode(id) as SpiedNode;
    return node[method].getCalls().filter((call) => (call.thisValue as Node).id === id).map((call) => call.args[0]);
  }
  const lastStatus = (id = 'out1'): StatusCall => (calls(id, 'status').at(-1) as StatusCall) ?? {};
  const warnings = (id = 'out1'): string[] => calls(id, 'warn').map(String);

  /** Resolves at the first status of node `id` (the last one shown included) that satisfies `ready`. */
  function whenStatus(ready: (status: StatusCall) => boolean, id = 'out1'): Promise<StatusCall> {
    const last = lastStatus(id);
    if (ready(last)) return Promise.resolve(last);
    const node = helper.getNode(id) as unknown as Node;
    return new Promise((resolve) => {
      const listener = (call: { args: unknown[] }): void => {
        const status = call.args[0] as StatusCall;
        if (!ready(status)) return;
        node.removeListener('call:status' as never, listener as never);
        resolve(status);
      };
      node.on('call:status' as never, listener as never);
    });
  }
  const statusText = (text: string | RegExp, id = 'out1') => whenStatus((status) => (typeof text === 'string' ? status.text === text : text.test(status.text ?? '')), id);

  /** Sends messages into the node and waits until each is queued (or refused). */
  async function send(msgs: NodeMessage[], id = 'out1'): Promise<void> {
    const target = completed.length + caught.length + msgs.length;
    for (const msg of msgs) helper.getNode(id).receive(msg);
    await whenMessages(() => completed.length + caught.length >= target);
  }

  /** Lets `ms` of clock time pass and waits until a worker woken by it sleeps again. */
  async function pass(ms: number, sleepers = 1): Promise<void> {
    clock.advance(ms);
    await clock.whenTimers(sleepers);
  }

  it('posts v1 telegrams as dsmr-p1-in sends them; DSMR-reader stores them', GUARD, async () => {
    await load();
    // A telegram whose CRs were lost on the way and whose CRC is lower case is posted in the form DSMR-reader accepts.
    const belgianMangled = BELGIAN.replace(/\r\n/g, '\n').replace(/!([0-9A-F]{4})\n$/, (_, crc: string) => `!${crc.toLowerCase()}\n`);
    await send([fromP1(DSMR5), { payload: belgianMangled } as NodeMessage]);
    await fake1.whenStored(2);
    assert.deepEqual(fake1.telegrams, [DSMR5, BELGIAN]);
    assert.equal(fake1.requests[0].headers['x-authkey'], KEY);
    const status = await statusText(/^delivered \d\d:\d\d:\d\d$/);
    assert.equal(status.fill, 'green');
  });

  it('posts v2 readings mapped from the parsed telegram, gas included', GUARD, async () => {
    await load({ apiVersion: 'v2' });
    await send([fromP1(DSMR5), { payload: BELGIAN } as NodeMessage, fromP1(NORDIC)]);
    await fake1.whenStored(3);
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

  it('refuses before sending what DSMR-reader cannot store, and says why', GUARD, async () => {
    await load();
    await send([fromP1(NORDIC), { telegram: DSMR5.replace('1-0:1.8.1(004512.734', '1-0:1.8.1(004512.735') } as NodeMessage]);
    assert.equal(caught[0].errorCode, 'NOT_STORABLE');
    assert.match(caught[0].error.message, /no 1-0:1\.8\.1 \/ 1-0:1\.8\.2/);
    assert.match(caught[0].error.message, /v2 readings/);
    assert.equal(caught[1].errorCode, 'CRC_MISMATCH');
    assert.match(caught[1].error.message, /damaged/);
    assert.equal(fake1.requests.length, 0, 'nothing was posted');
  });

  it('loses and duplicates nothing through a 10-minute outage and delivers in order', GUARD, async () => {
    await load();
    const sent = Array.from({ length: 600 }, (_, n) => numberedTelegram(n));
    fake1.unavailable = 503;
    for (const telegram of sent) {
      await send([{ telegram } as NodeMessage]);
      await clock.whenTimers(1);
      await pass(1000);
    }
    assert.equal((await statusText('queued 600 · 503')).fill, 'yellow');
    const attempts = fake1.requests.length;
    assert.ok(attempts >= 8 && attempts <= 30, `backoff: ${attempts} attempts in 10 minutes`);
    assert.equal(warnings().filter((w) => /temporarily unavailable/.test(w)).length, 1, 'one warning per outage, not one per retry');
    assert.equal(caught.length, 0, 'an outage is not an error of any telegram');

    fake1.unavailable = false;
    clock.advance(60_000);
    await fake1.whenStored(600);
    assert.deepEqual(fake1.telegrams, sent);
    assert.equal(fake1.requests.length, attempts + 600, 'each telegram posted once after the outage');
    assert.equal((await statusText(/^delivered/)).fill, 'green');
  });

  it('loses nothing when Node-RED restarts in the middle of an outage', GUARD, async () => {
    await load();
    await fake1.goDown();
    const before = Array.from({ length: 30 }, (_, n) => numberedTelegram(n));
    for (const telegram of before) {
      await send([{ telegram } as NodeMessage]);
      await clock.whenTimers(1);
      await pass(2000);
    }
    await statusText('queued 30 · network');
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
    await send(after.map((telegram) => ({ telegram }) as NodeMessage));
    await clock.whenTimers(1);
    await statusText('queued 35 · network');
    assert.ok((helper.log() as unknown as { args: Array<[{ msg?: unknown }]> }).args.some(([entry]) => /Found 30 undelivered items/.test(String(entry?.msg))));
    await fake1.comeBack();
    clock.advance(60_000);
    await fake1.whenStored(35);
    assert.deepEqual(fake1.telegrams, [...before, ...after]);
  });

  it('pauses on a wrong key (403) with DSMR-reader\'s hint, keeps the queue, and delivers it once the key is fixed', GUARD, async () => {
    await load({ key: 'wrong-key-0000000000' });
    const sent = [1, 2, 3].map((n) => numberedTelegram(n));
    await send(sent.map((telegram) => ({ telegram }) as NodeMessage));
    await whenCaught(1);
    assert.equal((await statusText('paused · 403 · 3')).fill, 'red');
    assert.match(caught[0].error.message, /"Invalid auth key"/);
    assert.match(caught[0].error.message, /Copy the API key from DSMR-reader/);
    assert.equal(caught[0].statusCode, 403);
    assert.ok(!JSON.stringify(caught[0]).includes('wrong-key-0000000000'), 'the key is not in the error message');
    await clock.whenTimers(1);
    for (let minute = 0; minute < 30; minute += 1) await pass(60_000);
    assert.ok(fake1.requests.length <= 8, `slow probing while paused: ${fake1.requests.length} requests in 30 minutes`);
    assert.equal(fake1.telegrams.length, 0);
    assert.equal(caught.length, 1, 'one error per pause');

    // The user fixes the key in the config node and deploys.
    await helper.unload();
    useSettings();
    await load();
    await fake1.whenStored(3);
    assert.deepEqual(fake1.telegrams, sent);
  });

  it('pauses while the API is disabled (405) and resumes by itself when it is enabled', GUARD, async () => {
    fake1.apiEnabled = false;
    await load();
    await send([{ telegram: numberedTelegram(1) } as NodeMessage, { telegram: numberedTelegram(2) } as NodeMessage]);
    await whenCaught(1);
    await statusText(/^paused · 405 · [12]$/);
    assert.match(caught[0].error.message, /"API is disabled"/);
    assert.match(caught[0].error.message, /Enable the API in DSMR-reader/);
    fake1.apiEnabled = true;
    await clock.whenTimers(1);
    clock.advance(300_000);
    await fake1.whenStored(2);
    assert.deepEqual(fake1.telegrams, [numberedTelegram(1), numberedTelegram(2)]);
  });

  it('moves a telegram answered with 400 to the dead-letter file, reports it with its message, and delivers the rest', GUARD, async () => {
    await load();
    fake1.backend.fail({ kind: 'status', status: 400, body: 'Invalid data' }, 1);
    await send([{ telegram: numberedTelegram(1), _msgid: 'first' } as NodeMessage, { telegram: numberedTelegram(2) } as NodeMessage]);
    await fake1.whenStored(1);
    await whenCaught(1);
    assert.deepEqual(fake1.telegrams, [numberedTelegram(2)]);
    assert.match(caught[0].error.message, /"Invalid data"/);
    assert.match(caught[0].error.message, /moved to the dead-letter file so the rest of the queue can be delivered/);
    assert.equal(caught[0].statusCode, 400);
    assert.equal(caught[0]._msgid, 'first');
    assert.equal(caught[0].telegram, numberedTelegram(1));
    assert.equal(caught[0].deadLetterFile, path.join(userDir, 'dsmr-reader-out', 'out1.dead-letters.jsonl'));
    assert.equal((await statusText('dead letters 1')).fill, 'yellow');
  });

  it('does not add a CRC: DSMR-reader refuses a CRC-less telegram its dsmr_version cannot read, the error names the setting, and "retry-dead-letters" sends it again', GUARD, async () => {
    await load();
    await send([{ telegram: DSMR22.replace(/\r\n/g, '\n'), _msgid: 'dsmr22' } as NodeMessage, { telegram: numberedTelegram(1) } as NodeMessage]);
    await fake1.whenStored(1);
    await whenCaught(1);
    assert.equal(new URLSearchParams(fake1.requests[0].body).get('telegram'), DSMR22, 'posted as it is, with CR LF and without a CRC');
    assert.match(caught[0].error.message, /"Failed to parse telegram"/);
    assert.match(caught[0].error.message, /dsmr_version.*"DSMR v2\/3"/);
    assert.match(caught[0].error.message, /retry-dead-letters/);
    assert.equal(fake1.requests.length, 2, 'not retried: DSMR-reader refused it');

    // The user sets DSMR-reader's datalogger to DSMR v2/3, then sends the dead letters again.
    fake1.dsmrVersion = 3;
    helper.getNode('out1').receive({ topic: 'retry-dead-letters' } as NodeMessage);
    await fake1.whenStored(2);
    assert.deepEqual(fake1.telegrams, [numberedTelegram(1), DSMR22]);
    assert.equal(fake1.rows[1].fields.extra_device_delivered, '1277.350', 'stored with its gas reading');
    assert.equal(fs.readFileSync(path.join(userDir, 'dsmr-reader-out', 'out1.dead-letters.jsonl'), 'utf8'), '');
    assert.match((await statusText(/^delivered/)).text ?? '', /^delivered/);
  });

  it('moves an item that gets the same HTML 500 on every attempt to the dead-letter file after 5 attempts, reports it once, and the queue moves on', GUARD, async () => {
    // Items an earlier version queued: a Luxembourg meter writing Wh, whose 5017120 DSMR-reader
    // stores unconverted and cannot fit in its column, followed by good telegrams.
    const wh = withCrc(DSMR5_LINES.map((line) => line.replace('1-0:1.8.1(004512.734*kWh)', '1-0:1.8.1(5017120*Wh)')));
    const dir = path.join(userDir, 'dsmr-reader-out');
    const old = await PersistentQueue.open({ file: path.join(dir, 'out1.queue'), maxItems: 100, maxBytes: 1e8 });
    for (const telegram of [wh, numberedTelegram(1), numberedTelegram(2)]) await old.push({ api: 'v1', telegram, msgid: telegram === wh ? 'wh' : undefined });
    await old.close();
    await load();
    for (let attempt = 1; attempt < 5; attempt += 1) {
      await clock.whenTimers(1);
      clock.advance(60_000);
    }
    await fake1.whenStored(2);
    await whenCaught(1);
    assert.deepEqual(fake1.telegrams, [numberedTelegram(1), numberedTelegram(2)]);
    assert.equal(fake1.refusals.filter((refusal) => /InvalidOperation/.test(refusal.reason)).length, 5);
    assert.equal(caught.length, 1, 'reported once, not at every attempt');
    assert.equal(caught[0]._msgid, 'wh');
    assert.equal(caught[0].statusCode, 500);
    assert.match(caught[0].error.message, /HTTP 500 \("Server Error \(500\)"\) to this telegram 5 times/);
    assert.match(caught[0].error.message, /Wh instead of kWh/);
    assert.ok(!/<html/i.test(caught[0].error.message), 'the HTML page is reduced to its title');
    const letters = fs.readFileSync(path.join(dir, 'out1.dead-letters.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(letters.length, 1);
    assert.equal(letters[0].attempts, 5);
    assert.equal(letters[0].answer, 'Server Error (500)');
    assert.equal((letters[0].item as { telegram: string }).telegram, wh);
  });

  it('stores every telegram exactly once, in order, when DSMR-reader freezes for longer than the node\'s timeout', GUARD, async () => {
    await load({ timeout: 1 });
    const sent = Array.from({ length: 5 }, (_, n) => numberedTelegram(n));
    fake1.freeze();
    await send(sent.map((telegram) => ({ telegram }) as NodeMessage));
    // The first post reaches the frozen server and times out; so does the check before a retry.
    await fake1.whenHandled(1);
    await clock.whenTimers(1);
    await pass(60_000);
    assert.equal(fake1.rows.length, 0);
    // DSMR-reader wakes up and finishes the requests it held, storing the first telegram.
    fake1.thaw();
    await fake1.whenStored(1);
    clock.advance(60_000);
    await fake1.whenStored(5);
    await statusText(/^delivered/);
    assert.deepEqual(fake1.telegrams, sent, 'each once, in order');
    assert.equal(fake1.requests.filter((r) => r.method === 'POST').length, 5, 'the stored telegram was not posted again');
    assert.ok((helper.log() as unknown as { args: Array<[{ msg?: unknown }]> }).args.some(([entry]) => /had already stored the reading of 2024-03-15T10:00:00\+01:00/.test(String(entry?.msg))));
  });

  it('in v1 refuses telegrams DSMR-reader\'s v1 would store wrongly and points to v2; the v1-v2 mode sends them as v2 readings', GUARD, async () => {
    await load();
    await send([WH_UNITS, WATER_ONLY, CONFUSING_TIMESTAMP].map((telegram) => ({ telegram }) as NodeMessage));
    assert.deepEqual(caught.map((msg) => msg.errorCode), ['NOT_STORABLE', 'NOT_STORABLE', 'NOT_STORABLE']);
    assert.match(caught[0].error.message, /1-0:1\.8\.1 is in Wh/);
    assert.match(caught[1].error.message, /water meter on M-Bus channel 2/);
    assert.match(caught[2].error.message, /1-0:99\.1\.0\(7\)\(0-0:1\.0\.0\)\(AB\)/);
    assert.ok(caught.every((msg) => /v1, v2 for telegrams v1 would store wrongly/.test(msg.error.message)));
    assert.equal(fake1.requests.length, 0);
    await helper.unload();

    useSettings();
    await load({ apiVersion: 'v1-v2' });
    await send([WH_UNITS, WATER_ONLY, CONFUSING_TIMESTAMP, DSMR5].map((telegram) => ({ telegram }) as NodeMessage));
    await fake1.whenStored(4);
    assert.deepEqual(fake1.rows.map((row) => row.source), ['v2', 'v2', 'v2', 'v1']);
    assert.equal(fake1.rows[0].fields.electricity_delivered_1, '100.000', 'kWh, not the 100000 v1 would store');
    assert.equal(fake1.rows[1].fields.extra_device_delivered, null, 'no water stored as gas');
    assert.equal(fake1.rows[2].timestamp, Date.parse('2024-03-15T10:15:30+01:00'), 'the meter\'s time, not the server\'s');
    assert.equal(caught.length, 0);
  });

  it('in v2 rounds to DSMR-reader\'s decimals and refuses readings more than 24 hours ahead', GUARD, async () => {
    await load({ apiVersion: 'v2' });
    const reading = { timestamp: '2024-03-15T12:15:30+01:00', electricity_currently_delivered: 1.5, electricity_currently_returned: 0, electricity_delivered_1: 318985.0004, electricity_delivered_2: 3000, electricity_returned_1: 0, electricity_returned_2: 0, phase_voltage_l1: 230.25 };
    await send([{ payload: reading } as NodeMessage, { payload: { ...reading, timestamp: '2024-03-18T13:00:00+01:00' } } as NodeMessage]);
    await fake1.whenStored(1);
    assert.equal(fake1.readings[0].electricity_delivered_1, '318985.000');
    assert.equal(fake1.readings[0].phase_voltage_l1, '230.3');
    assert.equal(caught.length, 1);
    assert.equal(caught[0].errorCode, 'NOT_STORABLE');
    assert.match(caught[0].error.message, /more than 24 hours ahead/);
    assert.equal(fake1.requests.length, 1, 'the future reading was not posted');
  });

  it('drops the oldest when the queue is full, warns and counts it in the status', GUARD, async () => {
    await load({ queueMaxItems: 5 });
    fake1.unavailable = 503;
    const sent = Array.from({ length: 8 }, (_, n) => numberedTelegram(n));
    for (const telegram of sent) {
      await send([{ telegram } as NodeMessage]);
      await clock.whenTimers(1);
      await pass(500);
    }
    await statusText('queued 5 · 503 · dropped 3');
    const dropWarnings = warnings().filter((w) => /queue is full/.test(w));
    assert.equal(dropWarnings.length, 3);
    assert.match(dropWarnings[2], /3 dropped since the node started/);
    fake1.unavailable = false;
    clock.advance(60_000);
    await fake1.whenStored(5);
    assert.deepEqual(fake1.telegrams, sent.slice(3), 'the newest five, in order');
  });

  it('delivers to two servers independently, each node with its own queue', GUARD, async () => {
    await load({ second: true });
    fake1.unavailable = 503;
    const sent = Array.from({ length: 10 }, (_, n) => numberedTelegram(n));
    for (const telegram of sent) helper.getNode('src').send({ telegram } as NodeMessage);
    await whenCompleted(20);
    await fake2.whenStored(10);
    await clock.whenTimers(1);
    await statusText('queued 10 · 503', 'out1');
    assert.equal(fake1.telegrams.length, 0);
    assert.ok(fs.existsSync(path.join(userDir, 'dsmr-reader-out', 'out1.queue')));
    assert.ok(fs.existsSync(path.join(userDir, 'dsmr-reader-out', 'out2.queue')));
    fake1.unavailable = false;
    clock.advance(60_000);
    await fake1.whenStored(10);
    assert.deepEqual(fake1.telegrams, sent);
    assert.deepEqual(fake2.telegrams, sent);
  });

  it('refuses a bad setting at deploy with the field and what to enter, before any file or request', GUARD, async () => {
    await load({ queueMaxItems: '0' });
    const [error] = calls('out1', 'error') as Error[];
    assert.match(String(error), /Max\. queue is "0": enter a whole number from 1 to 10000000 telegrams/);
    assert.deepEqual(lastStatus(), { fill: 'red', shape: 'ring', text: 'config' });
    await send([{ telegram: numberedTelegram(1) } as NodeMessage]);
    assert.equal(caught[0].errorCode, 'CONFIG');
    assert.equal(fs.existsSync(path.join(userDir, 'dsmr-reader-out')), false);
    assert.equal(fake1.requests.length, 0);
  });

  it('falls back to the temp folder with a warning when Node-RED has no user directory', GUARD, async () => {
    const queueDir = path.join(userDir, 'elsewhere');
    useSettings({ userDir: undefined, dsmrReaderOutQueueDir: queueDir });
    await load();
    await send([{ telegram: numberedTelegram(1) } as NodeMessage]);
    await fake1.whenStored(1);
    assert.ok(fs.existsSync(path.join(queueDir, 'out1.queue')));
    await helper.unload();

    useSettings({ userDir: undefined });
    await load();
    assert.ok(warnings().some((w) => /no user directory setting/.test(w) && w.includes(os.tmpdir())));
  });
});

describe('dsmr-reader-out editor validation', () => {
  type Validate = (this: Record<string, unknown>, value: unknown) => boolean;
  const definition = editorDefinition<{ defaults: Record<string, { validate?: Validate }> }>('dsmr-reader-out', () => ({ length: 0, val: () => undefined }));
  const valid = (property: string, value: unknown, node: Record<string, unknown> = {}) => definition.defaults[property].validate!.call(node, value);
  const runtimeAccepts = (config: Record<string, unknown>) => {
    try {
      readDsmrReaderOutSettings(config);
      return true;
    } catch {
      return false;
    }
  };

  it('accepts in the editor exactly what the runtime accepts at deploy', () => {
    const cases: Array<[string, unknown, Record<string, unknown>?]> = [
      ['apiVersion', 'v1'], ['apiVersion', 'v1-v2'], ['apiVersion', 'v2'], ['apiVersion', 'v3'],
      ['queueMaxItems', ''], ['queueMaxItems', '1'], ['queueMaxItems', '0'], ['queueMaxItems', '2.5'], ['queueMaxItems', '10000001'],
      ['queueMaxMb', '0.1'], ['queueMaxMb', '0.05'], ['queueMaxMb', '10240'], ['queueMaxMb', '10241'],
      ['retryBaseSeconds', '0.1'], ['retryBaseSeconds', '0'], ['retryBaseSeconds', '3601'],
      ['retryMaxSeconds', '60'], ['retryMaxSeconds', '0.5'], ['retryMaxSeconds', '86401'], ['retryMaxSeconds', '10', { retryBaseSeconds: '30' }],
    ];
    for (const [property, value, node = {}] of cases) {
      const config = { ...node, [property]: value };
      assert.equal(valid(property, value, node), runtimeAccepts(config), `${property} = ${String(value)}`);
    }
  });
});
