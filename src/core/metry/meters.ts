/**
 * Listing meters and subaccounts. Metry pages every list at 50 items and silently ignores query
 * parameters it does not know (a typo returns every meter), so only the filter names below are
 * ever sent, and every page is fetched until `count` is reached.
 */
import type { HttpRequester } from '../http/client';
import { ServiceError } from '../http/errors';
import { paginate, nextSkip } from '../http/pagination';
import { MetryListEnvelope, MetryMeter, MetrySubaccount, meterKey } from './types';
import type { MetryTreeNode } from './trees';

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

async function fetchPage<T>(requester: HttpRequester, path: string, query: Record<string, string>, skip: number, what: string, signal?: AbortSignal): Promise<MetryListEnvelope<T> & { data: T[] }> {
  const response = await requester.request<MetryListEnvelope<T>>({ path, query: { ...query, skip }, what, signal, responseType: 'json' });
  const body = response.data;
  if (!body || !Array.isArray(body.data)) {
    throw new ServiceError(`Metry sent a list without a data array (${what}). Check that the base URL points at the Metry API (…/api/v2).`, { code: 'INVALID_RESPONSE', service: 'metry' });
  }
  return body as MetryListEnvelope<T> & { data: T[] };
}

async function* listAll<T>(requester: HttpRequester, path: string, query: Record<string, string>, what: string, options: ListOptions): AsyncGenerator<T> {
  let received = 0;
  yield* paginate<T, number>(async (skip) => {
    const body = await fetchPage<T>(requester, path, query, skip ?? 0, what, options.signal);
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

/** A whole list, each item once, and whether it held still while it was paged. */
export interface WholeList<T> {
  items: T[];
  /** Metry's `count` on the last page read. */
  count?: number;
  /** How many times the list was paged from the start (1 when it held still). */
  passes: number;
  /** Items a page repeated (the list shifted) and that were dropped. */
  duplicates: number;
  /** Only when the list still changed on the last pass: how many items may be missing. */
  possiblyMissing?: number;
  /** The same, in a sentence for a warning. */
  problem?: string;
}

export interface WholeListOptions extends ListOptions {
  /** Listings from the start before settling for a list that moved (default 3). */
  maxPasses?: number;
}

interface Pass<T> {
  items: Map<string, T>;
  count?: number;
  duplicates: number;
  /** Sum of the count's changes between pages: each added or removed item may hide one. */
  shifted: number;
  change?: string;
}

/**
 * Pages a list once. Metry pages by position (`skip`), so an item added or removed in front of
 * the current page shifts the rest: one is listed twice, or one is never seen. A change shows
 * as a different `count` or a repeated id; the pass stops there when `stopOnChange`.
 */
async function onePass<T>(fetch: (skip: number) => Promise<MetryListEnvelope<T> & { data: T[] }>, idOf: (item: T) => string, stopOnChange: boolean, onPage?: ListOptions['onPage']): Promise<Pass<T>> {
  const pass: Pass<T> = { items: new Map(), duplicates: 0, shifted: 0 };
  let skip = 0;
  let first = true;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const body = await fetch(skip);
    if (!first && body.count !== pass.count) {
      pass.shifted += Math.abs((body.count ?? 0) - (pass.count ?? 0));
      pass.change ??= `its count went from ${pass.count} to ${body.count}`;
    }
    first = false;
    pass.count = body.count;
    for (const item of body.data) {
      const id = idOf(item);
      if (!pass.items.has(id)) pass.items.set(id, item);
      else {
        pass.duplicates += 1;
        pass.change ??= `${id} came twice`;
      }
    }
    onPage?.(pass.items.size, body.count);
    if (pass.change && stopOnChange) return pass;
    const next = nextSkip(typeof body.skip === 'number' ? body.skip : skip, body.data.length, body.count);
    if (next === undefined) break;
    skip = next;
  }
  if (!pass.change && pass.count !== undefined && pass.items.size !== pass.count) pass.change = `${pass.items.size} came where its count is ${pass.count}`;
  return pass;
}

const MAX_PAGES = 100_000;

async function listWhole<T>(fetch: (skip: number) => Promise<MetryListEnvelope<T> & { data: T[] }>, idOf: (item: T) => string, noun: string, options: WholeListOptions): Promise<WholeList<T>> {
  const maxPasses = Math.max(1, options.maxPasses ?? 3);
  for (let passes = 1; ; passes += 1) {
    const last = passes >= maxPasses;
    const pass = await onePass(fetch, idOf, !last, options.onPage);
    const list = { items: [...pass.items.values()], count: pass.count, passes, duplicates: pass.duplicates };
    if (!pass.change) return list;
    if (!last) continue;
    const possiblyMissing = Math.max(pass.shifted, (pass.count ?? 0) - pass.items.size, 1);
    const problem =
      `The ${noun} list changed while it was paged, ${passes} times in a row (last time ${pass.change}). ` +
      `${list.items.length} ${noun}s were listed once each; up to ${possiblyMissing} added or moved during the listing may be missing and will be listed by the next run.`;
    return { ...list, possiblyMissing, problem };
  }
}

/**
 * Every meter matching the filters, each once by `root._id`, listed again from the start when
 * the list changed while it was paged (bounded by `maxPasses`; then the result says how many
 * may be missing). Holds the whole list, so a caller can send it as one complete sequence.
 */
export function listWholeMeters(requester: HttpRequester, filters: MeterFilters = {}, options: WholeListOptions = {}): Promise<WholeList<MetryMeter>> {
  const query = buildMeterQuery(filters);
  return listWhole((skip) => fetchPage<MetryMeter>(requester, '/meters', query, skip, 'listing meters', options.signal), meterKey, 'meter', options);
}

export function listWholeSubaccounts(requester: HttpRequester, options: WholeListOptions = {}): Promise<WholeList<MetrySubaccount>> {
  return listWhole((skip) => fetchPage<MetrySubaccount>(requester, '/accounts/me/subaccounts', {}, skip, 'listing subaccounts', options.signal), (s) => s._id, 'subaccount', options);
}

/**
 * Every tree node under `parent` (`null`: the root nodes; `undefined`: every node), each once by
 * `_id`, listed again when the list changed while it was paged (`GET /trees?parent=…`).
 */
export function listWholeTreeNodes(requester: HttpRequester, parent: string | null | undefined, options: WholeListOptions = {}): Promise<WholeList<MetryTreeNode>> {
  const query: Record<string, string> = parent === undefined ? {} : { parent: parent === null ? 'null' : parent };
  return listWhole((skip) => fetchPage<MetryTreeNode>(requester, '/trees', query, skip, 'listing tree nodes', options.signal), (node) => node._id, 'tree node', options);
}
