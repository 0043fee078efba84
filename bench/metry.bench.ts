/**
 * Benchmark: the Metry export pipeline the nodes run (list meters page by page → plan → batched
 * consumption requests → readings) against the fake Metry with 20 ms latency and a strict
 * 10 requests/s limit (a sliding one-second window, 429 beyond it), with the client at the config
 * node's defaults (10 requests/s, 4 parallel; the limiter plans for 95 % of that).
 * Peer, measured in the same run: the naive export (one request per meter and month, one at a
 * time). The naive monthly export would need 40 minutes at 10 requests/s, so it is measured on a
 * sample of meters and scaled linearly (its time is set by the rate limit, so that is exact enough).
 * Memory: peak heap of the streaming export for 1,000 and 10,000 meters.
 * Prints only a markdown section on stdout; progress goes to stderr.
 */
import os from 'node:os';
import { ServiceHttpClient } from '../src/core/http/client';
import { DEFAULT_RATE_MARGIN } from '../src/core/http/limiter';
import { bearerAuth } from '../src/core/http/auth';
import { listMeters } from '../src/core/metry/meters';
import { ConsumptionExport } from '../src/core/metry/export';
import { CursorStore, MemoryCursorStore, cursorKey, keptCursors } from '../src/core/metry/cursor';
import { FakeMetry, METRY_TEST_TOKEN } from '../testing/fakes/metry';
import { validateReading } from '../src/core/readings';
import { MetryInWorker } from './fakes-in-workers';

const LATENCY_MS = 20;
const RATE = 10;
const NAIVE_SAMPLE = 30;

const log = (text: string): void => void process.stderr.write(`${text}\n`);

function client(fake: MetryInWorker): ServiceHttpClient {
  return new ServiceHttpClient({ service: 'metry', baseURL: fake.baseUrl, auth: bearerAuth(METRY_TEST_TOKEN), requestsPerSecond: RATE, maxConcurrent: 4, timeoutMs: 60_000 });
}

interface Run {
  requests: number;
  rateLimited: number;
  readings: number;
  seconds: number;
  peakHeapMb?: number;
  peakRetainedMb?: number;
}

/**
 * Takes cursor writes and keeps nothing: in the nodes, cursors are the user's database or a store
 * the node keeps (context or a file), so the memory runs leave them out and the store's own size
 * is measured separately.
 */
class DiscardingCursorStore implements CursorStore {
  writes = 0;
  async get(): Promise<string | undefined> {
    return undefined;
  }
  async set(): Promise<void> {
    this.writes += 1;
  }
}

/** Live heap (after GC) that `count` cursors take in an in-memory store, in MB. */
async function cursorStoreMb(count: number): Promise<number> {
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const store = new MemoryCursorStore();
  for (let i = 0; i < count; i += 1) await store.set(cursorKey(FakeMetry.rootId(i), 'month', 'energy'), new Date(Date.UTC(2023, 11, 1) - 3_600_000).toISOString());
  global.gc?.();
  const size = (process.memoryUsage().heapUsed - before) / 2 ** 20;
  if (store.values.size !== count) throw new Error('cursor store lost entries');
  return size;
}

/** Live heap one monthly reading takes, measured over 12,000 held readings. */
async function readingSize(): Promise<number> {
  const { SlotTexts, convertEntry } = await import('../src/core/metry/convert');
  // As in an export run: the slot texts are shared by every meter of the run.
  const slots = new SlotTexts();
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const held = [];
  for (let m = 0; m < 1000; m += 1) {
    const entry = { meter_id: FakeMetry.rootId(m), periods: [{ start_date: '2022-12-31T23:00:00+0000', energy: Array.from({ length: 12 }, (_, i) => 100 + m + i) }] };
    held.push(convertEntry(entry, { meterId: FakeMetry.rootId(m), granularity: 'month', metrics: ['energy'], timezone: 'Europe/Stockholm', slots }).readings);
  }
  global.gc?.();
  const bytes = (process.memoryUsage().heapUsed - before) / (held.length * 12);
  return bytes;
}

