/**
 * Benchmark: what utilityapi-historical (with Wait and Intervals) holds in memory while it exports
 * a meter with a long 15-minute history: trigger → wait → GET /intervals page by page, each page
 * handed on as readings before the next is asked for. The fake UtilityAPI (one Interval object per
 * day) runs in a worker thread so its memory is not counted. Peer, measured in the same run: the
 * previous behaviour, every reading of the meter gathered into one message.
 * Prints only a markdown section on stdout; progress goes to stderr.
 */
import { ServiceHttpClient } from '../src/core/http/client';
import { bearerAuth } from '../src/core/http/auth';
import type { Reading } from '../src/core/readings';
import { validateReading } from '../src/core/readings';
import { runHistoricalCollection } from '../src/core/utilityapi/historical-run';
import { readHistoricalSettings } from '../src/core/utilityapi/settings';
import { ManualClock } from '../testing/manual-clock';
import { UTILITYAPI_TEST_TOKEN } from '../testing/fakes/utilityapi';
import { UtilityApiInWorker } from './fakes-in-workers';

const log = (text: string): void => void process.stderr.write(`${text}\n`);
const DAY_MS = 86_400_000;
const HISTORY_START = Date.UTC(2019, 0, 1, 8); // midnight in the fake's -08:00 utility
const READINGS_PER_DAY = 96;

interface Run {
  days: number;
  pageSize: number;
  held: boolean;
  readings: number;
  pages: number;
  seconds: number;
  /** Largest live heap (after a full GC) while a page was being handed on, above the heap before the run. */
  peakLiveMb: number;
}

/** One export as the node runs it; `hold` gathers every reading as the previous version did. */
async function exportMeter(fake: UtilityApiInWorker, days: number, pageSize: number, hold: boolean): Promise<Run> {
  await fake.meter('m1', HISTORY_START, days, pageSize);
  const clock = ManualClock.autoAdvancing(HISTORY_START + (days + 1) * DAY_MS);
  const client = new ServiceHttpClient({ service: 'utilityapi', baseURL: fake.baseUrl, auth: bearerAuth(UTILITYAPI_TEST_TOKEN), clock, timeoutMs: 120_000 });
  const settings = readHistoricalSettings({ wait: true, fetchIntervals: true, pollInterval: 5 });
  const held: Reading[] = [];
  let readings = 0;
  let pages = 0;
  let invalid = 0;
  global.gc?.();
  const baseline = process.memoryUsage().heapUsed;
  let peak = baseline;
  const started = process.hrtime.bigint();
  // The whole history, from its first day (a short date is the utility's local day).
  await runHistoricalCollection(client, settings, { meters: ['m1'], window: { start: new Date(HISTORY_START).toISOString().slice(0, 10) } }, {
    status: () => undefined,
    triggered: () => undefined,
    delivered: ({ readings: page }) => {
      if (!page) return;
      pages += 1;
      readings += page.length;
      if (page.length && validateReading(page[0]).length > 0) invalid += 1;
      if (hold) for (const reading of page) held.push(reading);
      // What the export holds at its fullest: the page being handed on, after a full collection.
      global.gc?.();
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    },
    failed: ({ error }) => {
      throw error;
    },
  }, { clock });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await client.close();
  if (invalid > 0) throw new Error(`${invalid} pages with invalid readings`);
  if (readings !== days * READINGS_PER_DAY) throw new Error(`expected ${days * READINGS_PER_DAY} readings, got ${readings}`);
  if (hold && held.length !== readings) throw new Error('held readings lost');
  const stats = await fake.stats();
  if (stats.intervalRequests !== pages) throw new Error(`${stats.intervalRequests} interval requests for ${pages} pages`);
  return { days, pageSize, held: hold, readings, pages, seconds, peakLiveMb: (peak - baseline) / 2 ** 20 };
}

const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const years = (days: number): string => `${fmt(days / 365.25, 0)} year${days > 400 ? 's' : ''}`;

async function main(): Promise<void> {
  const fake = new UtilityApiInWorker();
  await fake.start();
  const FIVE_YEARS = 1826;

  log('five years, UtilityAPI page size (1,000 Interval objects), streamed and held');
  const streamed = await exportMeter(fake, FIVE_YEARS, 1000, false);
  const held = await exportMeter(fake, FIVE_YEARS, 1000, true);
  log('five years, 100 Interval objects per page');
  const small = await exportMeter(fake, FIVE_YEARS, 100, false);
  log('1, 5 and 10 years at 100 per page: flat?');
  const flat = [await exportMeter(fake, 366, 100, false), small, await exportMeter(fake, 2 * FIVE_YEARS, 100, false)];
  await fake.stop();

  const row = (label: string, run: Run): string =>
    `| ${label} | ${years(run.days)} | ${int(run.readings)} | ${int(run.pageSize)} | ${run.pages} | ${fmt(run.seconds, 2)} s | ${int(run.readings / run.seconds)} | **${fmt(run.peakLiveMb)} MB** |`;
  const lines = [
    '## UtilityAPI: exporting a long interval history (utilityapi-historical, Wait + Intervals)',
    '',
    `Node ${process.version}. One meter with a 15-minute history, one Interval object per day (${READINGS_PER_DAY} readings), from the fake UtilityAPI`,
    'in a worker thread (its memory is not counted), through the node\'s controller: trigger → wait → GET /intervals,',
    'following `next`. Peak live heap = the largest heap after a full GC while a page was handed on, above the heap',
    'before the run. Peer in the same run: the previous behaviour, every reading of the meter gathered into one message.',
    '',
    '| Export | History | Readings | Objects per page | Pages (messages) | Wall time | Readings/s | Peak live heap |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    row('**page by page** (UtilityAPI\'s page size)', streamed),
    row('**page by page**, smaller pages', small),
    row('every reading in one message (previous version)', held),
    '',
    '| Page by page, 100 objects per page | 1 year | 5 years | 10 years |',
    '|---|---:|---:|---:|',
    `| Readings | ${flat.map((r) => int(r.readings)).join(' | ')} |`,
    `| Peak live heap | ${flat.map((r) => `${fmt(r.peakLiveMb)} MB`).join(' | ')} |`,
    '',
    `Five years of 15-minute data (${int(streamed.readings)} readings) peak at ${fmt(streamed.peakLiveMb)} MB page by page at UtilityAPI's page size and`,
    `${fmt(small.peakLiveMb)} MB with 100 objects per page, against ${fmt(held.peakLiveMb)} MB when every reading is held (${fmt(held.peakLiveMb / streamed.peakLiveMb, 1)}× and`,
    `${fmt(held.peakLiveMb / small.peakLiveMb, 1)}×). The bound is one page, not the history: 10 years take ${fmt(flat[2].peakLiveMb / flat[1].peakLiveMb, 2)}× the memory of 5 years`,
    `at the same page size. UtilityAPI sets the page (up to 1,000 Interval objects); an object holding a month instead of a day`,
    'makes each page larger, and the node cannot cut pages smaller without knowing how `start`/`end` treat objects that cross a cut.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  log(String((error as Error)?.stack ?? error));
  process.exit(1);
});
