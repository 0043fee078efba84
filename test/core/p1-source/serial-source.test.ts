import { describe, it, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { SerialPortMock } from 'serialport';
import { MockBinding } from '@serialport/binding-mock';
import { SerialPortPool } from '../../../src/core/p1-source/serial/pool';
import type { SerialOpenOptions } from '../../../src/core/p1-source/serial/serial-source';
import { AUTO_CANDIDATES, SERIAL_PRESETS, serialModeFromConfig, describeSettings } from '../../../src/core/p1-source/serial/settings';
import { describeSerialError } from '../../../src/core/p1-source/serial/errors';
import { listSerialPorts } from '../../../src/core/p1-source/serial/list';
import { loadSerialPort } from '../../../src/core/p1-source/serial/binding';
import { SerialPort } from 'serialport';
import { createTelegramDetector } from '../../../src/core/p1-source/detector';
import type { SourceListener } from '../../../src/core/p1-source/source';
import { isConfigError } from '../../../src/core/runtime/options';
import { ManualClock } from '../../../testing/manual-clock';
import { fixturePath } from '../../../testing/runtime';
import { Recorder } from './recorder';

const DSMR5 = fs.readFileSync(fixturePath('dsmr', 'ndokter_v5-iskra-mt382.txt'));
const DSMR22 = fs.readFileSync(fixturePath('dsmr', 'ndokter_v2.2-iskra-mt382.txt'));
const PATH = '/dev/ttyP1';

/** `silenceMs`: undefined = learned from the meter; the tests that are not about silence turn it off. */
function setup({ silenceMs }: { silenceMs?: number } = { silenceMs: 0 }) {
  const clock = new ManualClock();
  const created: Array<{ options: SerialOpenOptions; port: SerialPortMock }> = [];
  const pool = new SerialPortPool({
    clock,
    createPort: (options) => {
      const port = new SerialPortMock(options);
      created.push({ options, port });
      return port;
    },
  });
  const open = (listener: SourceListener, mode = serialModeFromConfig({ preset: 'dsmr4-5' })) =>
    pool.subscribe({ path: PATH, mode, silenceMs, createDetector: () => createTelegramDetector() }, listener);
  /** What the meter writes into the newest port (what the OS would feed). */
  const meter = (bytes: Buffer): void => {
    const port = created.at(-1)!.port;
    assert.ok(port.isOpen, 'the port should be open');
    port.port!.emitData(bytes);
  };
  return { clock, created, pool, open, meter };
}

/** Opens a port (a test holding the port as another program would), resolving once it is open. */
async function holdPort(): Promise<SerialPortMock> {
  const holder = new SerialPortMock({ path: PATH, baudRate: 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => holder.open((err) => (err ? reject(err) : resolve())));
  return holder;
}

/** The cable is pulled and the driver reports it: the pending read fails, the port closes with an error. */
function unplug(port: SerialPortMock): void {
  MockBinding.reset();
  port._disconnected(new Error('Input/output error'));
}

/**
 * The cable is pulled and the driver misses it (serialport's native binding sometimes does):
 * the device is gone, the pending read never returns, no error and no `close` event arrive.
 */
function unplugSilently(): void {
  MockBinding.reset();
}

describe('serial port source and pool', () => {
  beforeEach(() => {
    MockBinding.reset();
    MockBinding.createPort(PATH);
  });

  it('opens one port for two subscribers, hands both the same bytes and closes with the last', async () => {
    const { created, open, meter } = setup();
    const first = new Recorder();
    const second = new Recorder();
    const a = open(first);
    const b = open(second);
    await first.when(() => first.state === 'open', 'the first sees the open port');
    await second.when(() => second.state === 'open', 'the second sees the open port');
    assert.equal(created.length, 1, 'one SerialPort for one path');
    meter(DSMR5.subarray(0, 100));
    meter(DSMR5.subarray(100));
    await second.when(() => second.bytes.length === DSMR5.length, 'the whole telegram');
    assert.deepEqual(first.bytes, DSMR5);
    assert.deepEqual(second.bytes, DSMR5);

    await a.close();
    assert.ok(created[0].port.isOpen, 'still open for the second subscriber');
    await b.close();
    assert.equal(created[0].port.isOpen, false, 'closed before close() resolved');
    // The port is unlocked again: anyone (a redeployed node) can open it at once.
    const again = await holdPort();
    await new Promise<void>((resolve) => again.close(() => resolve()));
  });

  it('opens the port with the preset of the DSMR version', async () => {
    const { created, open } = setup();
    const listener = new Recorder();
    const sub = open(listener, serialModeFromConfig({ preset: 'dsmr2-3' }));
    await listener.when(() => listener.state === 'open', 'the open port');
    const { baudRate, dataBits, parity, stopBits } = created[0].options;
    assert.deepEqual({ baudRate, dataBits, parity, stopBits }, SERIAL_PRESETS['dsmr2-3']);
    await sub.close();
  });

  it('warns a second node that asks the same port for other settings, and shares the first setting', async () => {
    const { created, open } = setup();
    const first = open(new Recorder(), serialModeFromConfig({ preset: 'dsmr4-5' }));
    const late = new Recorder();
    const second = open(late, serialModeFromConfig({ preset: 'dsmr2-3' }));
    await late.when(() => late.state === 'open', 'the shared port');
    assert.equal(created.length, 1);
    assert.match(late.warnings[0], /already open as 115200 8N1/);
    await Promise.all([first.close(), second.close()]);
  });

  it('reopens after an unplug with backoff once the device is back, and reports each distinct error once', async () => {
    const { created, clock, open, meter } = setup();
    const listener = new Recorder(clock);
    const sub = open(listener);
    await listener.when(() => listener.state === 'open', 'the open port');
    meter(DSMR5);
    await listener.when(() => listener.telegrams === 1, 'the telegram');

    unplug(created[0].port);
    await listener.when(() => listener.state === 'waiting-to-retry', 'the unplug');
    assert.match(listener.problems[0].message, /was disconnected/);
    assert.equal(listener.info!.retryInMs, 1000, 'the first reopen after 1 s');

    // Still unplugged: every retry fails, waits grow 1, 2, 4, 5 s, "does not exist" is reported once.
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      const delay = listener.info!.retryInMs!;
      waits.push(delay);
      const seen = listener.states.length;
      clock.advance(delay);
      await listener.when(() => listener.states.length > seen && listener.state === 'waiting-to-retry', `failed reopen ${attempt}`);
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 5000]);
    assert.equal(created.length, 5);
    assert.deepEqual(listener.problemCodes, ['unplugged', 'no port']);
    assert.ok(listener.states.some((s) => s.state === 'opening' && s.info.retrying), 'the reopen is shown as a retry');

    MockBinding.createPort(PATH);
    clock.advance(listener.info!.retryInMs!);
    await listener.when(() => listener.state === 'open', 'the replugged port');
    meter(DSMR5);
    await listener.when(() => listener.telegrams === 2, 'data after the replug');
    await sub.close();
    assert.equal(clock.pending, 0, 'no timer left after close');
  });

  it('reopens a port that goes silent without a close event within the timeout learned from the meter, and handles the next unplugs too', async () => {
    const { created, clock, open, meter } = setup({ silenceMs: undefined });
    const listener = new Recorder(clock);
    const sub = open(listener);
    await listener.when(() => listener.state === 'open', 'the open port');
    // A DSMR 5 meter: one telegram a second.
    for (let i = 1; i <= 3; i += 1) {
      if (i > 1) clock.advance(1000);
      meter(DSMR5);
      await listener.when(() => listener.telegrams === i, `telegram ${i}`);
    }
    const lastTelegramAt = clock.now();

    unplugSilently();
    clock.advance(3000);
    assert.equal(listener.state, 'open', 'not yet reopened');
    assert.equal(listener.info!.lateSince, lastTelegramAt, 'the status can say when the last telegram came');
    clock.advance(1999);
    assert.equal(listener.state, 'open');
    clock.advance(1);
    assert.equal(listener.state, 'waiting-to-retry', 'reopened 5 s (3 × 1 s, at least 5 s) after the last byte');
    assert.equal(listener.states.at(-1)!.at - lastTelegramAt, 5000);
    assert.deepEqual(listener.problemCodes, ['no data']);
    assert.match(listener.problems[0].message, /No data from serial port \/dev\/ttyP1 for 5 s/);

    // The device is still gone: the reopen fails like after a reported unplug.
    clock.advance(listener.info!.retryInMs!);
    await listener.when(() => listener.problemCodes.includes('no port'), 'the failed reopen');
    assert.equal(created[0].port.isOpen, false, 'the silent port was closed');

    MockBinding.createPort(PATH);
    clock.advance(listener.info!.retryInMs!);
    await listener.when(() => listener.state === 'open', 'the replugged port');
    assert.equal(listener.info!.lateSince, undefined, 'a reopened port gets the meter\'s interval before its telegram is late');
    meter(DSMR5);
    await listener.when(() => listener.telegrams === 4, 'data after the replug');

    // The next unplug, reported by the driver this time, is handled at once.
    unplug(created.at(-1)!.port);
    await listener.when(() => listener.state === 'waiting-to-retry', 'the reported unplug');
    assert.equal(listener.problemCodes.at(-1), 'unplugged');
    MockBinding.createPort(PATH);
    clock.advance(listener.info!.retryInMs!);
    await listener.when(() => listener.state === 'open', 'the port after the second replug');
    meter(DSMR5);
    await listener.when(() => listener.telegrams === 5, 'data after the second replug');

    // And a second silent unplug is noticed within the learned timeout again.
    const before = clock.now();
    unplugSilently();
    clock.advance(5000);
    assert.equal(listener.state, 'waiting-to-retry');
    assert.equal(listener.states.at(-1)!.at - before, 5000);
    await sub.close();
    assert.equal(clock.pending, 0);
  });

  it('treats "port is locked" as retryable and opens once the other handle lets go', async () => {
    const { created, clock, open } = setup();
    const holder = await holdPort();
    const listener = new Recorder();
    const sub = open(listener);
    await listener.when(() => listener.state === 'waiting-to-retry', 'the locked port');
    assert.deepEqual(listener.problemCodes, ['port busy']);
    assert.match(listener.problems[0].message, /in use by another program/);

    await new Promise<void>((resolve) => holder.close(() => resolve()));
    clock.advance(1000);
    await listener.when(() => listener.state === 'open', 'the port once free');
    assert.equal(created.length, 2);
    await sub.close();
  });

  it('a deploy closes the port without treating it as an unplug, even with a retry pending', async () => {
    const { created, clock, open } = setup();
    MockBinding.reset();
    const listener = new Recorder();
    const sub = open(listener);
    await listener.when(() => listener.state === 'waiting-to-retry', 'the missing port');
    assert.equal(clock.pending, 1, 'only the retry timer');
    await sub.close();
    assert.equal(clock.pending, 0);
    assert.equal(sub.state, 'idle');
    clock.advance(60_000);
    assert.equal(created.length, 1, 'nothing reopens after the deploy');
  });

  it('closing while the open is still in flight releases the port that was being opened', async () => {
    const { created, open } = setup();
    const sub = open(new Recorder());
    await sub.close();
    assert.equal(created.length, 1);
    assert.equal(created[0].port.isOpen, false);
  });

  it('a new subscriber waits for the previous connection on the same path to release the port', async () => {
    const { created, open } = setup();
    const first = new Recorder();
    const sub = open(first);
    await first.when(() => first.state === 'open', 'the first connection');
    const closing = sub.close();
    const second = new Recorder();
    const next = open(second);
    await closing;
    await second.when(() => second.state === 'open', 'the second connection');
    assert.deepEqual(second.problems, [], 'no "Cannot lock port" on redeploy');
    assert.equal(created.length, 2);
    await next.close();
  });

  it('a configured silence timeout wins over the learned one, and 0 turns the watchdog off', async () => {
    const configured = setup({ silenceMs: 30_000 });
    const listener = new Recorder(configured.clock);
    const sub = configured.open(listener);
    await listener.when(() => listener.state === 'open', 'the open port');
    for (let i = 1; i <= 3; i += 1) {
      configured.clock.advance(1000);
      configured.meter(DSMR5);
      await listener.when(() => listener.telegrams === i, `telegram ${i}`);
    }
    configured.clock.advance(29_999);
    assert.equal(listener.state, 'open', 'data 29.999 s ago: still healthy although the meter sends every second');
    configured.clock.advance(1);
    assert.equal(listener.state, 'waiting-to-retry');
    assert.deepEqual(listener.problemCodes, ['no data']);
    await sub.close();

    MockBinding.reset();
    MockBinding.createPort(PATH);
    const off = setup({ silenceMs: 0 });
    const quiet = new Recorder(off.clock);
    const other = off.open(quiet);
    await quiet.when(() => quiet.state === 'open', 'the open port');
    off.meter(DSMR5);
    await quiet.when(() => quiet.telegrams === 1, 'a telegram');
    off.clock.advance(3_600_000);
    assert.equal(quiet.state, 'open', 'never reopened');
    assert.ok(quiet.info!.lateSince !== undefined, 'but the status shows the telegram is late');
    off.meter(DSMR5);
    await quiet.when(() => quiet.telegrams === 2 && quiet.info!.lateSince === undefined, 'no longer late');
    await other.close();
  });

  it('auto mode falls back from 115200 8N1 to 9600 7E1 when no valid telegram arrives, then locks in', async () => {
    const { created, clock, open, meter } = setup();
    const listener = new Recorder();
    const sub = open(listener, serialModeFromConfig({ preset: 'auto' }));
    await listener.when(() => listener.state === 'open', 'the first attempt');
    assert.equal(describeSettings(created[0].options), '115200 8N1');
    assert.ok(listener.info!.detecting);
    // What a 9600-baud meter looks like when read at 115200: bytes, but no telegram.
    meter(Buffer.from([0xf0, 0x00, 0x8f, 0x78, 0xff, 0x06, 0x80]));
    clock.advance(25_000);
    await listener.when(() => listener.state === 'open' && created.length === 2, 'the second attempt');
    assert.equal(listener.data.length, 0, 'garbage is not passed on while detecting');
    assert.equal(describeSettings(created[1].options), '9600 7E1');
    assert.equal(created[0].port.isOpen, false);
    assert.deepEqual(listener.problems, [], 'switching speed is not a fault');
    assert.deepEqual(listener.warnings, ['No valid telegram on /dev/ttyP1 at 115200 8N1; trying 9600 7E1.']);

    meter(Buffer.concat([Buffer.from('RL\r\n1-0:1.8'), DSMR22.subarray(0, 200)]));
    meter(Buffer.concat([DSMR22.subarray(200), DSMR22.subarray(0, 10)]));
    await listener.when(() => listener.bytes.length === DSMR22.length + 10, 'the bytes from the first valid telegram on');
    assert.deepEqual(listener.bytes, Buffer.concat([DSMR22, DSMR22.subarray(0, 10)]), 'from the first valid telegram on, nothing is lost');
    assert.equal(listener.info!.detecting, undefined);
    assert.equal(listener.info!.detail, '9600 7E1');
    clock.advance(20_000);
    assert.equal(created.length, 2, 'no more switching once a telegram verified');
    await sub.close();
  });

  it('auto mode keeps 115200 8N1 when the first telegram verifies there', async () => {
    const { created, clock, open, meter } = setup();
    const listener = new Recorder();
    const sub = open(listener, { kind: 'auto', candidates: AUTO_CANDIDATES });
    await listener.when(() => listener.state === 'open', 'the open port');
    meter(DSMR5);
    await listener.when(() => listener.bytes.length === DSMR5.length, 'the telegram');
    assert.deepEqual(listener.bytes, DSMR5);
    clock.advance(25_000);
    assert.equal(created.length, 1);
    await sub.close();
  });
});

