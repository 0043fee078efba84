#!/usr/bin/env node
// Compiles tests and benchmarks into .build/ from scratch, so a test file that was deleted or
// renamed can never run again from a stale compiled copy.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
fs.rmSync(path.join(root, '.build'), { recursive: true, force: true });
const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.test.json')], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
