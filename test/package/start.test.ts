/**
 * `npm start` must give a newcomer a running Node-RED on 127.0.0.1 with this package and the
 * demo flows loaded. This starts the real script (port 0, a temporary user directory) and asks
 * the running editor API what it has.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../support/runtime';

describe('npm start (scripts/start.js)', () => {
  let child: ChildProcess;
  let baseUrl: string;
  let output = '';
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'energy-export-start-'));

  before(async () => {
    child = spawn(process.execPath, [path.join(repoRoot, 'scripts', 'start.js')], {
      cwd: repoRoot,
      env: { ...process.env, ENERGY_EXPORT_PORT: '0', ENERGY_EXPORT_USER_DIR: userDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    baseUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Node-RED did not start:\n${output}`)), 60_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        const match = /Server now running at (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('exit', (code) => reject(new Error(`start exited with ${code}:\n${output}`)));
    });
  });

  after(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  });

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

  it('deploys the demo flows and offers the examples under Import > Examples', async () => {
    const flows = (await (await fetch(`${baseUrl}/flows`)).json()) as Array<{ type: string }>;
    const demo = fs.readdirSync(path.join(repoRoot, 'demo')).filter((f) => f.endsWith('.json'));
    const expectedTypes = new Set(demo.flatMap((f) => (JSON.parse(fs.readFileSync(path.join(repoRoot, 'demo', f), 'utf8')) as Array<{ type: string }>).map((n) => n.type)));
    for (const type of expectedTypes) assert.ok(flows.some((n) => n.type === type), `demo node type ${type} not deployed`);
    const examples = (await (await fetch(`${baseUrl}/nodes/messages?lng=en-US`)).status);
    assert.equal(examples, 200);
    const library = (await (await fetch(`${baseUrl}/library/examples/flows/`)).json()) as Record<string, unknown>;
    assert.ok(JSON.stringify(library).includes('node-red-contrib-energy-export'), 'examples of the package are not offered');
  });
});
