/**
 * Running a shipped example flow in the Node-RED runtime: read it from examples/, move it onto a
 * test tab, point its config nodes at local servers, and let Function nodes load their `libs`
 * from the repository's node_modules instead of installing them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './paths';

export type FlowNode = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function readExample(name: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.join(repoRoot, 'examples', name), 'utf8')) as FlowNode[];
}

/** A core node's module, e.g. `coreNode('network/10-mqtt.js')`, for `helper.load`. */
export function coreNode(file: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(require.resolve(`@node-red/nodes/core/${file}`, { paths: [repoRoot] }));
}

/** A contributed node's module from node_modules, e.g. `moduleNode('node-red-contrib-influxdb/influxdb.js')`. */
export function moduleNode(file: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(require.resolve(file, { paths: [repoRoot] }));
}

export interface PlacedFlow {
  tab: FlowNode;
  nodes: FlowNode[];
  /** Ids of the `helper` nodes that replaced the example's debug nodes. */
  helpers: string[];
}

/**
 * The example on a tab (with optional flow environment variables, as a user would set them in the
 * flow's properties); `change` edits nodes (return a replacement, or nothing to keep it). Debug
 * nodes become test helpers with the same id, so a test sees what the user would see (unless
 * `debugAsHelper: false`, for a runtime without the test helper).
 */
export function placeExample(
  flow: FlowNode[],
  change: (node: FlowNode) => FlowNode | void = () => undefined,
  env: { name: string; value: string }[] = [],
  options: { debugAsHelper?: boolean } = {},
): PlacedFlow {
  const tab: FlowNode = { id: 'example-tab', type: 'tab', label: 'example', env: env.map((e) => ({ ...e, type: 'str' })) };
  const helpers: string[] = [];
  const nodes = flow.map((original) => {
    const node: FlowNode = { ...original };
    if (!isConfigNode(node)) node.z = tab.id;
    const changed = change(node) ?? node;
    if (changed.type === 'debug' && options.debugAsHelper !== false) {
      helpers.push(changed.id);
      return { id: changed.id, z: tab.id, type: 'helper', name: changed.name, wires: [] };
    }
    return changed;
  });
  return { tab, nodes: [tab, ...nodes], helpers };
}

/** Config nodes carry no `wires` and no position: they belong to no tab in an exported flow. */
function isConfigNode(node: FlowNode): boolean {
  return node.wires === undefined && node.x === undefined;
}

/**
 * A Node-RED user directory where the external-module loader (functionExternalModules, Node-RED
 * 4.1 `@node-red/registry/lib/externalModules.js`) finds the given modules already installed:
 * it trusts `<userDir>/package.json` dependencies and requires `<userDir>/node_modules/<name>`,
 * so a symlink to the repository's copy avoids any npm install.
 */
export function externalModulesUserDir(modules: string[]): string {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-red-user-'));
  const dependencies: Record<string, string> = {};
  fs.mkdirSync(path.join(userDir, 'node_modules'));
  for (const name of modules) {
    const installed = path.dirname(require.resolve(`${name}/package.json`, { paths: [repoRoot] }));
    dependencies[name] = (JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')) as { version: string }).version;
    fs.symlinkSync(installed, path.join(userDir, 'node_modules', name), 'dir');
  }
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'Node-RED-External-Modules', private: true, dependencies }, null, 2));
  return userDir;
}
