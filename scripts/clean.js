#!/usr/bin/env node
// Removes only what the build writes into nodes/ (compiled .js, maps, .d.ts) and the test build,
// leaving the hand-written .html, locales and icons that live beside them.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
function clean(dir) {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      clean(full);
      if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
    } else if (/\.(js|js\.map|d\.ts)$/.test(entry.name)) {
      fs.unlinkSync(full);
    }
  }
}
clean(path.join(root, 'nodes'));
fs.rmSync(path.join(root, '.build'), { recursive: true, force: true });
