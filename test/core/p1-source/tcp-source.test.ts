import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import { TcpSource } from '../../../src/core/p1-source/tcp-source';
import { ManualClock, until } from '../../../testing/manual-clock';
import { fixturePath } from '../../../testing/runtime';
import { Recorder } from './recorder';

const DSMR5 = fs.readFileSync(fixturePath('dsmr', 'ndokter_v5-iskra-mt382.txt'));

/** A P1 dongle: does what the test says on each connection, counts connections. */
class Dongle {
  readonly server = net.createServer((socket) => this.accept(socket));
  readonly sockets: net.Socket[] = [];
  connections = 0;
  onConnect: (socket: net.Socket) => void = () => undefined;

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  private accept(socket: net.Socket): void {
    this.connections += 1;
    this.sockets.push(socket);
    socket.on('error', () => undefined);
    this.onConnect(socket);
  }

  get open(): number {
    return this.sockets.filter((socket) => !socket.destroyed).length;
  }

  get newest(): net.Socket {
    return this.sockets.at(-1)!;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('TCP source (network P1 dongle, ser2net)', () => {
  let dongle: Dongle | undefined;
  let source: TcpSource | undefined;
  afterEach(async () => {
    await source?.close();
    await dongle?.stop();
    source = dongle = undefined;
  });

  it('receives telegram bytes, reconnects after the dongle drops the connection, and continues', async () => {
    dongle = new Dongle();
    const port = await dongle.start();
    dongle.onConnect = (socket) => {
      socket.write(DSMR5.subarray(0, 333));
      socket.end(DSMR5.subarray(333));
    };
    const clock = new ManualClock();
    const listener = new Recorder(clock);
    source = new TcpSource({ host: '127.0.0.1', port, clock }, listener);
    await listener.when(() => listener.state === 'waiting-to-retry', 'the drop');
    assert.deepEqual(listener.bytes, DSMR5);
    assert.equal(listener.problems[0].message, `127.0.0.1:${port} closed the connection; reconnecting.`);
    assert.equal(listener.info!.retryInMs, 1000, 'data flowed, so the first retry uses the base delay');

    clock.advance(1000);
    await listener.when(() => listener.telegrams === 2, 'the second telegram');
    assert.equal(dongle.connections, 2);
    assert.deepEqual(listener.bytes, Buffer.concat([DSMR5, DSMR5]));
  });

  it('backs off 1, 2, 4, 5, 5 s while the dongle refuses, and reports the refusal once', async () => {
    dongle = new Dongle();
    const port = await dongle.start();
    await dongle.stop();
    dongle = undefined;
    const clock = new ManualClock();
    const listener = new Recorder(clock);
    source = new TcpSource({ host: '127.0.0.1', port, clock }, listener);
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      await listener.when(() => listener.states.filter((s) => s.state === 'waiting-to-retry').length === attempt, `refusal ${attempt}`);
      const delay = listener.info!.retryInMs!;
      delays.push(delay);
      clock.advance(delay);
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 5000, 5000]);
    assert.deepEqual(listener.problemCodes, ['refused']);
  });

  it('notices a dongle that keeps the connection open but stops sending, within 3 intervals of the meter', async () => {
    dongle = new Dongle();
    const port = await dongle.start();
    const clock = new ManualClock();
    const listener = new Recorder(clock);
    source = new TcpSource({ host: '127.0.0.1', port, clock }, listener);
    await listener.when(() => listener.state === 'open', 'the connection');
    await until(() => dongle!.connections === 1, 'the dongle to accept');
    // A DSMR 5 meter behind the dongle: one telegram a second; then Wi-Fi is lost, the socket stays half-open.
    for (let i = 1; i <= 3; i += 1) {
      if (i > 1) clock.advance(1000);
      dongle.newest.write(DSMR5);
      await listener.when(() => listener.telegrams === i, `telegram ${i}`);
    }
    const lastTelegramAt = clock.now();
    clock.advance(4999);
    assert.equal(listener.state, 'open');
    assert.equal(listener.info!.lateSince, lastTelegramAt);
    clock.advance(1);
    assert.equal(listener.state, 'waiting-to-retry');
    assert.deepEqual(listener.problemCodes, ['no data']);
    assert.match(listener.problems[0].message, /for 5 s/);
    await until(() => dongle!.open === 0, 'the silent socket to be closed');
    clock.advance(listener.info!.retryInMs!);
    await listener.when(() => listener.state === 'open', 'the reconnect');
    await until(() => dongle!.connections === 2, 'the dongle to accept again');
  });

  it('a configured silence timeout wins: 30 s', async () => {
    dongle = new Dongle();
    const port = await dongle.start();
    const clock = new ManualClock();
    const listener = new Recorder(clock);
    source = new TcpSource({ host: '127.0.0.1', port, clock, silenceMs: 30_000 }, listener);
    await listener.when(() => listener.state === 'open', 'the connection');
    clock.advance(29_999);
    assert.equal(listener.state, 'open');
    clock.advance(1);
    assert.equal(listener.state, 'waiting-to-retry');
    assert.deepEqual(listener.problemCodes, ['no data']);
  });

  it('close() releases the socket and every timer before it resolves', async () => {
    dongle = new Dongle();
    const port = await dongle.start();
    const clock = new ManualClock();
    const listener = new Recorder(clock);
    source = new TcpSource({ host: '127.0.0.1', port, clock }, listener);
    await listener.when(() => listener.state === 'open', 'the connection');
    await source.close();
    assert.equal(clock.pending, 0);
    assert.equal(listener.state, 'idle');
    await until(() => dongle!.open === 0, 'the server to see the close');
  });
});
