#!/usr/bin/env node
// `npm start`: runs Node-RED on http://127.0.0.1:1880 from a git-ignored user directory, with this
// package loaded from the working tree and the demo flows (demo/*.json) deployed. No account is
// needed: the demo replays recorded P1 telegrams into a local SQLite file.
//
// Environment: ENERGY_EXPORT_PORT (default 1880; 0 picks a free port), ENERGY_EXPORT_USER_DIR
// (default .node-red-demo), ENERGY_EXPORT_DB (default <user dir>/energy.sqlite), ENERGY_EXPORT_RESET=1 (or `npm start -- --reset`) rewrites the demo flows.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const root = path.join(__dirname, '..');
const userDir = path.resolve(process.env.ENERGY_EXPORT_USER_DIR || path.join(root, '.node-red-demo'));
const port = process.env.ENERGY_EXPORT_PORT !== undefined ? Number(process.env.ENERGY_EXPORT_PORT) : 1880;
const reset = process.argv.includes('--reset') || process.env.ENERGY_EXPORT_RESET === '1';
const demoDir = path.join(root, 'demo');

fs.mkdirSync(userDir, { recursive: true });

/** Every demo/*.json is a flow array; together they are the demo's flows. */
function demoFlows() {
  if (!fs.existsSync(demoDir)) return [];
  return fs
    .readdirSync(demoDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => {
      const flow = JSON.parse(fs.readFileSync(path.join(demoDir, f), 'utf8'));
      if (!Array.isArray(flow)) throw new Error(`demo/${f} is not a flow array`);
      return flow;
    });
}

/**
 * Every example flow also goes into the demo as a disabled tab: the account- and hardware-based
 * pipelines are there to look at and fill in, without failing at start. Ids are derived from the
 * file name so they are stable and never collide with the demo's.
 */
function exampleTabs() {
  const examplesDir = path.join(root, 'examples');
  const files = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.json')) files.push(full);
    }
  };
  if (fs.existsSync(examplesDir)) walk(examplesDir);
  return files.sort().flatMap((file) => {
    const relative = path.relative(examplesDir, file);
    const nodes = JSON.parse(fs.readFileSync(file, 'utf8'));
    const newId = (id) => crypto.createHash('sha256').update(`${relative}:${id}`).digest('hex').slice(0, 16);
    const ids = new Map(nodes.map((n) => [n.id, newId(n.id)]));
    const tabId = newId('tab');
    const remap = (value) => {
      if (typeof value === 'string') return ids.get(value) ?? value;
      if (Array.isArray(value)) return value.map(remap);
      return value;
    };
    const copied = nodes.map((node) => {
      const copy = {};
      for (const [key, value] of Object.entries(node)) copy[key] = key === 'id' ? ids.get(value) : remap(value);
      // Config nodes too belong to the disabled tab, so nothing of an unconfigured example starts.
      copy.z = tabId;
      return copy;
    });
    const label = `Example: ${relative.replace(/\.json$/, '').replace(/\//g, ' / ')}`;
    const info =
      'Deployed disabled: fill in the config nodes (credentials, server URL, serial port), then enable this flow ' +
      '(double-click the tab, Enabled) and deploy. The comment nodes say what each part needs.';
    return [{ id: tabId, type: 'tab', label, disabled: true, info }, ...copied];
  });
}

const hash = (text) => crypto.createHash('sha256').update(text).digest('hex');
const flowsFile = path.join(userDir, 'flows.json');
const stampFile = path.join(userDir, '.demo-flows.sha256');
const demoText = JSON.stringify([...demoFlows(), ...exampleTabs()], null, 2);
const current = fs.existsSync(flowsFile) ? fs.readFileSync(flowsFile, 'utf8') : undefined;
const written = fs.existsSync(stampFile) ? fs.readFileSync(stampFile, 'utf8').trim() : undefined;
// Rewrite the demo only when the user has not changed what we wrote last time, so edits survive.
const untouched = current === undefined || (written !== undefined && hash(current) === written);
if (reset || (untouched && current !== demoText)) {
  fs.writeFileSync(flowsFile, demoText);
  fs.writeFileSync(stampFile, hash(demoText));
  console.log(`Demo flows written to ${flowsFile}`);
} else if (!untouched) {
  console.log('Keeping your edited flows; run `npm start -- --reset` to restore the demo.');
}

const settingsFile = path.join(userDir, 'settings.js');
fs.writeFileSync(
  settingsFile,
  `// Written by scripts/start.js on every start; edit that script instead.
module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${Number.isFinite(port) ? port : 1880},
  flowFile: 'flows.json',
  credentialSecret: 'energy-export-local-demo',
  nodesDir: [${JSON.stringify(root)}],
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false }, tours: false },
  // A local demo sends nothing home and asks nothing on first start.
  telemetry: { enabled: false, updateNotification: false },
  functionExternalModules: false,
  contextStorage: { default: { module: 'memory' }, file: { module: 'localfilesystem' } },
};
`,
);

const redJs = require.resolve('node-red/red.js', { paths: [root] });
const child = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', settingsFile], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, ENERGY_EXPORT_DEMO_DIR: demoDir, ENERGY_EXPORT_DB: process.env.ENERGY_EXPORT_DB || path.join(userDir, 'energy.sqlite') },
});
const stop = (signal) => child.kill(signal);
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
