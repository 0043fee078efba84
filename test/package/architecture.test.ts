/**
 * The import rules docs/architecture.md states, checked on the source files themselves so the
 * document cannot drift from the code.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../testing/paths';

function sourceFiles(dir: string): string[] {
  const full = path.join(repoRoot, dir);
  if (!fs.existsSync(full)) return [];
  return fs.readdirSync(full, { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(rel);
    return entry.name.endsWith('.ts') ? [rel] : [];
  });
}

function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(repoRoot, file), 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\(\s*)'([^']+)'/g)].map((m) => m[1]);
}

/** The repository folder an import points into (`src`, `test`, `testing`, …), or the package name. */
function target(file: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier;
  return path.relative(repoRoot, path.resolve(repoRoot, path.dirname(file), specifier));
}

describe('the architecture the docs describe', () => {
  it('keeps the core free of Node-RED: nothing under src/core imports node-red', () => {
    const offenders = sourceFiles('src/core').filter((file) => importsOf(file).some((spec) => spec === 'node-red' || spec.startsWith('@node-red/')));
    assert.deepEqual(offenders, []);
  });

  it('keeps the core below the adapters: src/core never imports an adapter or src/node-red', () => {
    const offenders = sourceFiles('src/core').flatMap((file) =>
      importsOf(file)
        .map((spec) => target(file, spec))
        .filter((to) => to.startsWith('src/node-red') || (to.startsWith('src/') && !to.startsWith('src/core')))
        .map((to) => `${file} -> ${to}`),
    );
    assert.deepEqual(offenders, []);
  });

  it('ships no test code: src never imports test/ or testing/, and holds no test doubles', () => {
    const offenders = sourceFiles('src').flatMap((file) =>
      importsOf(file)
        .map((spec) => target(file, spec))
        .filter((to) => to.startsWith('test') || to.includes('node-red-node-test-helper'))
        .map((to) => `${file} -> ${to}`),
    );
    assert.deepEqual(offenders, []);
    const doubles = sourceFiles('src').filter((file) => /\b(class|function)\s+(Manual|Virtual|Fake|Mock)\w*/.test(fs.readFileSync(path.join(repoRoot, file), 'utf8')));
    assert.deepEqual(doubles, []);
  });

  it('lets benchmarks and tests share testing/, never import each other', () => {
    const fromBench = sourceFiles('bench').flatMap((file) => importsOf(file).map((spec) => target(file, spec)).filter((to) => to.startsWith('test/')).map((to) => `${file} -> ${to}`));
    const fromTesting = sourceFiles('testing').flatMap((file) => importsOf(file).map((spec) => target(file, spec)).filter((to) => to.startsWith('test/') || to.startsWith('bench/')).map((to) => `${file} -> ${to}`));
    assert.deepEqual([...fromBench, ...fromTesting], []);
  });

  it('keeps one clock, one backoff and one status vocabulary, all in src/core/runtime', () => {
    const outside = sourceFiles('src').filter((file) => !file.startsWith(path.join('src', 'core', 'runtime')));
    const redefinitions = outside.filter((file) => {
      const text = fs.readFileSync(path.join(repoRoot, file), 'utf8');
      return /export\s+(interface|type)\s+(Clock|Timers|RetryPolicy|BackoffPolicy|StatusView)\b/.test(text) || /export\s+(function|const)\s+(backoffDelay|systemClock|systemTimers|parseRetryAfter|status|statusView)\b/.test(text);
    });
    assert.deepEqual(redefinitions, []);
  });

  it('keeps every adapter thin: about 100 lines of wiring at most', () => {
    const adapters = fs.readdirSync(path.join(repoRoot, 'src')).filter((name) => name.endsWith('.ts'));
    assert.ok(adapters.length >= 7);
    const long = adapters
      .map((name) => ({ name, lines: fs.readFileSync(path.join(repoRoot, 'src', name), 'utf8').split('\n').length }))
      .filter((adapter) => adapter.lines > 110)
      .map((adapter) => `${adapter.name}: ${adapter.lines} lines`);
    assert.deepEqual(long, []);
  });
});
