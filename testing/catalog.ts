/**
 * The texts a status shows, read from the node's message catalogs the way Node-RED reads them
 * (`<type>.status.<key>`, `__param__` placeholders), in every language the package ships for
 * the node. Core tests use it to show that a status a controller decides has a text for the
 * user, with every parameter in it: the Node-RED test helper translates nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { StatusView } from '../src/core/runtime/status';
import { repoRoot } from './paths';

/** The status text in each language that has a catalog for the node, e.g. `{ 'en-US': '3/5 meters' }`. */
export function statusTexts(type: string, view: StatusView): Record<string, string> {
  const localesDir = path.join(repoRoot, 'nodes', 'locales');
  const texts: Record<string, string> = {};
  for (const language of fs.readdirSync(localesDir)) {
    const file = path.join(localesDir, language, `${type}.json`);
    if (!fs.existsSync(file)) continue;
    const catalog = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, { status?: Record<string, string> }>;
    const template = catalog[type]?.status?.[view.key];
    if (template === undefined) throw new Error(`${language}/${type}.json has no status.${view.key}`);
    const text = template.replace(/__(\w+)__/g, (_all, name: string) => {
      if (!view.params || !(name in view.params)) throw new Error(`status.${view.key} in ${language}/${type}.json wants __${name}__, which the status does not give`);
      return String(view.params[name]);
    });
    texts[language] = text;
  }
  return texts;
}

/** The English status text. */
export function statusText(type: string, view: StatusView): string {
  return statusTexts(type, view)['en-US'];
}

/**
 * `RED._` as the runtime gives it to a node, over the package's en-US catalogs (the test helper's
 * own returns the key). Wrap a node module with `withCatalogs` to see the texts a user sees.
 */
export function translate(key: string, params?: Record<string, unknown>): string {
  const [type, ...path] = key.split('.');
  const file = pathTo(type);
  if (!fs.existsSync(file)) return key;
  let node: unknown = (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>)[type];
  for (const part of path) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
  if (typeof node !== 'string') return key;
  return node.replace(/__(\w+)__/g, (all, name: string) => (params && name in params ? String(params[name]) : all));
}

function pathTo(type: string): string {
  return path.join(repoRoot, 'nodes', 'locales', 'en-US', `${type.replace(/[^A-Za-z0-9-]/g, '')}.json`);
}

/** A node module whose `RED._` translates from the catalogs, for the Node-RED test helper. */
export function withCatalogs(module: unknown): (RED: Record<string, unknown>) => unknown {
  return (RED) => {
    RED._ = translate;
    return (module as (red: unknown) => unknown)(RED);
  };
}
