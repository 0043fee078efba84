import { describe, it, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { SerialPortMock } from 'serialport';
import { MockBinding } from '@serialport/binding-mock';
import { SerialPortPool, type SerialOpenOptions } from '../../../src/core/serial/pool';
import { AUTO_CANDIDATES, SERIAL_PRESETS, serialModeFromConfig, describeSettings } from '../../../src/core/serial/settings';
import { describeSerialError } from '../../../src/core/serial/errors';
import { listSerialPorts } from '../../../src/core/serial/list';
import { ManualClock } from '../../../testing/manual-clock';
import { createTelegramDetector } from '../../../src/core/p1-source/detector';
import type { ConnectionState } from '../../../src/core/p1-source/connection-state';
import type { SourceListener, SourceStateInfo } from '../../../src/core/p1-source/source';
import { fixturePath } from '../../../testing/runtime';

const DSMR5 = fs.readFileSync(fixturePath('dsmr', 'ndokter_v5-iskra-mt382.txt'));
const DSMR22 = fs.readFileSync(fixturePath('dsmr', 'ndokter_v2.2-iskra-mt382.txt'));

/** Lets the mock binding's nextTick/promise work run. */
async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
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
  get bytes(): Buffer {
    return Buffer.concat(this.data);
  }
  get state(): ConnectionState | undefined {
    return this.states.at(-1)?.state;
  }
}

function setup(extra: { silenceMs?: number } = {}) {
  const timers = new ManualClock();
  const created: Array<{ options: SerialOpenOptions; port: SerialPortMock }> = [];
  const pool = new SerialPortPool({
    clock: timers,
    reconnectMs: 5000,
    detectWindowMs: 25000,
    createPort: (options) => {
      const port = new SerialPortMock(options);
      created.push({ options, port });
      return port;
    },
    createDetector: () => createTelegramDetector(),
  });
  const open = (path: string, listener: SourceListener, mode = serialModeFromConfig({ preset: 'dsmr4-5' })) =>
    pool.subscribe({ path, mode, silenceMs: extra.silenceMs ?? 0 }, listener);
  return { clock: timers, created, pool, open };
}

/** The binding behind the newest port object for a path (what the OS would feed). */
function binding(created: Array<{ port: SerialPortMock }>): { emitData(data: Buffer): void } {
  const port = created.at(-1)!.port;
  assert.ok(port.isOpen, 'the port should be open');
  return port.port!;
}

/** Unplugs: the device disappears and the pending read fails, as the OS reports it. */
function unplug(port: SerialPortMock): void {
  MockBinding.reset();
  port._disconnected(new Error('Input/output error'));
}

