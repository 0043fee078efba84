/**
 * `npm start` must give a newcomer a running Node-RED on 127.0.0.1 with this package and the
 * demo flows loaded. This starts the real script (port 0, a temporary user directory) and asks
 * the running editor API what it has.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { until } from '../../testing/manual-clock';
import { repoRoot } from '../../testing/runtime';
import { DemoProcess, startDemo } from '../../testing/demo-process';

describe('npm start (scripts/start.js)', () => {
  let demo: DemoProcess;
  let baseUrl: string;

  before(async () => {
    demo = await startDemo();
    baseUrl = demo.baseUrl;
  });

  after(() => demo.stop());

  it('serves the editor on 127.0.0.1 with every node of the package loaded', async () => {
    const page = await fetch(`${baseUrl}/`);
    assert.equal(page.status, 200);
    const response = await fetch(`${baseUrl}/nodes`, { headers: { Accept: 'application/json' } });
    const sets = (await response.json()) as Array<{ module: string; types: string[]; enabled: boolean; err?: string }>;
    const ours = sets.filter((s) => s.module === 'node-red-contrib-energy-export');
    const types = ours.flatMap((s) => s.types);
    assert.ok(types.includes('energy-service'), `energy-service missing; loaded: ${types.join(', ')}`);
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
    for (const type of Object.keys(pkg['node-red'].nodes)) {
      const set = ours.find((s) => s.types.includes(type));
      assert.ok(set, `${type} is not in the palette`);
      assert.ok(set.enabled && !set.err, `${type} failed to load: ${set.err}`);
    }
  });

  it('serves the shared editor script from the package’s resources/ folder', async () => {
    // Every nodes/*.html loads it with <script src="resources/node-red-contrib-energy-export/editor.js">.
    const response = await fetch(`${baseUrl}/resources/node-red-contrib-energy-export/editor.js`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /javascript/);
    assert.match(await response.text(), /window\.EnergyExportEditor = \{/);
  });

  it('deploys the demo flows and offers the examples under Import > Examples', async () => {
    const flows = (await (await fetch(`${baseUrl}/flows`)).json()) as Array<{ type: string }>;
    const demoFiles = fs.readdirSync(path.join(repoRoot, 'demo')).filter((f) => f.endsWith('.json'));
    const expectedTypes = new Set(demoFiles.flatMap((f) => (JSON.parse(fs.readFileSync(path.join(repoRoot, 'demo', f), 'utf8')) as Array<{ type: string }>).map((n) => n.type)));
    for (const type of expectedTypes) assert.ok(flows.some((n) => n.type === type), `demo node type ${type} not deployed`);
    // Every example is there too, as a disabled tab with a note on what to fill in.
    const exampleTabs = (flows as Array<{ type: string; label?: string; disabled?: boolean; info?: string }>).filter((n) => n.type === 'tab' && n.label?.startsWith('Example: '));
    assert.ok(exampleTabs.length >= 6, `${exampleTabs.length} example tabs`);
    assert.ok(exampleTabs.every((tab) => tab.disabled === true && /fill in/.test(tab.info ?? '')));
    assert.ok(!/Waiting for missing types/.test(demo.output()), 'every deployed node type is installed');
    const examples = (await (await fetch(`${baseUrl}/nodes/messages?lng=en-US`)).status);
    assert.equal(examples, 200);
    const library = (await (await fetch(`${baseUrl}/library/examples/flows/`)).json()) as Record<string, unknown>;
    assert.equal((await fetch(`${baseUrl}/dashboard/`)).status, 200, 'the live chart dashboard is served');
    assert.ok(JSON.stringify(library).includes('node-red-contrib-energy-export'), 'examples of the package are not offered');
  });

  it('stores P1 readings from the recorded telegrams in the local SQLite file within a minute', async () => {
    const dbFile = path.join(demo.userDir, 'energy.sqlite');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sqlite3 = require('sqlite3') as { Database: new (file: string, mode: number, cb: (err: Error | null) => void) => SqliteDb; OPEN_READONLY: number };
    interface SqliteDb {
      get(sql: string, cb: (err: Error | null, row: { rows: number; metrics: number }) => void): void;
      close(cb: () => void): void;
    }
    let row = { rows: 0, metrics: 0 };
    const count = (): Promise<{ rows: number; metrics: number }> =>
      new Promise((resolve) => {
        if (!fs.existsSync(dbFile)) return resolve({ rows: 0, metrics: 0 });
        const db = new sqlite3.Database(dbFile, sqlite3.OPEN_READONLY, () => undefined);
        db.get("SELECT COUNT(*) AS rows, COUNT(DISTINCT metric) AS metrics FROM readings WHERE source = 'dsmr-p1'", (err, result) => {
          db.close(() => resolve(err ? { rows: 0, metrics: 0 } : result));
        });
      });
    // The demo replays its recording in real time, so this waits for the real process; the guard
    // is generous so a busy machine makes it slower, never red.
    await until(async () => (row = await count()).rows >= 10, 'ten P1 readings in the demo database', 120_000);
    assert.ok(row.rows >= 10, `only ${row.rows} readings stored`);
    assert.ok(row.metrics >= 5, 'tariff registers, power and gas are stored');
  });
});
