/**
 * Starts the real Node-RED runtime (node-red-node-test-helper) and loads the compiled node
 * files from `nodes/`, the same files Node-RED loads in production.
 */
import path from 'node:path';
import helper from 'node-red-node-test-helper';
import { repoRoot } from './paths';

export { repoRoot };

helper.init(require.resolve('node-red', { paths: [repoRoot] }));

/** The compiled module of a node type, e.g. `nodeModule('energy-service')`. */
export function nodeModule(type: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(repoRoot, 'nodes', `${type}.js`));
}

export function fixturePath(...parts: string[]): string {
  return path.join(repoRoot, 'test', 'fixtures', ...parts);
}

export { helper };
