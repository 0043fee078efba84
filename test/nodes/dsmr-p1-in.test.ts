import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import type { Request, Response, NextFunction } from 'express';
import { SerialPortMock, type SerialPortMockOpenOptions } from 'serialport';
import { MockBinding } from '@serialport/binding-mock';
import { helper, nodeModule, fixturePath, repoRoot } from '../../testing/runtime';
import { ManualClock, settle, until } from '../../testing/manual-clock';
import { editorDefinition } from '../../testing/editor-definition';
import { translate } from '../../testing/catalog';

const read = (name: string): Buffer => fs.readFileSync(fixturePath('dsmr', name));
const DSMR5 = read('ndokter_v5-iskra-mt382.txt');
const DSMR42 = read('ndokter_v4.2-kaifa-power-failure-log.txt');
const DSMR22 = read('ndokter_v2.2-iskra-mt382.txt');
const BAD_CRC = read('ndokter_v5-iskra-badcrc-line-removed.txt');
const ENCRYPTED = read('esphome_lu-smarty-encrypted-sagemcom-t210dr.bin');
const LU_KEY = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const LU_AUTH_KEY = '00112233445566778899AABBCCDDEEFF';
const PORT_PATH = '/dev/ttyP1';

/** Every SerialPort the node creates, so a test can play the meter on the newest one. */
const created: SerialPortMock[] = [];
class RecordingSerialPort extends SerialPortMock {
  constructor(options: SerialPortMockOpenOptions) {
    super(options);
    created.push(this);
  }
}
class NoUdevSerialPort extends SerialPortMock {
  static override list = async (): Promise<never> => {
    throw new Error('spawn udevadm ENOENT');
  };
}

/** Permission checks the admin routes asked for; a request passes only with the permission in a header. */
const permissionsAsked: string[] = [];

function dsmrP1In(RED: NodeAPI): void {
  const red = RED as unknown as { _: typeof translate; auth: { needsPermission(permission: string): unknown } };
  red._ = translate;
  red.auth = {
    needsPermission(permission: string) {
      permissionsAsked.push(permission);
      return (req: Request, res: Response, next: NextFunction) => {
        if (String(req.headers['x-test-permissions'] ?? '').split(',').includes(permission)) next();
        else res.status(401).json({ error: 'unauthorized' });
      };
    },
  };
  (nodeModule('dsmr-p1-in') as (RED: NodeAPI) => void)(RED);
}

interface CaughtMessage extends NodeMessage {
  error: { message: string; source: { id: string } };
  errorCode?: string;
  telegram?: string;
}

/** Waits for a value that the runtime (real I/O, message delivery) makes available. */
async function whenFound<T>(probe: () => T | undefined | null | false, what: string): Promise<T> {
  let found: T | undefined;
  await until(() => {
    const value = probe();
    if (value) found = value;
    return Boolean(value);
  }, what);
  return found as T;
}

/** Runtime settings of this package (not in Node-RED's LocalSettings type). */
function settings(values: Record<string, unknown>): void {
  helper.settings(values as never);
}

function statuses(id: string): Array<{ fill?: string; shape?: string; text?: string }> {
  const node = helper.getNode(id) as Node & { status: { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> } };
  return node.status
    .getCalls()
    .filter((call) => call.thisValue === node)
    .map((call) => call.args[0] as { fill?: string; shape?: string; text?: string });
}

function collect<T = NodeMessage>(id: string): T[] {
  const messages: T[] = [];
  helper.getNode(id).on('input', (msg: unknown) => {
    messages.push(msg as T);
  });
  return messages;
}

/** The meter writes bytes on the newest port, in the given chunk sizes, letting each arrive on its own. */
async function meterSends(bytes: Buffer, sizes = [1, 13, 400, 7, 64]): Promise<void> {
  const port = await whenFound(() => created.at(-1)?.isOpen && created.at(-1), 'an open port');
  let offset = 0;
  for (let i = 0; offset < bytes.length; i += 1) {
    const size = sizes[i % sizes.length];
    port.port!.emitData(bytes.subarray(offset, offset + size));
    offset += size;
    await settle();
  }
}

