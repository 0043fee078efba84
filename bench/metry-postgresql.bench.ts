/**
 * Benchmark: the nightly Metry export into PostgreSQL as the metry-to-postgresql example runs it,
 * in the real Node-RED runtime (embedded, as `node-red` runs it: no test helper recording every
 * message), against the fake Metry in a worker thread (20 ms latency, 10 requests/s, 429 beyond)
 * and a real PostgreSQL with its durability settings on.
 *
 * Scenario, a night in steady state: the table holds every meter's hourly values up to the day before
 * yesterday; every meter has yesterday's 24 hourly values new, and the export's look-back (72 hours
 * by default) fetches and upserts the 3 stored days again (the example switched from daily to
 * hourly values, the heavier nightly job). Runs for 10,000 and 100,000 meters: requests and wall
 * time against the rate-limit bound (requests / 10 per second), rows written per second, peak heap.
 * Then the database side alone: the example's Function node fed batches of 2,400 readings
 * (100 meters × 24 hours) as fast as it takes them, first inserted, then overwritten.
 * Prints only a markdown section on stdout; progress goes to stderr.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { externalModulesUserDir, placeExample, readExample, type FlowNode } from '../testing/examples';
import { METRY_TEST_TOKEN } from '../testing/fakes/metry';
import { repoRoot } from '../testing/paths';
import { pg, type PgPool } from '../testing/pg';
import { startPostgres } from '../testing/servers';
import { MetryInWorker } from './fakes-in-workers';

const LATENCY_MS = 20;
const RATE = 10;
// BENCH_METERS=500,1000 for a quick look; the documented figures are the default.
const METER_COUNTS = (process.env.BENCH_METERS ?? '10000,100000').split(',').map(Number);
const HOUR = 3_600_000;
const CAPACITY_BATCHES = 100;

const log = (text: string): void => void process.stderr.write(`${text}\n`);

/** Midnight in Stockholm (the fake meters' zone) `daysBack` days before today, as ISO with offset. */
function stockholmMidnight(daysBack: number): string {
  const date = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Stockholm' }).format(new Date(Date.now() - daysBack * 86_400_000));
  for (const offset of ['+01:00', '+02:00']) {
    const iso = `${date}T00:00:00${offset}`;
    const hour = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Stockholm', hour: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
    if (hour === '00') return iso;
  }
  throw new Error(`no midnight for ${date}`);
}

