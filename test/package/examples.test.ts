/**
 * Every example says up front what it needs: its first node is a comment whose **Modules** line
 * names each palette module the flow uses besides Node-RED's core and this package (and each
 * module a Function node loads), with how to install it, and the README's Examples table says the same.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../testing/paths';

type FlowNode = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Node types of the contributed palette modules the examples use. */
const MODULE_OF_TYPE: Record<string, string> = {
  sqlite: 'node-red-node-sqlite',
  sqlitedb: 'node-red-node-sqlite',
  influxdb: 'node-red-contrib-influxdb',
  'influxdb out': 'node-red-contrib-influxdb',
};
const DASHBOARD = '@flowfuse/node-red-dashboard';

function registeredIn(dir: string): string[] {
  const types: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) types.push(...registeredIn(full));
    else if (entry.name.endsWith('.html')) for (const m of fs.readFileSync(full, 'utf8').matchAll(/registerType\(\s*['"]([^'"]+)['"]/g)) types.push(m[1]);
  }
  return types;
}

const coreTypes = new Set(registeredIn(path.join(path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [repoRoot] })), 'core')));
const ownTypes = new Set(Object.keys((JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } })['node-red'].nodes));

function examples(dir = path.join(repoRoot, 'examples')): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? examples(path.join(dir, e.name)) : e.name.endsWith('.json') ? [path.join(dir, e.name)] : []));
}

/** The palette modules and Function-node libraries a flow needs beyond core and this package. */
function modulesOf(flow: FlowNode[]): string[] {
  const needed = new Set<string>();
  for (const node of flow) {
    if (coreTypes.has(node.type) || ownTypes.has(node.type)) {
      for (const lib of node.libs ?? []) needed.add(lib.module);
      continue;
    }
    const module = node.type.startsWith('ui-') ? DASHBOARD : MODULE_OF_TYPE[node.type];
    assert.ok(module, `node type ${node.type} is from no module this test knows: add it to MODULE_OF_TYPE`);
    needed.add(module);
  }
  return [...needed].sort();
}

describe('examples say what they need', () => {
  for (const file of examples()) {
    const name = path.relative(path.join(repoRoot, 'examples'), file);
    it(`${name}: the first comment names every module and how to install it`, () => {
      const flow = JSON.parse(fs.readFileSync(file, 'utf8')) as FlowNode[];
      assert.equal(flow[0].type, 'comment', 'starts with a comment node');
      const info = flow[0].info as string;
      const line = /\*\*Modules\*\*:([^\n]*)/.exec(info)?.[1];
      assert.ok(line, 'the comment has a **Modules**: line');
      const modules = modulesOf(flow);
      for (const module of modules) assert.ok(line.includes(`\`${module}\``), `${module} is named`);
      const palette = modules.filter((m) => !flow.some((n) => (n.libs ?? []).some((l: { module: string }) => l.module === m)));
      if (palette.length > 0) assert.match(line, /Manage palette/, 'says how to install from the palette manager');
      if (modules.length === 0) assert.match(line, /none/);
    });
  }

  it("the README's Examples table names each example's modules", () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Examples'), readme.indexOf('\n## ', readme.indexOf('## Examples') + 5));
    for (const file of examples()) {
      const flow = JSON.parse(fs.readFileSync(file, 'utf8')) as FlowNode[];
      const row = section.split('\n').find((l) => l.startsWith('|') && l.includes(`\`${path.basename(file, '.json')}\``));
      assert.ok(row, `${path.basename(file)} is in the README's table`);
      for (const module of modulesOf(flow)) assert.ok(row.includes(module), `${path.basename(file)}: ${module} named in the README`);
    }
  });
});
