import type { Node } from 'node-red';
import type { CursorStore } from '../core/metry/cursor';

interface ContextLike {
  get(key: string, store: string | undefined, callback: (err: Error | null, value: unknown) => void): void;
  set(key: string, value: unknown, store: string | undefined, callback: (err: Error | null) => void): void;
}

/**
 * Export cursors kept in Node-RED context (node or flow scope, any configured store). They
 * survive a restart only when that store is persistent (e.g. `localfilesystem`).
 */
export function contextCursorStore(node: Node, scope: 'node' | 'flow', storeName?: string): CursorStore {
  const context = (scope === 'flow' ? node.context().flow : node.context()) as unknown as ContextLike;
  const store = storeName && storeName.trim() !== '' ? storeName.trim() : undefined;
  return {
    get: (key) =>
      new Promise((resolve, reject) => context.get(key, store, (err, value) => (err ? reject(err) : resolve(typeof value === 'string' ? value : undefined)))),
    set: (key, value) => new Promise((resolve, reject) => context.set(key, value, store, (err) => (err ? reject(err) : resolve()))),
  };
}