interface NodeRed {
  nodes: { getNode(id: string): (NodeInstance & { context(): { keys(): string[]; set(key: string, value: unknown): void } }) | null };
  init(server: http.Server, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  httpAdmin: http.RequestListener;
}

interface NodeInstance {
  on(event: 'input', listener: (msg: Record<string, any>) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any
  receive(msg: Record<string, unknown>): void;
}

/** Node-RED embedded as its own `red.js` runs it; flows are deployed through the admin API. */
async function startNodeRed(userDir: string): Promise<{ RED: NodeRed; url: string; stop(): Promise<void> }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RED = require(require.resolve('node-red', { paths: [repoRoot] })) as NodeRed;
  const server = http.createServer((req, res) => RED.httpAdmin(req, res));
  RED.init(server, {
    userDir,
    nodesDir: [repoRoot],
    functionExternalModules: true,
    httpAdminRoot: '/',
    disableEditor: true,
    credentialSecret: false,
    flowFile: 'flows.json',
    // stdout is the benchmark's markdown: Node-RED's own log goes to stderr.
    logging: {
      console: { level: 'off' },
      stderr: { level: 'warn', metrics: false, audit: false, handler: () => (entry: { msg: unknown }) => void process.stderr.write(`node-red: ${String(entry.msg)}\n`) },
    },
    editorTheme: { projects: { enabled: false } },
    telemetry: { enabled: false, updateNotification: false },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await RED.start();
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    RED,
    url,
    async stop() {
      await RED.stop();
      server.close();
    },
  };
}

interface Deployed {
  inject: string;
  fn: string;
  lastStored: string;
  consumption: string;
  stored: string;
  errors: string;
}

/** The example with its ids made unique per run, so no context (cursors) survives from an earlier run. */
async function deploy(url: string, RED: NodeRed, fake: MetryInWorker, database: { host: string; port: number; database: string; user: string }, run: string): Promise<Deployed> {
  let text = JSON.stringify(readExample('metry-to-postgresql.json'));
  for (const node of JSON.parse(text) as FlowNode[]) text = text.split(node.id).join(`${run}-${node.id.slice(run.length + 1)}`);
  const env = [
    { name: 'PGHOST', value: database.host },
    { name: 'PGPORT', value: String(database.port) },
    { name: 'PGDATABASE', value: database.database },
    { name: 'PGUSER', value: database.user },
  ];
  const { nodes } = placeExample(JSON.parse(text) as FlowNode[], (n) => {
    delete n.d; // the comment's step 3: the function and the nightly inject enabled
    if (n.type === 'energy-service') Object.assign(n, { baseUrl: fake.baseUrl, credentials: { token: METRY_TEST_TOKEN } });
    if (n.type === 'metry-consumption') n.granularity = 'hour';
  }, env, { debugAsHelper: false });
  const response = await fetch(`${url}/flows`, { method: 'POST', headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify(nodes) });
  if (!response.ok) throw new Error(`deploy failed: ${response.status} ${await response.text()}`);
  const find = (type: string, name?: string): string => nodes.find((n) => n.type === type && (name === undefined || n.name?.startsWith(name)))!.id;
  const deployed = { inject: find('inject'), fn: find('function', 'upsert'), lastStored: find('function', 'last stored'), consumption: find('metry-consumption'), stored: find('debug', 'rows stored'), errors: find('debug', 'errors') };
  // The Function node starts once pg is loaded.
  for (let i = 0; i < 500 && !RED.nodes.getNode(deployed.fn); i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  return deployed;
}

interface ExportRun {
  meters: number;
  /** Main-thread (Node-RED's) busy time: event-loop utilization × wall time; the fake's thread is not in it. */
  busySeconds: number;
  rows: number;
  requests: number;
  rateLimited: number;
  seconds: number;
  peakHeapMb: number;
  peakRetainedMb: number;
  /** Live heap after the run: what the flow keeps between nights. */
  afterMb: number;
  /** Rows of msg.lastStored: the cursors, read from the table. */
  cursorRows: number;
}

const mb = (bytes: number): number => bytes / 2 ** 20;

function gcHeap(): number {
  global.gc?.();
  global.gc?.();
  return process.memoryUsage().heapUsed;
}

/** The table as the example's "last stored per meter" function creates it (its own statement, read from the flow). */
function createTableStatement(): string {
  const fn = readExample('metry-to-postgresql.json').find((n) => n.name === 'last stored per meter')!;
  return /`(CREATE TABLE IF NOT EXISTS readings[\s\S]*?)`/.exec(fn.func as string)![1];
}

/** Every meter's hourly values from `from` up to `until` (exclusive), as the nights before left them. */
async function prefill(db: PgPool, meters: number, from: string, until: string): Promise<void> {
  await db.query(`INSERT INTO readings (source, meter_id, metric, unit, granularity, start, end_time, value, period)
    SELECT 'metry', '65a0' || lpad(to_hex(i), 20, '0'), 'energy', 'kWh', 'hour', h, h + interval '1 hour', 0.5, ''
      FROM generate_series(0, $1::int - 1) AS i,
           generate_series($2::timestamptz, $3::timestamptz - interval '1 hour', interval '1 hour') AS h`, [meters, from, until]);
}

async function exportRun(RED: NodeRed, url: string, fake: MetryInWorker, db: PgPool, connection: Parameters<typeof deploy>[3], meters: number): Promise<ExportRun> {
  const from = stockholmMidnight(4);
  const yesterday = stockholmMidnight(1);
  const until = stockholmMidnight(0);
  await fake.meters(meters, from, until);
  await db.query('DROP TABLE IF EXISTS readings');
  await db.query(createTableStatement());
  await prefill(db, meters, from, yesterday);
  await db.query('VACUUM ANALYZE readings');
  const ids = await deploy(url, RED, fake, connection, String(meters));
  const expected = (meters * (Date.parse(until) - Date.parse(from))) / HOUR;
  const baseline = gcHeap();
  let peak = baseline;
  let retained = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 20);
  let rows = 0;
  let messages = 0;
  let cursorRows = 0;
  let lastGc = Date.now();
  const started = process.hrtime.bigint();
  const loop = performance.eventLoopUtilization();
  await new Promise<void>((resolve, reject) => {
    RED.nodes.getNode(ids.errors)!.on('input', (msg) => reject(new Error(`flow error: ${msg.error?.message ?? JSON.stringify(msg.payload)}`)));
    RED.nodes.getNode(ids.consumption)!.on('input', (msg) => {
      if (Array.isArray(msg.lastStored)) cursorRows = msg.lastStored.length;
    });
    RED.nodes.getNode(ids.stored)!.on('input', (msg) => {
      rows += msg.stored as number;
      messages += 1;
      // What the flow really holds: the heap right after a full collection, at most every 5 s
      // (each full collection pauses the flow, so more often would slow the run it measures).
      if (Date.now() - lastGc >= 5000) {
        retained = Math.max(retained, gcHeap());
        lastGc = Date.now();
      }
      if (messages % 100 === 0) log(`  ${rows.toLocaleString('en-US')} rows`);
      if (rows >= expected) resolve();
    });
    RED.nodes.getNode(ids.inject)!.receive({});
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const busySeconds = performance.eventLoopUtilization(loop).utilization * seconds;
  clearInterval(sampler);
  const stats = await fake.stats();
  const stored = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM readings')).rows[0].n);
  if (stored !== expected) throw new Error(`${stored} rows in the table, expected ${expected}`);
  const after = gcHeap();
  return { meters, busySeconds, rows, requests: stats.requests, rateLimited: stats.rateLimited, seconds, peakHeapMb: mb(peak - baseline), peakRetainedMb: mb(Math.max(retained, after) - baseline), afterMb: mb(after - baseline), cursorRows };
}

interface CapacityRun {
  rows: number;
  seconds: number;
}

/** The example's Function node alone, fed 2,400-reading batches with two in flight (its pool size). */
async function capacity(RED: NodeRed, ids: Deployed, firstBatch: number): Promise<CapacityRun> {
  const batch = (b: number): Record<string, unknown>[] => {
    const readings: Record<string, unknown>[] = [];
    const day = Date.parse('2024-01-01T00:00:00+01:00');
    for (let m = 0; m < 100; m += 1) {
      for (let h = 0; h < 24; h += 1) {
        const start = day + h * HOUR;
        readings.push({ source: 'metry', meterId: `capacity-${b}-${m}`, metric: 'energy', unit: 'kWh', granularity: 'hour', start: new Date(start).toISOString(), end: new Date(start + HOUR).toISOString(), value: (b + m + h) / 10, period: `20240101${String(h).padStart(2, '0')}` });
      }
    }
    return readings;
  };
  let done = 0;
  let rows = 0;
  let next = firstBatch;
  const last = firstBatch + CAPACITY_BATCHES;
  const fn = RED.nodes.getNode(ids.fn)!;
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    RED.nodes.getNode(ids.errors)!.on('input', (msg) => reject(new Error(`flow error: ${msg.error?.message}`)));
    RED.nodes.getNode(ids.stored)!.on('input', (msg) => {
      rows += msg.stored as number;
      done += 1;
      if (next < last) fn.receive({ payload: batch(next++) });
      if (done === CAPACITY_BATCHES) resolve();
    });
    fn.receive({ payload: batch(next++) });
    fn.receive({ payload: batch(next++) });
  });
  return { rows, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const int = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const postgres = await startPostgres({ durable: true });
  const db = new pg.Pool({ ...postgres.connection, max: 1 });
  const fake = new MetryInWorker();
  await fake.start({ latencyMs: LATENCY_MS, rateLimit: RATE });
  const userDir = externalModulesUserDir(['pg']);
  const nodeRed = await startNodeRed(userDir);
  const runs: ExportRun[] = [];
  try {
    for (const meters of METER_COUNTS) {
      log(`export: ${int(meters)} meters × 24 hours`);
      const run = await exportRun(nodeRed.RED, nodeRed.url, fake, db, postgres.connection, meters);
      log(`  ${run.requests} requests, ${fmt(run.seconds, 1)} s, busy ${fmt(run.busySeconds, 1)} s, peak heap +${fmt(run.peakHeapMb)} MB, retained +${fmt(run.peakRetainedMb)} MB`);
      runs.push(run);
    }
    log('database capacity: the function node alone');
    await db.query('TRUNCATE readings');
    const ids = await deploy(nodeRed.url, nodeRed.RED, fake, postgres.connection, 'cap');
    const inserted = await capacity(nodeRed.RED, ids, 0);
    const updated = await capacity(nodeRed.RED, ids, 0);
    log(`  insert ${int(inserted.rows / inserted.seconds)} rows/s, update ${int(updated.rows / updated.seconds)} rows/s`);
    const version = (await db.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version.split(' ')[0];
    print(runs, inserted, updated, version);
  } finally {
    await nodeRed.stop();
    await fake.stop();
    await db.end();
    await postgres.stop();
  }
}

function print(runs: ExportRun[], inserted: CapacityRun, updated: CapacityRun, version: string): void {
  const bound = (r: ExportRun): number => r.requests / RATE;
  const [small, large] = runs;
  const updateRate = updated.rows / updated.seconds;
  const exportRate = large.rows / large.seconds;
  const perMeter = ((large.peakRetainedMb - small.peakRetainedMb) * 2 ** 20) / (large.meters - small.meters);
  const lines = [
    '## Metry nightly export into PostgreSQL (metry-to-postgresql example)',
    '',
    'The example flow as shipped (last stored per meter from the table → metry-meters → metry-consumption with the',
    'database cursor and its default look-back → join, 100 meters → the Function node with `pg`, one',
    '`INSERT … ON CONFLICT … DO UPDATE` per batch), switched to hourly values, in Node-RED 4.1 embedded in the benchmark',
    `process; the fake Metry runs in a worker thread (${LATENCY_MS} ms latency, ${RATE} requests/s, 429 beyond) and PostgreSQL`,
    `${version} with fsync and synchronous commit on, on the same machine. A night in steady state: the table holds every`,
    "meter's hours up to the day before yesterday; yesterday's 24 hours are new and the look-back (72 hours) fetches the 3",
    'days before again, so 96 rows per meter are written. The bound is what Metry\'s rate limit allows: requests / 10 per',
    'second; requests include the meter listing (50 meters per page).',
    '',
    '| Meters | Rows written | Requests | 429s | Wall time | Bound | Time ÷ bound | Rows/s written | Node-RED busy | Peak live heap (after GC) | Peak heap incl. garbage | Left after the run | Cursor rows read |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...runs.map((r) => `| ${int(r.meters)} | ${int(r.rows)} | ${int(r.requests)} | ${r.rateLimited} | ${fmt(r.seconds, 1)} s | ${fmt(bound(r), 1)} s | ${fmt(r.seconds / bound(r), 2)}× | ${int(r.rows / r.seconds)} | ${fmt(r.busySeconds, 1)} s (${fmt((r.busySeconds / r.seconds) * 100, 0)} %) | ${fmt(r.peakRetainedMb)} MB | ${fmt(r.peakHeapMb)} MB | ${fmt(r.afterMb)} MB | ${int(r.cursorRows)} |`),
    '',
    `Live heap for ${int(large.meters / small.meters)}× the meters: ${fmt(large.peakRetainedMb / small.peakRetainedMb, 2)}×, ${int(perMeter)} bytes per additional meter: the run holds the whole`,
    'meter list (metry-meters sends nothing before the listing is complete, so no export starts on a partial list) and',
    '`msg.lastStored` (one row per meter) until it ends; the readings themselves are handed on per meter. Nothing stays',
    'after the run. *Node-RED busy*: the main thread\'s event-loop utilization × wall time, i.e. what the flow itself costs;',
    'the fake Metry\'s thread is not in it. Heap figures are above the heap before the run.',
    '',
    '| Database alone: the Function node, batches of 2,400 readings, 2 in flight | Rows | Time | Rows/s |',
    '|---|---:|---:|---:|',
    `| new rows (INSERT) | ${int(inserted.rows)} | ${fmt(inserted.seconds, 2)} s | ${int(inserted.rows / inserted.seconds)} |`,
    `| same rows again (ON CONFLICT … DO UPDATE) | ${int(updated.rows)} | ${fmt(updated.seconds, 2)} s | ${int(updateRate)} |`,
    '',
    `The export wrote ${int(exportRate)} rows/s, mostly overwrites (72 of 96 rows per meter), ${fmt((exportRate / updateRate) * 100, 0)} % of the rate at which the`,
    'database overwrites rows here. See docs/scaling.md.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
