#!/usr/bin/env node
// Node-RED looks for icons only in an icons/ folder beside the node .js files, so the build
// copies the tracked top-level icons/ into nodes/icons/.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const from = path.join(root, 'icons');
const to = path.join(root, 'nodes', 'icons');
fs.mkdirSync(to, { recursive: true });
for (const file of fs.readdirSync(from)) {
  if (file.endsWith('.svg') || file.endsWith('.png')) fs.copyFileSync(path.join(from, file), path.join(to, file));
}
