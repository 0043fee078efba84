/**
 * Listing meters and subaccounts. Metry pages every list at 50 items and silently ignores query
 * parameters it does not know (a typo returns every meter), so only the filter names below are
 * ever sent, and every page is fetched until `count` is reached.
 */
import type { HttpRequester } from '../http/client';
import { ServiceError } from '../http/errors';
import { paginate, nextSkip } from '../http/pagination';
import type { MetryListEnvelope, MetryMeter, MetrySubaccount } from './types';

export interface MeterFilters {
  /** Meters collected under this subaccount (`assigner._id`). */
  subaccount?: string;
  /** Meters placed under this tree node (`tree_structure_ids`). */
  treeNode?: string;
  tags?: string;
  type?: string;
  ean?: string;
  /** `active` by default; `''` lists every box. */
  box?: string;
  /** `false` by default (only meters still accessible); `'any'` drops the filter. */
  revoked?: boolean | 'any';
}

/** Our filter names and the query parameter each becomes, as Metry documents them. */
export const METER_FILTER_PARAMS: Readonly<Record<'subaccount' | 'treeNode' | 'tags' | 'type' | 'ean', string>> = {
  subaccount: 'assigner._id',
  treeNode: 'tree_structure_ids',
  tags: 'tags',
  type: 'type',
  ean: 'ean',
};

export const METER_TYPES = ['electricity', 'heat', 'cooling', 'gas', 'hot_water', 'water', 'sensor'] as const;
export const METER_BOXES = ['active', 'temporary', 'inbox', 'ignored'] as const;

function configError(message: string): ServiceError {
  return new ServiceError(message, { code: 'CONFIG', service: 'metry' });
}

/** The query for `GET /meters`; refuses filter names and values Metry would silently ignore. */
export function buildMeterQuery(filters: MeterFilters = {}): Record<string, string> {
  const known = new Set([...Object.keys(METER_FILTER_PARAMS), 'box', 'revoked']);
  const unknown = Object.keys(filters).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw configError(`Unknown meter filter ${unknown.map((n) => `"${n}"`).join(', ')}: Metry would ignore it and list every meter. Use subaccount, treeNode, tags, type or ean.`);
  }
  const query: Record<string, string> = {};
  const revoked = filters.revoked ?? false;
  if (revoked !== 'any') query.revoked = String(revoked);
  const box = filters.box ?? 'active';
  if (box !== '') {
    if (!(METER_BOXES as readonly string[]).includes(box)) throw configError(`Unknown box "${box}". Use active, temporary, inbox or ignored (or empty for every box).`);
    query.box = box;
  }
  for (const [name, param] of Object.entries(METER_FILTER_PARAMS) as [keyof typeof METER_FILTER_PARAMS, string][]) {
    const raw = filters[name];
    if (raw === undefined || raw === null) continue;
    const value = String(raw).trim();
    if (value === '') continue;
    if (name === 'type' && !(METER_TYPES as readonly string[]).includes(value)) {
      throw configError(`Unknown meter type "${value}". Use one of ${METER_TYPES.join(', ')}.`);
    }
    query[param] = value;
  }
  return query;
}

export interface ListOptions {
  signal?: AbortSignal;
  /** Told after each page: items received so far and the total Metry reported. */
  onPage?: (received: number, count: number | undefined) => void;
}

async function* listAll<T>(requester: HttpRequester, path: string, query: Record<string, string>, what: string, options: ListOptions): AsyncGenerator<T> {
  let received = 0;
  yield* paginate<T, number>(async (skip) => {
    const response = await requester.request<MetryListEnvelope<T>>({
      path,
      query: { ...query, skip: skip ?? 0 },
      what,
      signal: options.signal,
      responseType: 'json',
    });
    const body = response.data;
    if (!body || !Array.isArray(body.data)) {
      throw new ServiceError(`Metry sent a list without a data array (${what}). Check that the base URL points at the Metry API (…/api/v2).`, { code: 'INVALID_RESPONSE', service: 'metry' });
    }
    const start = typeof body.skip === 'number' ? body.skip : skip ?? 0;
    received += body.data.length;
    options.onPage?.(received, body.count);
    return { items: body.data, next: nextSkip(start, body.data.length, body.count) };
  });
}

/** Every meter matching the filters, page by page, without holding more than a page. */
export function listMeters(requester: HttpRequester, filters: MeterFilters = {}, options: ListOptions = {}): AsyncGenerator<MetryMeter> {
  return listAll<MetryMeter>(requester, '/meters', buildMeterQuery(filters), 'listing meters', options);
}

/** Every subaccount of the account (property-manager collection), with `custom_identifier`. */
export function listSubaccounts(requester: HttpRequester, options: ListOptions = {}): AsyncGenerator<MetrySubaccount> {
  return listAll<MetrySubaccount>(requester, '/accounts/me/subaccounts', {}, 'listing subaccounts', options);
}

/** One meter by its id, for inputs that name a meter without its metadata. */
export async function getMeter(requester: HttpRequester, meterId: string, signal?: AbortSignal): Promise<MetryMeter> {
  const response = await requester.request<{ data?: MetryMeter }>({
    path: `/meters/${encodeURIComponent(meterId)}`,
    what: 'reading a meter',
    signal,
    responseType: 'json',
  });
  const meter = response.data?.data;
  if (!meter || typeof meter !== 'object') {
    throw new ServiceError(`Metry sent no meter for this id (reading a meter). Check the meter id.`, { code: 'INVALID_RESPONSE', service: 'metry' });
  }
  return meter;
}
