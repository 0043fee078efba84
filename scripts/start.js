#!/usr/bin/env node
// `npm start`: runs Node-RED on http://127.0.0.1:1880 from a git-ignored user directory, with this
// package loaded from the working tree and the demo flows (demo/*.json) deployed. No account is
// needed: the demo replays recorded P1 telegrams into a local SQLite file.
//
// Environment: ENERGY_EXPORT_PORT (default 1880; 0 picks a free port), ENERGY_EXPORT_USER_DIR
// (default .node-red-demo), ENERGY_EXPORT_RESET=1 (or `npm start -- --reset`) rewrites the demo flows.
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

const hash = (text) => crypto.createHash('sha256').update(text).digest('hex');
const flowsFile = path.join(userDir, 'flows.json');
const stampFile = path.join(userDir, '.demo-flows.sha256');
const demoText = JSON.stringify(demoFlows(), null, 2);
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
  functionExternalModules: false,
  contextStorage: { default: { module: 'memory' }, file: { module: 'localfilesystem' } },
};
`,
);

const redJs = require.resolve('node-red/red.js', { paths: [root] });
const child = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', settingsFile], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, ENERGY_EXPORT_DEMO_DIR: demoDir },
});
const stop = (signal) => child.kill(signal);
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
