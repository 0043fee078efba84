/**
 * Where the repository is, for tests and benchmarks, which run from the compiled copy under
 * .build/ (whose own folder must not be mistaken for the root).
 */
import fs from 'node:fs';
import path from 'node:path';

function findRoot(start: string): string {
  let dir = start;
  while (!fs.existsSync(path.join(dir, 'package.json')) || dir.endsWith('.build')) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package root not found');
    dir = up;
  }
  return dir;
}

export const repoRoot = findRoot(__dirname);
