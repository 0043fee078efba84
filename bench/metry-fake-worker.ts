/**
 * The fake Metry for the benchmark, in its own thread: its CPU work and memory stay out of the
 * measured side's event loop and heap. Controlled by messages from bench/metry.bench.ts.
 */
import { parentPort } from 'node:worker_threads';
import { FakeMetry } from '../testing/fakes/metry';

interface Command {
  cmd: 'start' | 'meters' | 'stats' | 'stop';
  count?: number;
  dataFrom?: string;
  dataUntil?: string;
  latencyMs?: number;
  rateLimit?: number;
  strictWindow?: boolean;
}

const fake = new FakeMetry();

parentPort!.on('message', async (command: Command) => {
  switch (command.cmd) {
    case 'start':
      await fake.start();
      fake.latencyMs = command.latencyMs ?? 0;
      fake.rateLimit = command.rateLimit ?? 0;
      fake.strictWindow = command.strictWindow ?? false;
      parentPort!.postMessage({ baseUrl: fake.baseUrl });
      break;
    case 'meters':
      fake.clearMeters();
      fake.addMeters(command.count ?? 0, { dataFrom: command.dataFrom, dataUntil: command.dataUntil });
      fake.server.reset();
      fake.rateLimited = 0;
      parentPort!.postMessage({ ok: true });
      break;
    case 'stats':
      parentPort!.postMessage({ requests: fake.server.requests.length, rateLimited: fake.rateLimited, maxInFlight: fake.server.maxInFlight });
      fake.server.reset();
      fake.rateLimited = 0;
      break;
    case 'stop':
      await fake.stop();
      parentPort!.postMessage({ ok: true });
      parentPort!.close();
      break;
  }
});
