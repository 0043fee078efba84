/**
 * The data behind the Map meters dialog: the account's meters as metadata only, with mapping
 * suggestions for the user's pasted list. Runs server-side with the config node's stored
 * credentials; what it returns is built field by field, so no credential can reach the browser.
 */
import type { HttpRequester } from '../http/client';
import { isServiceError } from '../http/errors';
import { MeterSuggestion, MeterSummary, parseOwnMeters, proposeMappings, suggestMappings, summariseMeter } from './meter-mapping';
import { MeterFilters, listMeters } from './meters';

export interface MeterTable {
  meters: MeterSummary[];
  suggestions: MeterSuggestion[];
  /** Meter id → the user's id, for the suggestions certain enough to fill in. */
  proposed: Record<string, string>;
  /** How many meters Metry has for these filters (may exceed `meters.length` when truncated). */
  count: number;
  truncated: boolean;
}

export async function loadMeterTable(
  requester: HttpRequester,
  options: { own?: string; filters?: MeterFilters; limit?: number; signal?: AbortSignal } = {},
): Promise<MeterTable> {
  const limit = options.limit ?? 5000;
  const meters: MeterSummary[] = [];
  let count = 0;
  for await (const meter of listMeters(requester, options.filters ?? {}, { signal: options.signal, onPage: (received, total) => (count = total ?? received) })) {
    if (meters.length >= limit) break;
    meters.push(summariseMeter(meter));
  }
  const own = parseOwnMeters(options.own ?? '');
  const suggestions = own.length > 0 ? suggestMappings(meters, own) : [];
  return {
    meters,
    suggestions,
    proposed: proposeMappings(suggestions),
    count: Math.max(count, meters.length),
    truncated: count > meters.length,
  };
}

/**
 * The dialog's answer when listing failed: a service error's own sentence (it never holds a
 * credential), anything else a generic one with the detail for the log only.
 */
export function meterTableError(error: unknown): { status: number; body: { error: string; code: string }; log?: string } {
  if (isServiceError(error)) return { status: error.code === 'CONFIG' ? 400 : 502, body: { error: error.message, code: error.code } };
  return { status: 502, body: { error: 'Listing meters failed; see the Node-RED log.', code: 'ERROR' }, log: String((error as Error)?.message ?? error) };
}
