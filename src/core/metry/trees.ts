/**
 * Metry's tree structure (Metry API Blueprint, "Group Trees"; seed 001 "Structuring collection
 * with tree structure"): nodes grouping meters, e.g. one per customer with the customer's id as
 * `custom_identifier`. A node's `_id` can stand in for a meter id in a consumption request and
 * Metry answers the sum over the node's meters in box `active`. Such a node becomes a
 * consumption meter here whose id, and so every reading's `meterId`, is the node id.
 */
import type { HttpRequester } from '../http/client';
import { MeterFinder } from './meter-finder';
import { isValidTimeZone } from '../time-zone';
import type { MetryMeter } from './types';
import { listWholeTreeNodes } from './meters';

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

/** The nodes under `parent` (`null`: root nodes, an id: its children, `undefined`: every node), each once. */
export async function* listTreeNodes(requester: HttpRequester, parent: string | null | undefined, options: { signal?: AbortSignal } = {}): AsyncGenerator<MetryTreeNode> {
  yield* (await listWholeTreeNodes(requester, parent, options)).items;
}

/** True for a tree node as listTreeNodes or treeNodeMeter give it (no meter has `meters` and no `root`). */
export function isTreeNode(item: unknown): boolean {
  if (!item || typeof item !== 'object') return false;
  const record = item as Record<string, unknown>;
  return record.treeNode === true || (typeof record._id === 'string' && Array.isArray(record.meters) && record.root === undefined);
}

/**
 * A tree node as a consumption meter. Metry reads a node's period in its meters' zone; a node has
 * no zone of its own, so it is the zone of its first meter (found in the meter listing; pass one
 * finder for many nodes), else `fallback`.
 */
export async function treeNodeMeter(requester: HttpRequester, node: MetryTreeNode, fallback: string, finder = new MeterFinder(requester)): Promise<TreeNodeMeter> {
  const meter: TreeNodeMeter = { _id: node._id, treeNode: true, timezone: fallback };
  if (typeof node.name === 'string') meter.name = node.name;
  if (typeof node.custom_identifier === 'string' && node.custom_identifier !== '') meter.mappedId = node.custom_identifier;
  const first = node.meters?.find((m) => m.root_id || m._id);
  if (first) {
    const id = (first.root_id ?? first._id)!;
    // A meter the account does not list leaves the fallback: Metry still sums the node's other meters.
    const zone = (await finder.find([id])).get(id)?.timezone;
    if (isValidTimeZone(zone)) meter.timezone = zone;
  }
  return meter;
}
