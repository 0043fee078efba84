import os from 'node:os';
import path from 'node:path';
import type { Node, NodeAPI } from 'node-red';
import type { CursorStore } from '../core/metry/cursor';
import { FileCursorStore } from '../core/metry/cursor-file';

interface ContextLike {
  get(key: string, store: string | undefined, callback: (err: Error | null, value: unknown) => void): void;
  set(key: string, value: unknown, store: string | undefined, callback: (err: Error | null) => void): void;
}

/** Export cursors kept in Node-RED context (node or flow scope, a named store). */
export function contextCursorStore(node: Node, scope: 'node' | 'flow', store: string | undefined): CursorStore {
  const context = (scope === 'flow' ? node.context().flow : node.context()) as unknown as ContextLike;
  return {
    get: (key) =>
      new Promise((resolve, reject) => context.get(key, store, (err, value) => (err ? reject(err) : resolve(typeof value === 'string' ? value : undefined)))),
    set: (key, value) => new Promise((resolve, reject) => context.set(key, value, store, (err) => (err ? reject(err) : resolve()))),
  };
}

/**
 * Whether a context store keeps its values across a restart, read from `contextStorage` in
 * settings.js as Node-RED resolves it: no `contextStorage` means memory; `default` may name
 * another store; without `default` the first store is the default; an unknown name falls back
 * to the default. Only the `memory` module forgets.
 */
export function isPersistentContextStore(contextStorage: unknown, storeName: string | undefined): boolean {
  if (!contextStorage || typeof contextStorage !== 'object') return false;
  const stores = contextStorage as Record<string, unknown>;
  const names = Object.keys(stores);
  if (names.length === 0) return false;
  let config = storeName && storeName in stores ? stores[storeName] : stores.default ?? stores[names[0]];
  if (typeof config === 'string') config = stores[config];
  if (!config || typeof config !== 'object') return false;
  const module = (config as { module?: unknown }).module;
  return module !== undefined && module !== 'memory';
}

export interface KeptCursorStore {
  store: CursorStore;
  /** Where the cursors live, for the log. */
  where: string;
}

/**
 * Where metry-consumption keeps its cursors when the flow does not hand them in from a
 * database: the chosen context store when it persists, otherwise a JSON file in the user
 * directory (`<userDir>/metry-cursors/`, or `metryCursorDir` in settings.js), because the
 * default in-memory context would forget every cursor on a restart.
 */
export function keptCursorStore(RED: NodeAPI, node: Node & { z?: string }, scope: 'node' | 'flow', storeName: string | undefined): KeptCursorStore {
  const store = storeName && storeName.trim() !== '' ? storeName.trim() : undefined;
  const settings = RED.settings as unknown as { contextStorage?: unknown; userDir?: string; metryCursorDir?: string };
  if (isPersistentContextStore(settings.contextStorage, store)) {
    return { store: contextCursorStore(node, scope, store), where: `${scope} context (store "${store ?? 'default'}")` };
  }
  let dir = settings.metryCursorDir ?? (settings.userDir ? path.join(settings.userDir, 'metry-cursors') : undefined);
  if (!dir) {
    dir = path.join(os.tmpdir(), 'node-red-metry-cursors');
    node.warn(`Node-RED has no user directory setting, so the export cursors are kept in ${dir}, which the system may clear. Set userDir or metryCursorDir in settings.js.`);
  }
  const name = scope === 'flow' ? `flow-${node.z ?? 'global'}` : `node-${node.id}`;
  const file = path.join(dir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
  const fileStore = new FileCursorStore({
    file,
    onDamagedFile: (damaged, movedTo) => node.warn(`The cursor file ${damaged} could not be read; it was moved to ${movedTo} and the export starts again from Metry's first values.`),
  });
  return { store: fileStore, where: file };
}
