#!/usr/bin/env node
// `npm run bench`: runs every compiled benchmark (.build/bench/*.bench.js) one after another with
// --expose-gc, each printing a markdown section, and writes them all to docs/benchmarks.md.
// A name filter runs only matching benchmarks and leaves the other sections of the file alone.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const benchDir = path.join(root, '.build', 'bench');
const filters = process.argv.slice(2);
const outFile = path.join(root, 'docs', 'benchmarks.md');
const files = (fs.existsSync(benchDir) ? fs.readdirSync(benchDir) : []).filter((f) => f.endsWith('.bench.js')).sort();
if (files.length === 0) {
  console.error('No benchmarks found in .build/bench.');
  process.exit(1);
}

const previous = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '';
const sections = new Map();
for (const match of previous.matchAll(/<!-- bench:(\S+) -->\n([\s\S]*?)<!-- \/bench:\1 -->/g)) sections.set(match[1], match[2]);

let failed = false;
for (const file of files) {
  const name = file.replace(/\.bench\.js$/, '');
  if (filters.length > 0 && !filters.some((f) => name.includes(f))) continue;
  console.error(`\n=== bench ${name}`);
  const result = spawnSync(process.execPath, ['--expose-gc', path.join(benchDir, file)], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    console.error(`bench ${name} failed with exit code ${result.status}`);
    failed = true;
    continue;
  }
  process.stdout.write(result.stdout);
  sections.set(name, `${result.stdout.trim()}\n`);
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const header = `# Benchmarks

Measured by \`npm run bench\` (scripts/run-bench.js runs every \`bench/*.bench.ts\`). Every figure is
compared with a peer measured in the same run on the same machine, so the ratios hold even where
the absolute numbers differ between machines.

Last run: ${new Date().toISOString()} on Node.js ${process.version}, ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB.
`;
const body = [...sections.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, text]) => `<!-- bench:${name} -->\n${text}<!-- /bench:${name} -->`).join('\n\n');
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, `${header}\n${body}\n`);
console.error(`\nWrote ${path.relative(root, outFile)}`);
process.exit(failed ? 1 : 0);
