/**
 * Where incremental export remembers how far it got: per meter, granularity and metric, the
 * start of the last slot that had a value. The node keeps it in Node-RED context; tests and the
 * benchmark use the in-memory store.
 */
import type { MetryGranularity } from './periods';

export interface CursorStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

/**
 * A context key without dots or brackets, because Node-RED reads those as property paths:
 * `metryCursor_65a0c0ffee0000000000bb01_hour_energy`.
 */
export function cursorKey(meterId: string, granularity: MetryGranularity, metric: string): string {
  const safe = (text: string): string => text.replace(/[^A-Za-z0-9_-]/g, '_');
  return `metryCursor_${safe(meterId)}_${granularity}_${safe(metric)}`;
}

/** Parses a stored cursor (an ISO instant); anything unreadable counts as no cursor. */
export function parseCursor(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

export class MemoryCursorStore implements CursorStore {
  readonly values = new Map<string, string>();

  async get(key: string): Promise<string | undefined> {
    return this.values.get(key);
  }

  async set(key: string, value: string): Promise<void> {
    this.values.set(key, value);
  }
}