function coreNode(file: string): unknown {
  return require(require.resolve(`@node-red/nodes/core/${file}`, { paths: [repoRoot] }));
}

function exampleModules(): never {
  return [dsmrP1In, coreNode('function/15-change.js'), coreNode('function/10-function.js'), coreNode('common/90-comment.js')] as never;
}

function readExample(name: string): Array<Record<string, unknown>> {
  return JSON.parse(fs.readFileSync(path.join(repoRoot, 'examples', 'dsmr-p1-in', name), 'utf8')) as Array<Record<string, unknown>>;
}

/** An example flow on a tab, with debug nodes replaced by helper nodes that the test can listen to. */
function asTestFlow(example: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return [
    { id: 'tab1', type: 'tab', label: 'example' },
    ...example.map((n) => (n.type === 'debug' ? { id: n.id, z: 'tab1', type: 'helper', name: n.name } : { ...n, z: 'tab1' })),
  ];
}

function load(flow: Array<Record<string, unknown>>, credentials?: Record<string, Record<string, string>>): Promise<void> {
  return helper.load([dsmrP1In] as never, flow as never, credentials as never);
}

function serialFlow(extra: Record<string, unknown> = {}, second = false) {
  const nodes: Array<Record<string, unknown>> = [
    { id: 'tab1', type: 'tab', label: 'P1' },
    { id: 'p1', z: 'tab1', type: 'dsmr-p1-in', source: 'serial', serialPath: PORT_PATH, preset: 'auto', crc: 'strict', topic: 'meter', rateLimit: '0', silenceTimeout: '0', wires: [['out']], ...extra },
    { id: 'out', z: 'tab1', type: 'helper' },
    { id: 'catcher', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab1', type: 'helper' },
  ];
  if (second) {
    nodes.push({ id: 'p1b', z: 'tab1', type: 'dsmr-p1-in', source: 'serial', serialPath: PORT_PATH, preset: 'dsmr4-5', crc: 'strict', topic: 'second', wires: [['outB']] });
    nodes.push({ id: 'outB', z: 'tab1', type: 'helper' });
  }
  return nodes;
}

describe('dsmr-p1-in node in the Node-RED runtime', () => {
  let clock: ManualClock;
  before(async () => {
    await new Promise<void>((resolve) => helper.startServer(resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => helper.stopServer(resolve));
  });
  beforeEach(() => {
    created.length = 0;
    MockBinding.reset();
    MockBinding.createPort(PORT_PATH);
    // Time moves only when a test says so: reconnect waits, speed detection, silence and replays.
    clock = new ManualClock();
    settings({ dsmrP1InSerialPort: RecordingSerialPort, energyExportClock: clock });
  });
  afterEach(async () => {
    await helper.unload();
  });

  /** Lets the waiting reconnect of a serial port happen: its retry timer is set once the port failed. */
  async function nextRetry(): Promise<void> {
    await clock.whenTimers(1);
    clock.advance(5000);
  }

  it('shares one serial connection between two nodes and sends each telegram, chunked oddly, to both', async () => {
    await load(serialFlow({}, true));
    const first = collect('out');
    const second = collect('outB');
    await meterSends(Buffer.concat([DSMR5, DSMR42]));
    await until(() => first.length === 2 && second.length === 2, 'two telegrams on both outputs');
    assert.equal(created.length, 1, 'one SerialPort for both nodes');

    const msg = first[0] as NodeMessage & { telegram: string; payload: { electricity: Record<string, number>; gas?: { value: number } } };
    assert.equal(msg.topic, 'meter');
    assert.equal(msg.telegram, DSMR5.toString('latin1'));
    assert.equal(msg.payload.electricity.currentDelivered, 0.244);
    assert.equal(msg.payload.electricity.deliveredTariff1, 4.426);
    assert.equal(msg.payload.electricity.deliveredTariff2, 2.399);
    assert.equal(msg.payload.gas?.value, 0.107);
    assert.equal((second[0] as NodeMessage).topic, 'second');
    assert.equal((first[1].payload as { electricity: { currentDelivered: number } }).electricity.currentDelivered, 2.027);
    assert.deepEqual(statuses('p1').at(-1), { fill: 'green', shape: 'dot', text: '2.027 kW' });
    assert.deepEqual(statuses('p1b').at(-1), { fill: 'green', shape: 'dot', text: '2.027 kW' });
  });

  it('detects a DSMR 2.2 meter in auto mode by falling back to 9600 7E1 after 25 s without a valid telegram', async () => {
    await load(serialFlow({ preset: 'auto' }));
    const out = collect('out');
    const caught = collect('caught');
    await until(() => statuses('p1').some((s) => s.fill === 'yellow' && s.text === 'detecting speed (115200 8N1)'), 'the detecting status');
    assert.equal(created[0].baudRate, 115200);
    // A 9600-baud meter read at 115200: bytes arrive, but never a telegram.
    created[0].port!.emitData(Buffer.from([0xf0, 0x00, 0x8f, 0x78, 0xff, 0x06, 0x80, 0x0f]));
    clock.advance(24_999);
    assert.equal(created.length, 1, 'still trying 115200 8N1');
    clock.advance(1);
    const slow = await whenFound(() => created[1]?.isOpen && created[1], 'the second attempt');
    assert.equal(slow.baudRate, 9600);
    await meterSends(DSMR22);
    const msg = await whenFound(() => out[0], 'the DSMR 2.2 telegram');
    const payload = msg.payload as { crc: { valid: boolean | null }; electricity: { currentDelivered: number } };
    assert.equal(payload.crc.valid, null, 'DSMR 2.2 has no CRC');
    assert.equal(payload.electricity.currentDelivered, 1.01);
    assert.equal(created.length, 2);
    assert.equal(caught.length, 0, 'trying the other speed is not an error');
  });

  it('shows the unplug, reports the telegram it cut off, keeps retrying, and reads again after the replug', async () => {
    await load(serialFlow({ preset: 'dsmr4-5' }));
    const out = collect('out');
    const caught = collect<CaughtMessage>('caught');
    await meterSends(DSMR5);
    await until(() => out.length === 1, 'the first telegram');
    await meterSends(DSMR42.subarray(0, 300));

    MockBinding.reset();
    created[0]._disconnected(new Error('Input/output error'));
    await until(() => statuses('p1').some((s) => s.fill === 'red' && s.text === 'unplugged'), 'a red status after the unplug');
    for (let attempt = 2; attempt <= 4; attempt += 1) {
      await nextRetry();
      await until(() => created.length === attempt, `reopen attempt ${attempt}`);
    }
    await until(() => statuses('p1').some((s) => s.fill === 'red' && s.text === 'no port'), 'red while the port is missing');
    assert.ok(statuses('p1').some((s) => s.fill === 'yellow' && s.text === 'retrying'), 'yellow while reopening');
    assert.deepEqual(
      caught.map((m) => m.errorCode),
      ['unplugged', 'INCOMPLETE', 'no port'],
      'the unplug, the telegram it cut off, then each distinct problem once, however often the reopen fails',
    );
    assert.deepEqual(caught[1].payload, DSMR42.subarray(0, 300), 'the bytes that arrived before the unplug');
    assert.match(caught[1].error.message, /cut off after 300 bytes because the connection was lost \(unplugged\)/);

    MockBinding.createPort(PORT_PATH);
    await nextRetry();
    await until(() => statuses('p1').at(-1)?.text === 'connected', 'the connected status');
    await meterSends(DSMR42);
    await until(() => out.length === 2, 'data after the replug');
    assert.equal((out[1].payload as { electricity: { currentDelivered: number } }).electricity.currentDelivered, 2.027);
    assert.deepEqual(statuses('p1').at(-1), { fill: 'green', shape: 'dot', text: '2.027 kW, 1 invalid' });
  });

  it('shows when the last telegram came once it is late, and reopens a port that went silent without a close event', async () => {
    await load(serialFlow({ preset: 'dsmr4-5', silenceTimeout: '' }));
    const out = collect('out');
    const caught = collect<CaughtMessage>('caught');
    // A DSMR 5 meter: one telegram a second.
    for (let i = 1; i <= 3; i += 1) {
      if (i > 1) clock.advance(1000);
      await meterSends(DSMR5, [4096]);
      await until(() => out.length === i, `telegram ${i}`);
    }
    const last = new Date(clock.now()).toLocaleTimeString('en-GB', { hour12: false });
    // The cable is pulled and the driver misses it: no error, no close event, just silence.
    MockBinding.reset();
    clock.advance(3000);
    await until(() => statuses('p1').at(-1)?.fill === 'yellow', 'the late status');
    assert.deepEqual(statuses('p1').at(-1), { fill: 'yellow', shape: 'ring', text: `last telegram ${last}` });
    clock.advance(2000);
    await until(() => caught.length === 1, 'the silence error');
    assert.equal(caught[0].errorCode, 'no data');
    assert.match(caught[0].error.message, /No data from serial port \/dev\/ttyP1 for 5 s/);
    await until(() => statuses('p1').at(-1)?.text === 'no data', 'the red status');

    MockBinding.createPort(PORT_PATH);
    await nextRetry();
    await until(() => created.length === 2 && statuses('p1').at(-1)?.text === 'connected', 'the reopened port');
    await meterSends(DSMR42);
    await until(() => out.length === 4, 'data after the reopen');
  });

  it('never sends an invalid telegram: a Catch node gets the error with the raw bytes', async () => {
    await load(serialFlow({ preset: 'dsmr4-5' }));
    const out = collect('out');
    const caught = collect<CaughtMessage>('caught');
    await meterSends(BAD_CRC);
    const error = await whenFound(() => caught[0], 'the CRC error');
    assert.equal(error.errorCode, 'CRC_MISMATCH');
    assert.equal(error.error.source.id, 'p1');
    assert.ok(Buffer.isBuffer(error.payload), 'the raw bytes as a Buffer');
    assert.deepEqual(error.payload, BAD_CRC);
    assert.equal(error.telegram, BAD_CRC.toString('latin1'));
    assert.equal(error.topic, 'meter');
    await until(() => statuses('p1').at(-1)?.text === 'crc (1 invalid)', 'the invalid status');
    assert.deepEqual(statuses('p1').at(-1), { fill: 'red', shape: 'ring', text: 'crc (1 invalid)' });

    await meterSends(DSMR5);
    await until(() => out.length === 1, 'the valid telegram');
    assert.equal(out.length, 1, 'only the valid telegram was sent');
    assert.deepEqual(statuses('p1').at(-1), { fill: 'green', shape: 'dot', text: '0.244 kW, 1 invalid' });
  });

  it('rate-limits to one message per N seconds and counts the skipped ones without errors', async () => {
    await load(serialFlow({ preset: 'dsmr4-5', rateLimit: '60' }));
    const out = collect('out');
    const caught = collect('caught');
    await meterSends(Buffer.concat([DSMR5, DSMR5, DSMR42]), [2000]);
    await until(() => statuses('p1').at(-1)?.text === '0.244 kW, 2 skipped', 'the skipped count in the status');
    clock.advance(60_000);
    await meterSends(DSMR42, [4096]);
    await until(() => out.length === 2, 'the next telegram a minute later');
    assert.equal(caught.length, 0);
  });

  it('releases the serial port before close is done, so a redeploy can open it at once', async () => {
    await load(serialFlow({ preset: 'dsmr4-5' }));
    const port = await whenFound(() => created[0]?.isOpen && created[0], 'the open port');
    await helper.unload();
    assert.equal(port.isOpen, false);
    const again = new SerialPortMock({ path: PORT_PATH, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => again.open((err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve) => again.close(() => resolve()));
  });

  it('rejects a wrong field at deploy with a CONFIG error naming it, before opening anything', async () => {
    for (const [extra, text] of [
      [{ serialPath: '' }, /^Serial port is empty: choose the serial port/],
      [{ maxTelegramSize: '70000' }, /^Max\. telegram is "70000": enter a whole number from 256 to 65536 bytes/],
      [{ silenceTimeout: 'soon' }, /^Silent after is "soon"/],
    ] as const) {
      await load(serialFlow(extra));
      assert.deepEqual(statuses('p1').at(-1), { fill: 'red', shape: 'ring', text: 'config' });
      const node = helper.getNode('p1') as Node & { error: { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> } };
      const errors = node.error.getCalls().filter((call) => call.thisValue === node);
      assert.match(String((errors[0].args[0] as Error).message), text);
      assert.equal((errors[0].args[0] as { code?: string }).code, 'CONFIG');
      assert.equal(created.length, 0);
      await helper.unload();
    }
  });

  describe('network P1 dongle', () => {
    let server: net.Server;
    let connections = 0;
    before(async () => {
      server = net.createServer((socket) => {
        connections += 1;
        socket.on('error', () => undefined);
        // Sends one telegram in two pieces, then drops the connection like a dongle losing Wi-Fi.
        const telegram = connections === 1 ? DSMR5 : DSMR42;
        socket.write(telegram.subarray(0, 250), () => socket.end(telegram.subarray(250)));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    after(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('reads telegrams, shows the drop, reconnects and continues', async () => {
      const port = (server.address() as net.AddressInfo).port;
      await load([
        { id: 'tab1', type: 'tab', label: 'P1' },
        { id: 'p1', z: 'tab1', type: 'dsmr-p1-in', source: 'tcp', host: '127.0.0.1', port: String(port), crc: 'strict', topic: 'dongle', wires: [['out']] },
        { id: 'out', z: 'tab1', type: 'helper' },
      ]);
      const out = collect('out');
      await until(() => out.length === 1 && statuses('p1').some((s) => s.fill === 'red' && s.text === 'dropped'), 'a telegram, then the drop');
      clock.advance(1000);
      await until(() => out.length === 2, 'a telegram from the second connection');
      assert.equal(connections, 2);
      assert.equal((out[0].payload as { electricity: { currentDelivered: number } }).electricity.currentDelivered, 0.244);
      assert.equal((out[1].payload as { electricity: { currentDelivered: number } }).electricity.currentDelivered, 2.027);
      assert.equal(out[1].topic, 'dongle');
    });
  });

  it('replays the demo recording from a path with ${VAR}, looping', async () => {
    process.env.ENERGY_EXPORT_DEMO_DIR = path.join(repoRoot, 'demo');
    try {
      await load([
        { id: 'tab1', type: 'tab', label: 'P1' },
        { id: 'p1', z: 'tab1', type: 'dsmr-p1-in', source: 'file', filePath: '${ENERGY_EXPORT_DEMO_DIR}/data/p1-recorded.txt', interval: '2', crc: 'strict', topic: 'demo', wires: [['out']] },
        { id: 'out', z: 'tab1', type: 'helper' },
      ]);
      const out = collect<NodeMessage & { telegram: string }>('out');
      await until(() => out.length === 1, 'the first telegram');
      clock.advance(1999);
      clock.advance(1);
      await until(() => out.length === 2, 'the second telegram, 2 s later');
      clock.advance(4 * 2000);
      await until(() => out.length === 6, 'one loop of the recording');
      const recording = fs.readFileSync(path.join(repoRoot, 'demo', 'data', 'p1-recorded.txt'), 'latin1');
      assert.equal(out.slice(0, 5).map((m) => m.telegram).join('').replace(/\r\n$/, ''), recording.replace(/\r\n$/, ''));
      assert.equal(out[5].telegram, out[0].telegram, 'starts again with the first telegram');
      const powers = out.slice(0, 5).map((m) => (m.payload as { electricity: { currentDelivered: number } }).electricity.currentDelivered);
      assert.deepEqual(powers, [0.244, 2.027, 0.111, 0, 0]);
    } finally {
      delete process.env.ENERGY_EXPORT_DEMO_DIR;
    }
  });

  it('runs the npm start demo: current power and totals from the recorded telegrams', async () => {
    process.env.ENERGY_EXPORT_DEMO_DIR = path.join(repoRoot, 'demo');
    try {
      const demo = JSON.parse(fs.readFileSync(path.join(repoRoot, 'demo', 'dsmr.json'), 'utf8')) as Array<Record<string, unknown>>;
      // Debug nodes become helper nodes so the test sees what the debug sidebar would show.
      const flow = demo.map((n) => (n.type === 'debug' ? { id: n.id, z: n.z, type: 'helper', name: n.name } : n));
      await helper.load(exampleModules(), flow as never);
      const byName = (name: string) => demo.find((n) => n.name === name)!.id as string;
      const power = collect<NodeMessage>(byName('Current power (W)'));
      const totals = collect<NodeMessage>(byName('Totals (kWh, m³)'));
      const errors = collect<NodeMessage>(byName('P1 errors'));
      await until(() => power.length === 1, 'the first demo telegram');
      // The demo replays a telegram every 2 s.
      clock.advance(2 * 2000);
      await until(() => power.length >= 3 && totals.length >= 3, 'three demo telegrams');
      assert.deepEqual(power.slice(0, 3).map((m) => m.payload), [244, 2027, 111]);
      assert.deepEqual(JSON.parse(JSON.stringify(totals[0].payload)), { time: '2017-01-02T19:20:02+01:00', deliveredKwh: 6.825, returnedKwh: 2.444, gasM3: 0.107, gasTime: '2017-01-02T16:10:05+01:00' });
      assert.equal(errors.length, 0);
    } finally {
      delete process.env.ENERGY_EXPORT_DEMO_DIR;
    }
  });

  it('example 01 (serial) works as shipped against a meter on /dev/ttyUSB0', async () => {
    MockBinding.createPort('/dev/ttyUSB0');
    const example = readExample('01 - Read a P1 port.json');
    await helper.load(exampleModules(), asTestFlow(example) as never);
    const power = collect(example.find((n) => n.name === 'Power (W)')!.id as string);
    await meterSends(DSMR42);
    const msg = await whenFound(() => power[0], 'the power from the example');
    assert.equal(msg.payload, 2027);
  });

  it('example 02 (network dongle) works as shipped once pointed at a dongle', async () => {
    const dongle = net.createServer((socket) => socket.end(DSMR5));
    await new Promise<void>((resolve) => dongle.listen(0, '127.0.0.1', resolve));
    try {
      const example = readExample('02 - Network P1 dongle.json');
      const p1 = example.find((n) => n.type === 'dsmr-p1-in')!;
      Object.assign(p1, { host: '127.0.0.1', port: String((dongle.address() as net.AddressInfo).port) });
      await helper.load(exampleModules(), asTestFlow(example) as never);
      const totals = collect(example.find((n) => n.name === 'Totals')!.id as string);
      const msg = await whenFound(() => totals[0], 'the totals from the example');
      assert.deepEqual(JSON.parse(JSON.stringify(msg.payload)), { time: '2017-01-02T19:20:02+01:00', deliveredKwh: 6.825, returnedKwh: 2.444, powerKw: 0.244, gasM3: 0.107 });
    } finally {
      await helper.unload();
      await new Promise<void>((resolve) => dongle.close(() => resolve()));
    }
  });

  it('decrypts Luxembourg frames with keys kept as credentials', async () => {
    await load(
      [
        { id: 'tab1', type: 'tab', label: 'P1' },
        { id: 'p1', z: 'tab1', type: 'dsmr-p1-in', source: 'file', filePath: fixturePath('dsmr', 'esphome_lu-smarty-encrypted-sagemcom-t210dr.bin'), interval: '10', crc: 'strict', topic: 'lu', wires: [['out']] },
        { id: 'out', z: 'tab1', type: 'helper' },
      ],
      { p1: { decryptionKey: LU_KEY, authenticationKey: LU_AUTH_KEY } },
    );
    const out = collect<NodeMessage & { telegram: string; payload: { decrypted?: boolean; crc: { valid: boolean } } }>('out');
    const msg = await whenFound(() => out[0], 'the decrypted telegram');
    assert.equal(msg.payload.crc.valid, true);
    assert.ok(msg.telegram.startsWith('/'), 'msg.telegram is the decrypted text');
    assert.ok(!JSON.stringify(msg).includes(LU_KEY));
    const redNodes = (helper as unknown as { _redNodes: { getCredentialDefinition(type: string): Record<string, { type: string }> } })._redNodes;
    assert.deepEqual(redNodes.getCredentialDefinition('dsmr-p1-in'), { decryptionKey: { type: 'password' }, authenticationKey: { type: 'password' } });
    assert.ok(ENCRYPTED[0] === 0xdb);
  });

  it('serves the port list to the editor only with the read permission', async () => {
    MockBinding.createPort('/dev/ttyUSB7', { manufacturer: 'FTDI' });
    await load([{ id: 'tab1', type: 'tab', label: 'P1' }]);
    assert.ok(permissionsAsked.includes('dsmr-p1-in.read'));
    const denied = await helper.request().get('/dsmr-p1-in/ports');
    assert.equal(denied.status, 401);
    const allowed = await helper.request().get('/dsmr-p1-in/ports').set('x-test-permissions', 'dsmr-p1-in.read');
    assert.equal(allowed.status, 200);
    assert.deepEqual(
      allowed.body.ports.map((p: { path: string }) => p.path),
      [PORT_PATH, '/dev/ttyUSB7'],
    );
  });

  it('answers the port list with an empty list and a hint when udevadm is missing', async () => {
    settings({ dsmrP1InSerialPort: NoUdevSerialPort, energyExportClock: clock });
    await load([{ id: 'tab1', type: 'tab', label: 'P1' }]);
    const response = await helper.request().get('/dsmr-p1-in/ports').set('x-test-permissions', 'dsmr-p1-in.read');
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.ports, []);
    assert.match(response.body.message, /udevadm is not installed/);
  });

  describe('the editor definition (nodes/dsmr-p1-in.html)', () => {
    type Validator = (this: Record<string, unknown>, value: unknown, opt?: unknown) => unknown;
    // The dialog is closed: no inputs exist, so validators read the node's own properties.
    const jquery = () => ({ length: 0, val: () => undefined });
    const definition = editorDefinition<{ defaults: Record<string, { value: unknown; validate?: Validator }> }>('dsmr-p1-in', jquery);
    const valid = (property: string, value: unknown): boolean => definition.defaults[property].validate!.call({ source: 'serial' }, value) === true;

    it('starts new nodes with the learned silence timeout and accepts what the runtime accepts', () => {
      assert.equal(definition.defaults.silenceTimeout.value, '');
      assert.equal(definition.defaults.version.value, 2);
      assert.deepEqual(['', '0', '20', '3600'].map((v) => valid('silenceTimeout', v)), [true, true, true, true]);
      assert.deepEqual(['-1', '3601', 'soon'].map((v) => valid('silenceTimeout', v)), [false, false, false]);
      assert.deepEqual(['256', '65536', ''].map((v) => valid('maxTelegramSize', v)), [true, true, true]);
      assert.deepEqual(['255', '65537', '1e4'].map((v) => valid('maxTelegramSize', v)), [false, false, false]);
    });
  });
});