describe('serial port pool', () => {
  beforeEach(() => {
    MockBinding.reset();
    MockBinding.createPort('/dev/ttyP1');
  });

  it('opens one port for two subscribers, hands both the same bytes and closes with the last', async () => {
    const { created, open } = setup();
    const first = new Recorder();
    const second = new Recorder();
    const a = open('/dev/ttyP1', first);
    const b = open('/dev/ttyP1', second);
    await settle();
    assert.equal(created.length, 1, 'one SerialPort for one path');
    assert.equal(first.state, 'open');
    assert.equal(second.state, 'open');
    binding(created).emitData(DSMR5.subarray(0, 100));
    binding(created).emitData(DSMR5.subarray(100));
    await settle();
    assert.deepEqual(first.bytes, DSMR5);
    assert.deepEqual(second.bytes, DSMR5);

    await a.close();
    assert.ok(created[0].port.isOpen, 'still open for the second subscriber');
    await b.close();
    assert.equal(created[0].port.isOpen, false, 'closed before close() resolved');
    // The port is unlocked again: anyone (a redeployed node) can open it at once.
    const again = new SerialPortMock({ path: '/dev/ttyP1', baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => again.open((err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve) => again.close(() => resolve()));
  });

  it('opens the port with the preset of the DSMR version', async () => {
    const { created, open } = setup();
    const sub = open('/dev/ttyP1', new Recorder(), serialModeFromConfig({ preset: 'dsmr2-3' }));
    await settle();
    assert.deepEqual(
      { baudRate: created[0].options.baudRate, dataBits: created[0].options.dataBits, parity: created[0].options.parity, stopBits: created[0].options.stopBits },
      SERIAL_PRESETS['dsmr2-3'],
    );
    await sub.close();
  });

  it('warns a second node that asks the same port for other settings, and shares the first setting', async () => {
    const { created, open } = setup();
    const first = open('/dev/ttyP1', new Recorder(), serialModeFromConfig({ preset: 'dsmr4-5' }));
    const late = new Recorder();
    const second = open('/dev/ttyP1', late, serialModeFromConfig({ preset: 'dsmr2-3' }));
    await settle();
    assert.equal(created.length, 1);
    assert.match(late.warnings[0], /already open as 115200 8N1/);
    await Promise.all([first.close(), second.close()]);
  });

  it('reopens after an unplug once the device is back, and reports each distinct error once', async () => {
    const { created, clock: timers, open } = setup();
    const listener = new Recorder();
    const sub = open('/dev/ttyP1', listener);
    await settle();
    binding(created).emitData(DSMR5);
    await settle();

    unplug(created[0].port);
    await settle();
    assert.equal(listener.state, 'waiting-to-retry');
    assert.match(listener.problems[0].message, /was disconnected/);
    assert.deepEqual(timers.pendingDelays(), [5000], 'reopen is scheduled within 5 s');

    // Still unplugged: every retry fails, the "does not exist" problem is reported only once.
    for (let i = 0; i < 3; i += 1) {
      timers.advance(5000);
      await settle();
      assert.equal(listener.state, 'waiting-to-retry');
    }
    assert.equal(created.length, 4);
    assert.deepEqual(
      listener.problems.map((p) => (p as { code?: string }).code),
      ['unplugged', 'no port'],
    );
    assert.ok(listener.states.some((s) => s.state === 'opening' && s.info.retrying), 'the reopen is shown as a retry');

    MockBinding.createPort('/dev/ttyP1');
    timers.advance(5000);
    await settle();
    assert.equal(listener.state, 'open');
    binding(created).emitData(DSMR5);
    await settle();
    assert.deepEqual(listener.data.at(-1), DSMR5, 'data flows again after the replug');
    await sub.close();
    assert.equal(timers.pending, 0, 'no timer left after close');
  });

  it('treats "port is locked" as retryable and opens once the other handle lets go', async () => {
    const { created, clock: timers, open } = setup();
    const holder = new SerialPortMock({ path: '/dev/ttyP1', baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => holder.open((err) => (err ? reject(err) : resolve())));
    const listener = new Recorder();
    const sub = open('/dev/ttyP1', listener);
    await settle();
    assert.equal(listener.state, 'waiting-to-retry');
    assert.equal((listener.problems[0] as { code?: string }).code, 'port busy');
    assert.match(listener.problems[0].message, /in use by another program/);

    await new Promise<void>((resolve) => holder.close(() => resolve()));
    timers.advance(5000);
    await settle();
    assert.equal(listener.state, 'open');
    assert.equal(created.length, 2);
    await sub.close();
  });

  it('a deploy closes the port without treating it as an unplug, even with a retry pending', async () => {
    const { created, clock: timers, open } = setup();
    MockBinding.reset();
    const listener = new Recorder();
    const sub = open('/dev/ttyP1', listener);
    await settle();
    assert.equal(listener.state, 'waiting-to-retry');
    assert.equal(timers.pending, 1);
    await sub.close();
    assert.equal(timers.pending, 0);
    assert.equal(sub.state, 'idle');
    timers.advance(60000);
    await settle();
    assert.equal(created.length, 1, 'nothing reopens after the deploy');
  });

  it('closing while the open is still in flight releases the port that was being opened', async () => {
    const { created, open } = setup();
    const sub = open('/dev/ttyP1', new Recorder());
    const closed = sub.close();
    await closed;
    await settle();
    assert.equal(created.length, 1);
    assert.equal(created[0].port.isOpen, false);
  });

  it('a new subscriber waits for the previous connection on the same path to release the port', async () => {
    const { created, open } = setup();
    const first = new Recorder();
    const sub = open('/dev/ttyP1', first);
    await settle();
    const closing = sub.close();
    const second = new Recorder();
    const next = open('/dev/ttyP1', second);
    await closing;
    await settle();
    assert.equal(second.state, 'open');
    assert.deepEqual(second.problems, [], 'no "Cannot lock port" on redeploy');
    assert.equal(created.length, 2);
    await next.close();
  });

  it('treats a silent open port as a fault and reopens it', async () => {
    const { created, clock: timers, open } = setup({ silenceMs: 30000 });
    const listener = new Recorder();
    const sub = open('/dev/ttyP1', listener);
    await settle();
    timers.advance(20000);
    binding(created).emitData(DSMR5);
    await settle();
    timers.advance(20000);
    assert.equal(listener.state, 'open', 'data 20 s ago: still healthy');
    timers.advance(10000);
    await settle();
    assert.equal(listener.state, 'waiting-to-retry');
    assert.equal((listener.problems[0] as { code?: string }).code, 'no data');
    assert.equal(created[0].port.isOpen, false);
    timers.advance(5000);
    await settle();
    assert.equal(listener.state, 'open');
    assert.equal(created.length, 2);
    await sub.close();
  });

  it('auto mode falls back from 115200 8N1 to 9600 7E1 when no valid telegram arrives, then locks in', async () => {
    const { created, clock: timers, open } = setup();
    const listener = new Recorder();
    const sub = open('/dev/ttyP1', listener, serialModeFromConfig({ preset: 'auto' }));
    await settle();
    assert.equal(describeSettings(created[0].options), '115200 8N1');
    assert.ok(listener.states.at(-1)!.info.detecting);
    // What a 9600-baud meter looks like when read at 115200: bytes, but no telegram.
    binding(created).emitData(Buffer.from([0xf0, 0x00, 0x8f, 0x78, 0xff, 0x06, 0x80]));
    await settle();
    assert.equal(listener.data.length, 0, 'garbage is not passed on while detecting');
    timers.advance(25000);
    await settle();
    assert.equal(created.length, 2);
    assert.equal(describeSettings(created[1].options), '9600 7E1');
    assert.equal(created[0].port.isOpen, false);
    assert.equal(listener.state, 'open');
    assert.deepEqual(listener.problems, [], 'switching speed is not a fault');
    assert.deepEqual(listener.warnings, ['No valid telegram on /dev/ttyP1 at 115200 8N1; trying 9600 7E1.']);

    binding(created).emitData(Buffer.concat([Buffer.from('RL\r\n1-0:1.8'), DSMR22.subarray(0, 200)]));
    await settle();
    binding(created).emitData(Buffer.concat([DSMR22.subarray(200), DSMR22.subarray(0, 10)]));
    await settle();
    assert.deepEqual(listener.bytes, Buffer.concat([DSMR22, DSMR22.subarray(0, 10)]), 'from the first valid telegram on, nothing is lost');
    assert.equal(listener.states.at(-1)!.info.detecting, undefined);
    assert.equal(listener.states.at(-1)!.info.detail, '9600 7E1');
    timers.advance(100000);
    await settle();
    assert.equal(created.length, 2, 'no more switching once a telegram verified');
    await sub.close();
  });

  it('auto mode keeps 115200 8N1 when the first telegram verifies there', async () => {
    const { created, clock: timers, open } = setup();
    const listener = new Recorder();
    const sub = open('/dev/ttyP1', listener, { kind: 'auto', candidates: AUTO_CANDIDATES });
    await settle();
    binding(created).emitData(DSMR5);
    await settle();
    assert.deepEqual(listener.bytes, DSMR5);
    timers.advance(30000);
    await settle();
    assert.equal(created.length, 1);
    await sub.close();
  });
});

describe('serial settings and errors', () => {
  it('validates custom settings with a sentence naming the field', () => {
    assert.deepEqual(serialModeFromConfig({ preset: 'custom', baudRate: '19200', dataBits: '8', parity: 'none', stopBits: '1' }), {
      kind: 'fixed',
      settings: { baudRate: 19200, dataBits: 8, parity: 'none', stopBits: 1 },
    });
    assert.throws(() => serialModeFromConfig({ preset: 'custom', baudRate: '1234', dataBits: '8', parity: 'none', stopBits: '1' }), /Baud rate "1234" is not supported/);
    assert.throws(() => serialModeFromConfig({ preset: 'custom', baudRate: '9600', dataBits: '6', parity: 'none', stopBits: '1' }), /Data bits must be 7 or 8/);
    assert.throws(() => serialModeFromConfig({ preset: 'custom', baudRate: '9600', dataBits: '7', parity: 'mark', stopBits: '1' }), /Parity/);
    assert.throws(() => serialModeFromConfig({ preset: 'dsmr9' }), /Unknown serial preset/);
  });

  it('tells the user what to do about permissions and busy ports', () => {
    assert.match(describeSerialError(new Error('Error: Permission denied, cannot open /dev/ttyUSB0'), '/dev/ttyUSB0').message, /dialout/);
    assert.equal(describeSerialError(new Error('Error Resource temporarily unavailable Cannot lock port'), '/dev/ttyUSB0').code, 'port busy');
    assert.equal(describeSerialError(new Error('Error: No such file or directory, cannot open /dev/ttyUSB9'), '/dev/ttyUSB9').code, 'no port');
  });

  it('lists ports, and turns a missing udevadm into an empty list with a hint', async () => {
    const listing = await listSerialPorts(async () => [{ path: '/dev/ttyUSB1', manufacturer: 'FTDI' }, { path: '/dev/ttyUSB0' }]);
    assert.deepEqual(listing.ports.map((p) => p.path), ['/dev/ttyUSB0', '/dev/ttyUSB1']);
    assert.equal(listing.ports[1].label, '/dev/ttyUSB1 · FTDI');
    const failed = await listSerialPorts(async () => {
      throw Object.assign(new Error('spawn udevadm ENOENT'), { code: 'ENOENT' });
    });
    assert.deepEqual(failed.ports, []);
    assert.match(failed.message!, /udevadm is not installed/);
  });
});
