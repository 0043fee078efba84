/**
 * The fake UtilityAPI for the benchmark, in its own thread: its CPU work and memory (it builds
 * each page of readings as JSON) stay out of the measured side's event loop and heap. Controlled
 * by messages from bench/utilityapi.bench.ts.
 */
import { parentPort } from 'node:worker_threads';
import { FakeUtilityApi } from '../testing/fakes/utilityapi';

interface Command {
  cmd: 'start' | 'meter' | 'stats' | 'stop';
  uid?: string;
  startMs?: number;
  days?: number;
  pageSize?: number;
}

const fake = new FakeUtilityApi();

parentPort!.on('message', async (command: Command) => {
  switch (command.cmd) {
    case 'start':
      await fake.start();
      parentPort!.postMessage({ baseUrl: fake.baseUrl });
      break;
    case 'meter':
      fake.reset();
      fake.intervalPageSize = command.pageSize ?? 1000;
      fake.addMeter({ uid: command.uid ?? 'm1', pollsUntilDone: 1, history: { startMs: command.startMs ?? 0, days: command.days ?? 1 } });
      parentPort!.postMessage({ ok: true });
      break;
    case 'stats':
      parentPort!.postMessage({ requests: fake.server.requests.length, intervalRequests: fake.server.requestsTo('/api/v2/intervals').length });
      break;
    case 'stop':
      await fake.stop();
      parentPort!.postMessage({ ok: true });
      parentPort!.close();
      break;
  }
});
