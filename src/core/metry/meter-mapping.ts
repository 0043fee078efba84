/**
 * Mapping Metry meters to the user's own meter ids: a table kept in the node, or a tag rule for
 * users who tag meters in the Metry portal with their own id. Also the suggestions the Map
 * meters dialog shows when the user pastes a list of their own meters.
 */
import { MetryMeter, meterKey } from './types';

export interface MappingRow {
  /** A Metry meter: its `root._id` (preferred), `_id`, EAN or exact name. */
  meter: string;
  mappedId: string;
}

export interface MappingRules {
  table?: readonly MappingRow[];
  /** Whether tags may give the id. */
  useTags?: boolean;
  /** Only tags starting with this text count, and the text after it is the id (`mapped:BLD-1`). Empty: the meter's only tag. */
  tagPrefix?: string;
}

export interface MappingResult {
  mappedId?: string;
  via?: 'table' | 'tag';
  /** Why a meter stays unmapped, for the person who has to fix it. */
  reason?: string;
}

/** The tags of a meter as strings, whether Metry sends strings or `{name}` objects. */
export function tagsOf(meter: Pick<MetryMeter, 'tags'>): string[] {
  const tags = meter.tags;
  if (!Array.isArray(tags)) return [];
  return tags
    .map((tag) => (typeof tag === 'string' ? tag : tag && typeof tag === 'object' ? String((tag as Record<string, unknown>).name ?? '') : ''))
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');
}

