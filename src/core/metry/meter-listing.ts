/**
 * What metry-meters does with one input: read its settings, list the whole account (meters or
 * subaccounts, each once, listed again when the list changed while it was paged), map meters to
 * the user's ids, and decide what to send.
 *
 * Nothing is sent until the list is whole. Then either one message with every item, or one
 * message per item where every message carries the complete `parts` (`id`, `index`, `count`),
 * as Node-RED's split node does: a join completes, and a listing that fails on page 3 has sent
 * nothing — no open sequence, no partial export downstream.
 */
import type { HttpRequester } from '../http/client';
import { readChoice } from '../runtime/options';
import { StatusView, statusView } from '../runtime/status';
import { MappingResult, MappingRow, createMapper, summariseMeter } from './meter-mapping';
import { METER_TYPES, MeterFilters, WholeList, WholeListOptions, listWholeMeters, listWholeSubaccounts, listWholeTreeNodes } from './meters';
import { MeterFinder } from './meter-finder';
import { MetryTreeNode, treeNodeMeter } from './trees';
import type { MetryMeter, MetrySubaccount } from './types';

export interface ListingSettings {
  /** `trees`: the tree nodes under the Tree node field (empty: the root nodes), ready for metry-consumption. */
  mode: 'meters' | 'subaccounts' | 'trees';
  output: 'all' | 'each';
  box: string;
  meterType?: string;
  /** Absent when no mapping is configured: every meter goes out as it is. */
  mapper?: (meter: MetryMeter) => MappingResult;
}

/** The node's saved fields this module reads. */
export interface ListingConfig {
  mode?: unknown;
  output?: unknown;
  box?: unknown;
  meterType?: unknown;
  mappings?: unknown;
  useTags?: unknown;
  tagPrefix?: unknown;
}

/** Checks the settings at deploy; a bad one is a ConfigError naming the field. */
export function readListingSettings(config: ListingConfig): ListingSettings {
  const rows = Array.isArray(config.mappings) ? (config.mappings as MappingRow[]) : [];
  const useTags = config.useTags === true;
  return {
    mode: readChoice(config.mode, 'List', ['meters', 'subaccounts', 'trees'] as const, 'meters'),
    output: readChoice(config.output, 'Output', ['all', 'each'] as const, 'all'),
    box: readChoice(config.box, 'Box', ['active', 'temporary', 'inbox', 'ignored', 'any'] as const, 'active'),
    meterType: readChoice(config.meterType, 'Type', ['', ...METER_TYPES] as const, '') || undefined,
    mapper: rows.length > 0 || useTags ? createMapper({ table: rows, useTags, tagPrefix: typeof config.tagPrefix === 'string' ? config.tagPrefix : '' }) : undefined,
  };
}

/** Filters from the node's fields (already evaluated per message) and its box and type. */
export function meterFilters(settings: ListingSettings, evaluated: Partial<Record<'subaccount' | 'treeNode' | 'tags' | 'ean', unknown>>): MeterFilters {
  const filters: MeterFilters = { box: settings.box === 'any' ? '' : settings.box };
  if (settings.meterType) filters.type = settings.meterType;
  for (const [field, value] of Object.entries(evaluated) as [keyof typeof evaluated, unknown][]) {
    if (value !== undefined && value !== null && value !== '') filters[field] = String(value);
  }
  return filters;
}

export interface UnmappedMeter extends ReturnType<typeof summariseMeter> {
  reason?: string;
}

/** How the listing went, on every message it sends (`msg.listing`). */
export interface ListingReport {
  /** Metry's count on the last page. */
  count?: number;
  /** Items sent (mapped meters, or every item without a mapping). */
  sent: number;
  passes: number;
  duplicates: number;
  /** False when the list kept changing while it was paged; then `possiblyMissing` says how many. */
  complete: boolean;
  possiblyMissing?: number;
}