describe('serial settings and errors', () => {
  it('reads custom settings and names the wrong field in a CONFIG error', () => {
    assert.deepEqual(serialModeFromConfig({ preset: 'custom', baudRate: '19200', dataBits: '8', parity: 'none', stopBits: '1' }), {
      kind: 'fixed',
      settings: { baudRate: 19200, dataBits: 8, parity: 'none', stopBits: 1 },
    });
    const fails = (config: Record<string, unknown>, field: string, text: RegExp): void =>
      assert.throws(() => serialModeFromConfig(config), (error: unknown) => isConfigError(error) && error.field === field && text.test(error.message));
    fails({ preset: 'custom', baudRate: '1234', dataBits: '8', parity: 'none', stopBits: '1' }, 'Baud rate', /"1234": choose one of 300, .*115200/);
    fails({ preset: 'custom', baudRate: '9600', dataBits: '6', parity: 'none', stopBits: '1' }, 'Data bits', /choose one of 7, 8/);
    fails({ preset: 'custom', baudRate: '9600', dataBits: '7', parity: 'mark', stopBits: '1' }, 'Parity', /none, even, odd/);
    fails({ preset: 'dsmr9' }, 'Meter', /auto, dsmr4-5, dsmr2-3, custom/);
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

  it('loads serialport\'s SerialPort class on first use', () => {
    const loaded = loadSerialPort();
    assert.equal(loaded, SerialPort);
    assert.equal(typeof loaded.list, 'function');
  });
});
