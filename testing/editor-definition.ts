/**
 * A node's editor definition, read as the editor reads it: resources/editor.js (the shared helpers
 * each nodes/<type>.html loads with <script src>) runs first, then the .html's own script, and
 * the object it hands to RED.nodes.registerType('<type>', …) comes back. Runs in a bare VM
 * context: `$` stands in for jQuery, so tests decide whether a dialog is open.
 */
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { repoRoot } from './paths';

export function editorDefinition<T>(type: string, $: unknown, globals: Record<string, unknown> = {}): T {
  const html = fs.readFileSync(path.join(repoRoot, 'nodes', `${type}.html`), 'utf8');
  const script = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(html)![1];
  const registered: Record<string, unknown> = {};
  const context: Record<string, unknown> = { RED: { nodes: { registerType: (name: string, def: unknown) => (registered[name] = def) } }, $, ...globals };
  context.window = context;
  vm.createContext(context);
  vm.runInContext(fs.readFileSync(path.join(repoRoot, 'resources', 'editor.js'), 'utf8'), context);
  vm.runInContext(script, context);
  return registered[type] as T;
}