/** What to send: bodies merged over the input message by the adapter. */
export interface ListingOutput {
  /** First output, in order. */
  items: Record<string, unknown>[];
  /** Second output: meters a mapping gave no id. */
  unmapped?: Record<string, unknown>;
  /** For the log when the list kept changing. */
  warning?: string;
  status: StatusView;
}

export interface ListingRun {
  requester: HttpRequester;
  filters: MeterFilters;
  /** `msg.parts` of the input, kept as the parent of a new sequence. */
  parentParts?: unknown;
  sequenceId: string;
  onStatus: (view: StatusView) => void;
  signal?: AbortSignal;
}

function progressView(mode: ListingSettings['mode'], received: number, count: number | undefined): StatusView {
  return statusView('working', mode === 'subaccounts' ? 'progressSubaccounts' : mode === 'trees' ? 'progressTrees' : 'progressMeters', { received, count: count ?? received });
}

/**
 * Tree nodes as metry-consumption takes them: each with the zone of its meters and its
 * `custom_identifier` as `mappedId`, so readings carry the provider's customer id.
 */
async function listTrees(run: ListingRun, options: WholeListOptions): Promise<WholeList<MetryTreeNode>> {
  const list = await listWholeTreeNodes(run.requester, run.filters.treeNode || null, options);
  const finder = new MeterFinder(run.requester, { signal: run.signal });
  const items: MetryTreeNode[] = [];
  for (const node of list.items) items.push({ ...node, ...(await treeNodeMeter(run.requester, node, 'UTC', finder)) });
  return { ...list, items };
}

export async function runListing(settings: ListingSettings, run: ListingRun): Promise<ListingOutput> {
  run.onStatus(statusView('working', 'listing'));
  const options = { signal: run.signal, onPage: (received: number, count: number | undefined) => run.onStatus(progressView(settings.mode, received, count)) };
  const list: WholeList<MetryMeter | MetrySubaccount | MetryTreeNode> =
    settings.mode === 'subaccounts'
      ? await listWholeSubaccounts(run.requester, options)
      : settings.mode === 'trees'
        ? await listTrees(run, options)
        : await listWholeMeters(run.requester, run.filters, options);

  const sendable: (MetryMeter | MetrySubaccount | MetryTreeNode)[] = [];
  const unmapped: UnmappedMeter[] = [];
  for (const item of list.items) {
    if (settings.mode !== 'meters' || !settings.mapper) {
      sendable.push(item);
      continue;
    }
    const meter = item as MetryMeter;
    const result = settings.mapper(meter);
    if (result.mappedId) sendable.push({ ...meter, mappedId: result.mappedId });
    else unmapped.push({ ...summariseMeter(meter), reason: result.reason });
  }

  const listing: ListingReport = { count: list.count, sent: sendable.length, passes: list.passes, duplicates: list.duplicates, complete: list.problem === undefined };
  if (list.possiblyMissing !== undefined) listing.possiblyMissing = list.possiblyMissing;
  const items =
    settings.output === 'each'
      ? sendable.map((payload, index) => {
          const parts: Record<string, unknown> = { id: run.sequenceId, type: 'array', index, count: sendable.length };
          if (run.parentParts) parts.parts = run.parentParts;
          return { payload, parts, listing };
        })
      : [{ payload: sendable, listing }];
  return {
    items,
    unmapped: unmapped.length > 0 ? { payload: unmapped, listing } : undefined,
    warning: list.problem,
    status: finalStatus(settings.mode, sendable.length, unmapped.length, listing.complete),
  };
}

function finalStatus(mode: ListingSettings['mode'], sent: number, unmapped: number, complete: boolean): StatusView {
  if (!complete) return statusView('warning', 'changed', { count: sent });
  if (unmapped > 0) return statusView('warning', 'unmapped', { count: sent, unmapped });
  return statusView('success', mode === 'subaccounts' ? 'subaccounts' : mode === 'trees' ? 'trees' : 'meters', { count: sent });
}