/**
 * Each run is a new client, as a nightly run is: its limiter knows nothing of the run before, so
 * the fake's strict window is given a second to forget that run's last requests (not timed).
 */
function freshWindow(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1100));
}

/** The pipeline as metry-meters → metry-consumption run it: streamed pages, planned in chunks. */
async function pipeline(fake: MetryInWorker, granularity: 'month' | 'hour', now: number, sampleHeap = false): Promise<Run> {
  await freshWindow();
  const http = client(fake);
  global.gc?.();
  const baseline = process.memoryUsage().heapUsed;
  let peak = baseline;
  const sample = (): void => {
    const used = process.memoryUsage().heapUsed;
    if (used > peak) peak = used;
  };
  const timer = sampleHeap ? setInterval(sample, 5) : undefined;
  const started = process.hrtime.bigint();
  const cursors = keptCursors(sampleHeap ? new DiscardingCursorStore() : new MemoryCursorStore());
  const exporter = new ConsumptionExport(http, { granularity, metrics: ['energy'], cursors, now, concurrency: 4, chunkSize: 500 });
  let readings = 0;
  let invalid = 0;
  let events = 0;
  let retained = baseline;
  for await (const event of exporter.run(listMeters(http))) {
    if (event.type !== 'readings') continue;
    readings += event.readings.length;
    if (validateReading(event.readings[0]).length > 0) invalid += 1;
    events += 1;
    if (sampleHeap) {
      sample();
      // What the export really holds: the heap right after a full collection, every 25 meters.
      if (events % 25 === 0) {
        global.gc?.();
        retained = Math.max(retained, process.memoryUsage().heapUsed);
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (timer) clearInterval(timer);
  await http.close();
  if (invalid > 0) throw new Error(`${invalid} invalid readings`);
  const stats = await fake.stats();
  const mb = (bytes: number): number => bytes / 2 ** 20;
  return { requests: stats.requests, rateLimited: stats.rateLimited, readings, seconds, peakHeapMb: sampleHeap ? mb(peak - baseline) : undefined, peakRetainedMb: sampleHeap ? mb(retained - baseline) : undefined };
}

/** The naive export: list the meters, then one request per meter and month, one after another. */
async function naive(fake: MetryInWorker, months: string[], granularity: 'month' | 'hour', meterLimit: number): Promise<Run> {
  await freshWindow();
  const http = client(fake);
  const started = process.hrtime.bigint();
  let readings = 0;
  let meters = 0;
  for await (const meter of listMeters(http)) {
    if (meters >= meterLimit) break;
    meters += 1;
    for (const month of months) {
      const response = await http.request<{ data: { periods: { energy: unknown[] }[] }[] }>({ path: `/consumptions/${FakeMetry.rootId(FakeMetry.indexOf(meter.root!._id)!)}/${granularity}/${month}`, query: { metrics: 'energy' }, responseType: 'json' });
      readings += response.data.data[0].periods[0].energy.length;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await http.close();
  const stats = await fake.stats();
  return { requests: stats.requests, rateLimited: stats.rateLimited, readings, seconds };
}

/** Runs a scenario several times and keeps the run with the median wall time (all make the same requests). */
async function medianRun(run: () => Promise<Run>, times = 3): Promise<Run> {
  const runs: Run[] = [];
  for (let i = 0; i < times; i += 1) runs.push(await run());
  if (new Set(runs.map((r) => `${r.requests}/${r.readings}`)).size !== 1) throw new Error('runs of one scenario differ in requests or readings');
  return runs.sort((a, b) => a.seconds - b.seconds)[Math.floor(times / 2)];
}

const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const int = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0];
  const fake = new MetryInWorker();
  await fake.start({ latencyMs: LATENCY_MS, rateLimit: RATE, strictWindow: true });
  const months2023 = Array.from({ length: 12 }, (_, i) => `2023${String(i + 1).padStart(2, '0')}`);

  log('monthly: 2,000 meters × 12 months, 3 runs');
  await fake.meters(2000, '2023-01-01T00:00:00+01:00', '2024-01-01T00:00:00+01:00');
  const monthly = await medianRun(() => pipeline(fake, 'month', Date.parse('2024-01-15T00:00:00+01:00')));
  log(`  ${monthly.requests} requests, median ${fmt(monthly.seconds, 2)} s`);
  log(`naive monthly on ${NAIVE_SAMPLE} meters`);
  const naiveMonthlySample = await naive(fake, months2023, 'month', NAIVE_SAMPLE);
  const scale = 2000 / NAIVE_SAMPLE;
  const listingPages = Math.ceil(2000 / 50);
  const naiveMonthlyRequests = listingPages + 2000 * 12;
  const naiveMonthlySeconds = (naiveMonthlySample.seconds / naiveMonthlySample.requests) * naiveMonthlyRequests;
  log(`  sample: ${naiveMonthlySample.requests} requests, ${fmt(naiveMonthlySample.seconds, 2)} s; scaled ×${fmt(scale)}`);

  log('hourly: 200 meters × 1 month (January 2024, 744 hours), 5 runs');
  await fake.meters(200, '2024-01-01T00:00:00+01:00', '2024-02-01T00:00:00+01:00');
  const hourly = await medianRun(() => pipeline(fake, 'hour', Date.parse('2024-02-05T00:00:00+01:00')), 5);
  log(`  ${hourly.requests} requests, median ${fmt(hourly.seconds, 2)} s`);
  log('naive hourly: 200 meters, one request per meter and month');
  const naiveHourly = await naive(fake, ['202401'], 'hour', 200);
  log(`  ${naiveHourly.requests} requests, ${fmt(naiveHourly.seconds, 2)} s`);

  const memory: { meters: number; run: Run }[] = [];
  for (const meters of [1000, 10_000]) {
    log(`memory: ${int(meters)} meters × 12 months, streamed`);
    await fake.meters(meters, '2023-01-01T00:00:00+01:00', '2024-01-01T00:00:00+01:00');
    const run = await pipeline(fake, 'month', Date.parse('2024-01-15T00:00:00+01:00'), true);
    log(`  ${run.requests} requests, ${fmt(run.seconds, 2)} s, peak heap +${fmt(run.peakHeapMb!)} MB, retained +${fmt(run.peakRetainedMb!, 2)} MB`);
    memory.push({ meters, run });
  }
  await fake.stop();
  const loadAfter = os.loadavg()[0];
  const cursorMb = await cursorStoreMb(10_000);
  const readingBytes = await readingSize();

  const bound = (requests: number): number => requests / RATE;
  // The limiter spaces starts for 95 % of the configured rate, so its own best is a little slower.
  const plannedRate = RATE * DEFAULT_RATE_MARGIN;
  const plannedBound = (requests: number): number => requests / plannedRate;
  const row = (name: string, run: Run, naiveRequests: number, naiveSeconds: number, naiveNote: string): string =>
    `| ${name} | ${int(run.readings)} | ${int(run.requests)} | ${fmt(run.seconds, 2)} s | ${fmt(bound(run.requests), 2)} s | ${fmt(run.seconds / bound(run.requests), 2)}× | ${fmt(run.seconds / plannedBound(run.requests), 2)}× | ${run.rateLimited} | ${int(naiveRequests)} | ${naiveNote}${fmt(naiveSeconds)} s | ${fmt(naiveSeconds / run.seconds)}× |`;
  const [small, large] = memory;
  const lines = [
    '## Metry export (metry-meters → metry-consumption)',
    '',
    `The export pipeline the two nodes run (meters listed page by page, requests planned per chunk of 500 meters,`,
    `\`/consumptions/multi\` for up to 100 meters, split below 100,000 values) against the fake Metry with ${LATENCY_MS} ms`,
    `latency and a strict ${RATE} requests/s limit: a sliding one-second window that answers 429 to a request when ${RATE}`,
    `were accepted in the second before it (no burst credit). The client runs at the config node's defaults (${RATE} requests/s,`,
    `4 parallel); its limiter spaces request starts for ${Math.round(DEFAULT_RATE_MARGIN * 100)} % of the rate (${fmt(plannedRate, 1)}/s) and never lets more than ${RATE} start`,
    `in any sliding second, measured from actual start times. Requests include the meter listing (50 per page). The bound is`,
    `what the rate limit allows at best: requests / ${RATE} per second; the limiter's own best is requests / ${fmt(plannedRate, 1)} per second, both ratios are shown.`,
    `Peer: the naive export, one request per meter and month, one at a time, same client.`,
    `The naive monthly run would take ${fmt(naiveMonthlySeconds / 60, 0)} minutes, so it was measured on ${NAIVE_SAMPLE} meters`,
    `(${naiveMonthlySample.requests} requests, ${fmt(naiveMonthlySample.seconds, 1)} s) and scaled by requests; the naive hourly run is measured in full.`,
    '',
    `| Export | Readings | Requests | Wall time | Bound (requests / ${RATE} s) | Time ÷ bound | Time ÷ limiter's bound (requests / ${fmt(plannedRate, 1)} s) | 429s (strict window) | Naive requests | Naive time | Speed-up |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    row('2,000 meters × 12 months, monthly', monthly, naiveMonthlyRequests, naiveMonthlySeconds, '≈ '),
    row('200 meters × 1 month, hourly', hourly, naiveHourly.requests, naiveHourly.seconds, ''),
    '',
    `Target: no 429 from the strict window, and wall time within 1.1× of the limiter's bound (the 5 % margin is the price of`,
    `never meeting a strict window's edge) — ${[monthly, hourly].every((r) => r.rateLimited === 0 && r.seconds / plannedBound(r.requests) <= 1.1) ? 'met' : 'NOT met'}.`,
    `Load average of the machine (${os.cpus().length} cores) at the start and end of this benchmark: ${fmt(loadBefore, 1)} and ${fmt(loadAfter, 1)}${Math.max(loadBefore, loadAfter) > os.cpus().length / 2 ? ': it was shared with other work, so wall times are longer than on an idle machine (the request counts and 429s are not affected)' : ''}.`,
    '',
    '| Streamed export, monthly, 12 months | Requests | Readings | Wall time | Peak live heap (after GC) | Peak heap incl. garbage |',
    '|---|---:|---:|---:|---:|---:|',
    `| 1,000 meters | ${int(small.run.requests)} | ${int(small.run.readings)} | ${fmt(small.run.seconds, 2)} s | ${fmt(small.run.peakRetainedMb!, 2)} MB | ${fmt(small.run.peakHeapMb!)} MB |`,
    `| 10,000 meters | ${int(large.run.requests)} | ${int(large.run.readings)} | ${fmt(large.run.seconds, 2)} s | ${fmt(large.run.peakRetainedMb!, 2)} MB | ${fmt(large.run.peakHeapMb!)} MB |`,
    '',
    `Live heap for 10× the meters: ${fmt(large.run.peakRetainedMb! / small.run.peakRetainedMb!, 2)}× (target: flat), ${int(((large.run.peakRetainedMb! - small.run.peakRetainedMb!) * 2 ** 20) / 9000)} bytes per`,
    `additional meter, against about ${int(readingBytes * 12)} bytes per meter if its 12 readings were held; the peak including not yet collected`,
    `garbage: ${fmt(large.run.peakHeapMb! / small.run.peakHeapMb!, 2)}×. Both above the heap before the run. Readings are handed on per meter and request and`,
    'never collected; the fake runs in a worker thread so its memory is not counted. The cursors (one per meter, granularity and',
    `metric) are the user's database or state the node keeps (context or a file), not the export's: the memory runs hand them to`,
    `a store that keeps nothing; 10,000 cursors in an in-memory store take ${fmt(cursorMb, 2)} MB.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
