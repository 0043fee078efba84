/**
 * Metry's tree structure (Metry API Blueprint, "Group Trees"; seed 001 "Structuring collection
 * with tree structure"): nodes grouping meters, e.g. one per customer with the customer's id as
 * `custom_identifier`. A node's `_id` can stand in for a meter id in a consumption request and
 * Metry answers the sum over the node's meters in box `active`. Such a node becomes a
 * consumption meter here whose id, and so every reading's `meterId`, is the node id.
 */
import type { HttpRequester } from '../http/client';
import { ServiceError, isServiceError } from '../http/errors';
import { nextSkip, paginate } from '../http/pagination';
import { getMeter } from './meters';
import { isValidTimeZone } from './timezone';
import type { MetryListEnvelope, MetryMeter } from './types';

export interface MetryTreeNode {
  _id: string;
  name?: string;
  parent?: string | null;
  /** The external id a provider gave the node, e.g. its customer number. */
  custom_identifier?: string | null;
  factor?: number;
  meters?: { _id?: string; root_id?: string; factor?: number }[];
  [key: string]: unknown;
}

/**
 * A tree node in the shape the consumption export takes meters in (`_id`, `timezone`,
 * `mappedId`), marked so it is never batched into `/consumptions/multi`, which documents meter ids only.
 */
export interface TreeNodeMeter extends MetryMeter {
  treeNode: true;
  timezone: string;
}

/**
 * The nodes under `parent`: `null` lists the root nodes, an id that node's children and
 * `undefined` every node (`GET /trees`, 50 a page, `skip` to page on).
 */
export async function* listTreeNodes(requester: HttpRequester, parent: string | null | undefined, options: { signal?: AbortSignal } = {}): AsyncGenerator<MetryTreeNode> {
  const query: Record<string, string> = {};
  if (parent !== undefined) query.parent = parent === null ? 'null' : parent;
  yield* paginate<MetryTreeNode, number>(async (skip) => {
    const response = await requester.request<MetryListEnvelope<MetryTreeNode>>({ path: '/trees', query: { ...query, skip: skip ?? 0 }, what: 'listing tree nodes', signal: options.signal, responseType: 'json' });
    const body = response.data;
    if (!body || !Array.isArray(body.data)) {
      throw new ServiceError('Metry sent a list without a data array (listing tree nodes). Check that the base URL points at the Metry API (…/api/v2).', { code: 'INVALID_RESPONSE', service: 'metry' });
    }
    const start = typeof body.skip === 'number' ? body.skip : skip ?? 0;
    return { items: body.data, next: nextSkip(start, body.data.length, body.count) };
  });
}

/** True for a tree node as listTreeNodes or treeNodeMeter give it (no meter has `meters` and no `root`). */
export function isTreeNode(item: unknown): boolean {
  if (!item || typeof item !== 'object') return false;
  const record = item as Record<string, unknown>;
  return record.treeNode === true || (typeof record._id === 'string' && Array.isArray(record.meters) && record.root === undefined);
}

/**
 * A tree node as a consumption meter. Metry reads a node's period in its meters' zone; a node has
 * no zone of its own, so it is the zone of its first meter (one `GET /meters/{id}`), else `fallback`.
 */
export async function treeNodeMeter(requester: HttpRequester, node: MetryTreeNode, fallback: string, signal?: AbortSignal): Promise<TreeNodeMeter> {
  const meter: TreeNodeMeter = { _id: node._id, treeNode: true, timezone: fallback };
  if (typeof node.name === 'string') meter.name = node.name;
  if (typeof node.custom_identifier === 'string' && node.custom_identifier !== '') meter.mappedId = node.custom_identifier;
  const first = node.meters?.find((m) => m.root_id || m._id);
  if (first) {
    try {
      const zone = (await getMeter(requester, (first.root_id ?? first._id)!, signal)).timezone;
      if (isValidTimeZone(zone)) meter.timezone = zone;
    } catch (error) {
      // A meter the account cannot read does not make the node unusable: Metry still sums the rest.
      if (!isServiceError(error) || (error.status !== 403 && error.status !== 404)) throw error;
    }
  }
  return meter;
}
