/**
 * The service fakes the benchmarks talk to, each in its own worker thread (bench/*-fake-worker.ts):
 * the fake's CPU work and memory stay out of the measured side's event loop and heap.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';

class FakeInWorker {
  private readonly worker: Worker;
  baseUrl = '';

  constructor(script: string) {
    this.worker = new Worker(path.join(__dirname, script));
  }

  protected ask<T>(command: Record<string, unknown>): Promise<T> {
    return new Promise((resolve) => {
      this.worker.once('message', resolve);
      this.worker.postMessage(command);
    });
  }

  async start(options: Record<string, unknown> = {}): Promise<void> {
    this.baseUrl = (await this.ask<{ baseUrl: string }>({ cmd: 'start', ...options })).baseUrl;
  }

  async stop(): Promise<void> {
    await this.ask({ cmd: 'stop' });
    await this.worker.terminate();
  }
}

/** The fake Metry of bench/metry-fake-worker.ts. */
export class MetryInWorker extends FakeInWorker {
  constructor() {
    super('metry-fake-worker.js');
  }

  meters(count: number, dataFrom: string, dataUntil: string): Promise<unknown> {
    return this.ask({ cmd: 'meters', count, dataFrom, dataUntil });
  }

  stats(): Promise<{ requests: number; rateLimited: number }> {
    return this.ask({ cmd: 'stats' });
  }
}

/** The fake UtilityAPI of bench/utilityapi-fake-worker.ts. */
export class UtilityApiInWorker extends FakeInWorker {
  constructor() {
    super('utilityapi-fake-worker.js');
  }

  meter(uid: string, startMs: number, days: number, pageSize: number): Promise<unknown> {
    return this.ask({ cmd: 'meter', uid, startMs, days, pageSize });
  }

  stats(): Promise<{ requests: number; intervalRequests: number }> {
    return this.ask({ cmd: 'stats' });
  }
}
