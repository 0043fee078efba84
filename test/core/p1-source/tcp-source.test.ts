import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import { TcpSource, tcpEndpointFromConfig } from '../../../src/core/p1-source/tcp-source';
import { ManualClock } from '../../../testing/manual-clock';
import type { ConnectionState } from '../../../src/core/p1-source/connection-state';
import type { SourceListener, SourceStateInfo } from '../../../src/core/p1-source/source';
import { fixturePath } from '../../../testing/runtime';

const DSMR5 = fs.readFileSync(fixturePath('dsmr', 'ndokter_v5-iskra-mt382.txt'));

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

class Recorder implements SourceListener {
  readonly data: Buffer[] = [];
  readonly states: Array<{ state: ConnectionState; info: SourceStateInfo }> = [];
  readonly problems: Error[] = [];
  onData(chunk: Buffer): void {
    this.data.push(chunk);
  }
  onState(state: ConnectionState, info: SourceStateInfo): void {
    this.states.push({ state, info });
  }
  onProblem(error: Error): void {
    this.problems.push(error);
  }
  get bytes(): Buffer {
    return Buffer.concat(this.data);
  }
  get state(): ConnectionState | undefined {
    return this.states.at(-1)?.state;
  }
}

/** A P1 dongle: sends what the test says on each connection, counts connections. */
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
    const timers = new ManualClock();
    const listener = new Recorder();
    source = new TcpSource({ host: '127.0.0.1', port, clock: timers, reconnectMs: 1000 }, listener);
    await until(() => listener.state === 'waiting-to-retry', 'the drop');
    assert.deepEqual(listener.bytes, DSMR5);
    assert.equal(listener.problems[0].message, `127.0.0.1:${port} closed the connection; reconnecting.`);
    assert.equal(listener.states.at(-1)!.info.retryInMs, 1000, 'data flowed, so the first retry uses the base delay');

    timers.advance(1000);
    await until(() => listener.bytes.length === 2 * DSMR5.length, 'the second telegram');
    assert.equal(dongle.connections, 2);
    assert.deepEqual(listener.bytes, Buffer.concat([DSMR5, DSMR5]));
  });

  it('backs off exponentially while the dongle refuses, up to the maximum', async () => {
    dongle = new Dongle();
    const port = await dongle.start();
    await dongle.stop();
    dongle = undefined;
    const timers = new ManualClock();
    const listener = new Recorder();
    source = new TcpSource({ host: '127.0.0.1', port, clock: timers, reconnectMs: 1000, maxReconnectMs: 5000 }, listener);
    const delays: number[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1) {
      await until(() => listener.state === 'waiting-to-retry', 'a refused connection');
      const delay = listener.states.at(-1)!.info.retryInMs!;
      delays.push(delay);
      timers.advance(delay);
      assert.equal(listener.state, 'opening');
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 5000, 5000]);
    assert.equal(listener.problems.length, 1, 'the same refusal is reported once');
    assert.equal((listener.problems[0] as { code?: string }).code, 'refused');
  });

  it('treats a connection that stays silent as a fault and reconnects', async () => {
    dongle = new Dongle();
    const port = await dongle.start();
    const timers = new ManualClock();
    const listener = new Recorder();
    source = new TcpSource({ host: '127.0.0.1', port, clock: timers, reconnectMs: 1000, silenceMs: 30000 }, listener);
    await until(() => listener.state === 'open', 'the connection');
    timers.advance(30000);
    assert.equal(listener.state, 'waiting-to-retry');
    assert.equal((listener.problems[0] as { code?: string }).code, 'no data');
    await until(() => dongle!.open === 0, 'the silent socket to be closed');
    timers.advance(1000);
    await until(() => dongle!.connections === 2 && listener.state === 'open', 'the reconnect');
  });

  it('close() releases the socket and every timer before it resolves', async () => {
    dongle = new Dongle();
    const port = await dongle.start();
    const timers = new ManualClock();
    const listener = new Recorder();
    source = new TcpSource({ host: '127.0.0.1', port, clock: timers }, listener);
    await until(() => listener.state === 'open' && dongle!.connections === 1, 'the connection');
    await source.close();
    assert.equal(timers.pending, 0);
    assert.equal(listener.state, 'idle');
    await until(() => dongle!.open === 0, 'the server to see the close');
  });

  it('validates host and port with sentences', () => {
    assert.deepEqual(tcpEndpointFromConfig(' dongle.local ', '23'), { host: 'dongle.local', port: 23 });
    assert.throws(() => tcpEndpointFromConfig('', '23'), /host name or IP address/);
    assert.throws(() => tcpEndpointFromConfig('x', '70000'), /not valid/);
  });
});