/** Problems in a mapping table the editor should show: empty cells and meters listed twice. */
export function checkMappingTable(rows: readonly MappingRow[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  rows.forEach((row, index) => {
    const meter = String(row?.meter ?? '').trim();
    const mapped = String(row?.mappedId ?? '').trim();
    if (!meter) problems.push(`Row ${index + 1} has no Metry meter.`);
    if (!mapped) problems.push(`Row ${index + 1} has no id of your own.`);
    if (meter) {
      const previous = seen.get(meter.toLowerCase());
      if (previous !== undefined) problems.push(`Rows ${previous + 1} and ${index + 1} both map ${meter}; the first one is used.`);
      else seen.set(meter.toLowerCase(), index);
    }
  });
  return problems;
}

/** Builds the mapping function once per listing, so a 10,000-meter list costs one index. */
export function createMapper(rules: MappingRules): (meter: MetryMeter) => MappingResult {
  const byKey = new Map<string, string>();
  for (const row of rules.table ?? []) {
    const meter = String(row?.meter ?? '').trim().toLowerCase();
    const mapped = String(row?.mappedId ?? '').trim();
    if (meter && mapped && !byKey.has(meter)) byKey.set(meter, mapped);
  }
  const prefix = (rules.tagPrefix ?? '').trim();
  return (meter) => {
    const keys = [meterKey(meter), meter._id, meter.ean, meter.name].filter((k): k is string => typeof k === 'string' && k.trim() !== '');
    for (const key of keys) {
      const mapped = byKey.get(key.trim().toLowerCase());
      if (mapped) return { mappedId: mapped, via: 'table' };
    }
    if (!rules.useTags) return { reason: byKey.size > 0 ? 'not in the mapping table' : 'no mapping configured' };
    const tags = tagsOf(meter);
    const candidates = [
      ...new Set(
        prefix
          ? tags.filter((t) => t.toLowerCase().startsWith(prefix.toLowerCase())).map((t) => t.slice(prefix.length).trim())
          : tags,
      ),
    ].filter((t) => t !== '');
    if (candidates.length === 1) return { mappedId: candidates[0], via: 'tag' };
    if (candidates.length > 1) return { reason: `several tags could be the id (${candidates.join(', ')})` };
    return { reason: prefix ? `no tag starting with "${prefix}"` : 'no tag' };
  };
}

/** What the Map meters dialog shows of a meter: metadata only. */
export interface MeterSummary {
  id: string;
  name: string;
  ean: string;
  address: string;
  tags: string[];
  type: string;
}

function addressText(address: unknown): string {
  if (typeof address === 'string') return address;
  if (address && typeof address === 'object') {
    return Object.values(address as Record<string, unknown>)
      .filter((v) => typeof v === 'string' || typeof v === 'number')
      .join(', ');
  }
  return '';
}

/** Picks the displayable fields by name, so nothing else of the API object reaches the browser. */
export function summariseMeter(meter: MetryMeter): MeterSummary {
  return {
    id: meterKey(meter),
    name: typeof meter.name === 'string' ? meter.name : '',
    ean: typeof meter.ean === 'string' || typeof meter.ean === 'number' ? String(meter.ean) : '',
    address: addressText(meter.address),
    tags: tagsOf(meter),
    type: typeof meter.type === 'string' ? meter.type : '',
  };
}

/** One of the user's own meters as pasted: their id first, then any name, address or EAN. */
export interface OwnMeter {
  id: string;
  fields: string[];
}

/** One line per meter; fields separated by tab, semicolon or comma (`BLD-1;Main St 1;735999…`). */
export function parseOwnMeters(text: string): OwnMeter[] {
  return String(text ?? '')
    .split(/\r?\n/)
    .map((line) => line.split(/[\t;,]/).map((field) => field.trim()).filter((field) => field !== ''))
    .filter((fields) => fields.length > 0)
    .map((fields) => ({ id: fields[0], fields }));
}

export interface SuggestionCandidate {
  ownId: string;
  /** 1 for an exact EAN or id match; below 1 for name similarity. */
  score: number;
  reason: 'ean' | 'id' | 'name';
}

export interface MeterSuggestion {
  meterId: string;
  candidates: SuggestionCandidate[];
}

function normaliseText(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

function bigrams(text: string): Map<string, number> {
  const grams = new Map<string, number>();
  const compact = ` ${text} `;
  for (let i = 0; i < compact.length - 1; i += 1) {
    const gram = compact.slice(i, i + 2);
    grams.set(gram, (grams.get(gram) ?? 0) + 1);
  }
  return grams;
}

/** Dice coefficient over character bigrams: 1 for equal texts, 0 for nothing in common. */
export function nameSimilarity(a: string, b: string): number {
  const x = normaliseText(a);
  const y = normaliseText(b);
  if (!x || !y) return 0;
  if (x === y) return 1;
  const gx = bigrams(x);
  const gy = bigrams(y);
  let shared = 0;
  let total = 0;
  for (const [gram, count] of gx) {
    shared += Math.min(count, gy.get(gram) ?? 0);
    total += count;
  }
  for (const count of gy.values()) total += count;
  return total === 0 ? 0 : (2 * shared) / total;
}

const digitsOnly = (text: string): string => text.replace(/\s+/g, '');

/**
 * For each Metry meter, the user's meters it most likely is: an exact EAN (or Metry id) match
 * first, then by similarity of name or address; weak matches (below `minSimilarity`) are left out.
 */
export function suggestMappings(meters: readonly MeterSummary[], own: readonly OwnMeter[], options: { limit?: number; minSimilarity?: number } = {}): MeterSuggestion[] {
  const limit = options.limit ?? 3;
  const minSimilarity = options.minSimilarity ?? 0.35;
  return meters.map((meter) => {
    const ean = digitsOnly(meter.ean);
    const candidates: SuggestionCandidate[] = [];
    for (const mine of own) {
      if (ean && mine.fields.some((field) => digitsOnly(field) === ean)) {
        candidates.push({ ownId: mine.id, score: 1, reason: 'ean' });
        continue;
      }
      if (mine.fields.some((field) => field === meter.id)) {
        candidates.push({ ownId: mine.id, score: 1, reason: 'id' });
        continue;
      }
      let best = 0;
      for (const field of mine.fields) {
        if (/^\d+$/.test(digitsOnly(field))) continue;
        // Addresses share street words ("…gatan", city) with many meters, so they count for less.
        best = Math.max(best, nameSimilarity(field, meter.name), meter.address ? 0.8 * nameSimilarity(field, meter.address) : 0);
      }
      // Similarity is capped below an exact match so an EAN hit always ranks first.
      if (best >= minSimilarity) candidates.push({ ownId: mine.id, score: Math.round(Math.min(best, 0.99) * 1000) / 1000, reason: 'name' });
    }
    candidates.sort((a, b) => b.score - a.score || (a.reason === 'ean' ? -1 : b.reason === 'ean' ? 1 : 0));
    return { meterId: meter.id, candidates: candidates.slice(0, limit) };
  });
}

/**
 * The suggestions safe to fill in without a person choosing: exact EAN/id matches, and name
 * matches of at least `minScore`; each of the user's ids goes to one meter only, the best-scoring.
 */
export function proposeMappings(suggestions: readonly MeterSuggestion[], minScore = 0.8): Record<string, string> {
  const best = new Map<string, { meterId: string; score: number }>();
  for (const suggestion of suggestions) {
    const top = suggestion.candidates[0];
    if (!top || (top.reason === 'name' && top.score < minScore)) continue;
    const current = best.get(top.ownId);
    if (!current || top.score > current.score) best.set(top.ownId, { meterId: suggestion.meterId, score: top.score });
  }
  const proposed: Record<string, string> = {};
  for (const [ownId, { meterId }] of best) proposed[meterId] = ownId;
  return proposed;
}
