/**
 * A local UtilityAPI v2 implementing the parts of the contract the utilityapi nodes use
 * (service-contracts.md §2, seed 003, utilityapi.com/docs/api/…): Bearer tokens; POST
 * /meters/historical-collection with its silent dropping of revoked/expired meters, its 402 and
 * 404, and its 400 error types (required_param_missing, invalid_param, expired_or_revoked);
 * meters that stay `pending` for a number of status reads; GET /meters and GET /intervals paged
 * with `after=<uid>` and a `next` link, written absolute, as a path or relative (the docs do not
 * say which; service-contracts §2.6 item 7); /intervals with start/end, order and allow_mixed.
 * Rate limits and server errors come from FakeServer's switchable failures.
 *
 * Long histories are generated one Interval object at a time when a page is asked for, so a
 * meter with five years of 15-minute readings costs the fake no memory.
 */
import { FakeServer, RecordedRequest, FakeResponse } from '../fake-server';
import { toIsoWithOffset } from '../../src/core/readings';
import type { IntervalBlock, IntervalReading, Meter, MeterNote } from '../../src/core/utilityapi/types';

export const UTILITYAPI_TEST_TOKEN = 'uapi-token-3c8e1f0a9b7d6c5e4f3a';

/** The fake utility's offset from UTC in minutes (-08:00, as in UtilityAPI's examples). */
export const UTILITY_OFFSET_MINUTES = -480;
const DAY_MS = 86_400_000;

/** A generated history: one Interval object per `blockDays` days of `minutes`-long readings. */
export interface FakeHistory {
  startMs: number;
  days: number;
  minutes?: number;
  blockDays?: number;
}

export interface FakeMeterSpec {
  uid: string;
  /** The authorization was revoked: historical-collection drops the meter silently. */
  revoked?: boolean;
  /** The authorization expired: dropped like a revoked one. */
  expired?: boolean;
  /** Status reads that still answer `pending` after a collection was triggered. */
  pollsUntilDone?: number;
  /** The status once collection is over. */
  finalStatus?: string;
  /** Notes the meter gets when its collection finishes. */
  notesWhenDone?: MeterNote[];
  /** Interval objects for GET /intervals; default: three generated objects of four quarter-hours. */
  blocks?: IntervalBlock[];
  /** A long generated history instead of `blocks`. */
  history?: FakeHistory;
}

interface FakeMeter extends FakeMeterSpec {
  status: string;
  polls: number;
  notes: MeterNote[];
}

export interface RecordedCollection {
  meters: string[];
  collectionDuration?: number;
}

/** How `next` links are written. */
export type NextStyle = 'absolute' | 'path' | 'relative';

function stamp(ms: number): string {
  return toIsoWithOffset(ms, UTILITY_OFFSET_MINUTES).replace(/([+-]\d{2}:\d{2})$/, '.000000$1');
}

/** One Interval object of `count` readings of `minutes` each from `startMs`, as UtilityAPI writes them. */
export function generateBlock(meterUid: string, index: number, startMs: number, count: number, minutes = 15): IntervalBlock {
  const readings: IntervalReading[] = [];
  for (let r = 0; r < count; r += 1) {
    const at = startMs + r * minutes * 60_000;
    const kwh = Math.round((0.2 + ((index * count + r) % 10) * 0.05) * 1000) / 1000;
    readings.push({ start: stamp(at), end: stamp(at + minutes * 60_000), kwh, datapoints: [{ type: 'net', unit: 'kwh', value: kwh }] });
  }
  return { uid: `${meterUid}-iv${index + 1}`, meter_uid: meterUid, authorization_uid: 'auth-1', utility: 'DEMO', blocks: ['base', 'readings'], readings };
}

/** `count` Interval objects of `readingsPerBlock` quarter-hours each, in a -08:00 utility. */
export function generateBlocks(meterUid: string, count: number, readingsPerBlock: number, startMs = Date.UTC(2024, 1, 1, 8)): IntervalBlock[] {
  return Array.from({ length: count }, (_, b) => generateBlock(meterUid, b, startMs + b * readingsPerBlock * 15 * 60_000, readingsPerBlock));
}

/** A meter's Interval objects, generated on demand: the span of each without building it, and the object itself. */
interface BlockSource {
  count: number;
  span(index: number): { start: number; end: number; minutes: number };
  uid(index: number): string;
  block(index: number): IntervalBlock;
}

function blockSource(meter: FakeMeter): BlockSource {
  const history = meter.history;
  if (history) {
    const minutes = history.minutes ?? 15;
    const blockMs = (history.blockDays ?? 1) * DAY_MS;
    return {
      count: Math.ceil((history.days * DAY_MS) / blockMs),
      span: (index) => ({ start: history.startMs + index * blockMs, end: history.startMs + (index + 1) * blockMs, minutes }),
      uid: (index) => `${meter.uid}-iv${index + 1}`,
      block: (index) => generateBlock(meter.uid, index, history.startMs + index * blockMs, blockMs / (minutes * 60_000), minutes),
    };
  }
  const blocks = meter.blocks ?? generateBlocks(meter.uid, 3, 4);
  const spanOf = (block: IntervalBlock): { start: number; end: number; minutes: number } => {
    const readings = block.readings ?? [];
    const start = Date.parse(readings[0]?.start ?? '');
    return { start, end: Date.parse(readings.at(-1)?.end ?? ''), minutes: readings.length ? (Date.parse(readings[0].end) - start) / 60_000 : 0 };
  };
  return { count: blocks.length, span: (index) => spanOf(blocks[index]), uid: (index) => String(blocks[index].uid), block: (index) => blocks[index] };
}

/** A start/end filter: ISO 8601, or a short date read in the utility's local time zone. */
function filterInstant(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return Date.parse(`${value}T00:00:00Z`) - UTILITY_OFFSET_MINUTES * 60_000;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? Number.NaN : ms;
}

/**
 * The Error object of a 400. UtilityAPI's docs name the error types but show no body; the
 * `type`/`msg` pair follows its notes objects. The node finds the type in any usual shape.
 */
function refusal(type: string, msg: string): FakeResponse {
  return { status: 400, body: { errors: [{ type, msg }] } };
}

export class FakeUtilityApi {
  readonly server = new FakeServer();
  token = UTILITYAPI_TEST_TOKEN;
  /** The pre-paid balance is empty: historical-collection answers 402. */
  balanceEmpty = false;
  /** Meters per GET /meters page (UtilityAPI: 1000). */
  meterPageSize = 1000;
  /** Interval objects per GET /intervals page (UtilityAPI: 1000). */
  intervalPageSize = 2;
  nextStyle: NextStyle = 'absolute';
  readonly collections: RecordedCollection[] = [];
  private readonly meters = new Map<string, FakeMeter>();

  async start(): Promise<this> {
    await this.server.start();
    this.server.authCheck = (request) =>
      request.headers.authorization === `Bearer ${this.token}` ? undefined : { status: 401, body: { error: 'Invalid or missing access_token' } };
    this.server.on('POST', '/api/v2/meters/historical-collection', (request) => this.historicalCollection(request));
    this.server.on('GET', '/api/v2/meters', (request) => this.listMeters(request));
    this.server.on('GET', '/api/v2/meters/:uid', (_request, [uid]) => this.getMeter(uid));
    this.server.on('GET', '/api/v2/intervals', (request) => this.listIntervals(request));
    return this;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  get baseUrl(): string {
    return `${this.server.url}/api/v2`;
  }

  addMeter(spec: FakeMeterSpec): this {
    this.meters.set(spec.uid, { ...spec, status: 'updated', polls: 0, notes: [] });
    return this;
  }

  addMeters(count: number, prefix = 'm', spec: Partial<FakeMeterSpec> = {}): string[] {
    const uids = Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
    for (const uid of uids) this.addMeter({ ...spec, uid });
    return uids;
  }

  meterStatus(uid: string): string | undefined {
    return this.meters.get(uid)?.status;
  }

  reset(): void {
    this.server.reset();
    this.meters.clear();
    this.collections.length = 0;
    this.balanceEmpty = false;
    this.meterPageSize = 1000;
    this.intervalPageSize = 2;
    this.nextStyle = 'absolute';
  }

  private historicalCollection(request: RecordedRequest): FakeResponse {
    let body: unknown;
    try {
      body = JSON.parse(request.body);
    } catch {
      return refusal('invalid_param', 'The POST body must be a valid JSON object.');
    }
    const { meters, collection_duration: duration } = (body ?? {}) as { meters?: unknown; collection_duration?: unknown };
    if (meters === undefined) return refusal('required_param_missing', 'Missing the meters list.');
    if (!Array.isArray(meters) || meters.length === 0 || !meters.every((m) => typeof m === 'string')) {
      return refusal('invalid_param', 'Values in the meters list are invalid.');
    }
    if (duration !== undefined && (!Number.isInteger(duration) || (duration as number) < 1 || (duration as number) > 36)) {
      return refusal('invalid_param', 'collection_duration must be an integer from 1 to 36.');
    }
    const known = (meters as string[]).filter((uid) => this.meters.has(uid));
    if (known.length === 0) return { status: 404, body: { error: 'None of the meters were found' } };
    if (this.balanceEmpty) return { status: 402, body: { error: 'Payment required: your pre-paid balance is empty' } };
    const active = known.filter((uid) => !this.meters.get(uid)!.revoked && !this.meters.get(uid)!.expired);
    if (active.length === 0) return refusal('expired_or_revoked', 'All of the Authorizations for these meters are expired, so nothing can be collected.');
    for (const uid of active) {
      const meter = this.meters.get(uid)!;
      meter.status = (meter.pollsUntilDone ?? 0) > 0 ? 'pending' : meter.finalStatus ?? 'updated';
      meter.polls = 0;
      if (meter.status !== 'pending') meter.notes = [...(meter.notesWhenDone ?? [])];
    }
    this.collections.push({ meters: meters as string[], collectionDuration: duration as number | undefined });
    return { body: { success: true, meters: active, collection_duration: (duration as number | undefined) ?? 12 } };
  }

  /** Reading a pending meter's status is what moves its collection along. */
  private read(meter: FakeMeter): Meter {
    if (meter.status === 'pending') {
      meter.polls += 1;
      if (meter.polls > (meter.pollsUntilDone ?? 0)) {
        meter.status = meter.finalStatus ?? 'updated';
        meter.notes = [...(meter.notesWhenDone ?? [])];
      }
    }
    return {
      uid: meter.uid,
      authorization_uid: 'auth-1',
      created: '2024-01-01T00:00:00.000000+00:00',
      status: meter.status,
      status_message: meter.status === 'pending' ? `Found bill ${meter.polls} of 13! Parsing...` : 'Finished collecting.',
      status_ts: '2024-03-01T00:00:00.000000+00:00',
      is_activated: true,
      notes: meter.notes,
      utility: 'DEMO',
    };
  }

  private getMeter(uid: string): FakeResponse {
    const meter = this.meters.get(uid);
    if (!meter) return { status: 404, body: { error: 'Meter not found' } };
    return { body: this.read(meter) };
  }

  /** The `next` link to the page after `lastUid`, with the request's own filters, written in the current style. */
  private nextLink(request: RecordedRequest, route: string, lastUid: string): string {
    const params = new URLSearchParams(request.query);
    params.set('after', lastUid);
    const query = params.toString();
    if (this.nextStyle === 'path') return `/api/v2/${route}?${query}`;
    if (this.nextStyle === 'relative') return `${route}?${query}`;
    return `${this.baseUrl}/${route}?${query}`;
  }

  private listMeters(request: RecordedRequest): FakeResponse {
    const filter = request.query.get('uids');
    const wanted = filter ? filter.split(',').filter(Boolean) : [...this.meters.keys()];
    const matching = wanted.map((uid) => this.meters.get(uid)).filter((m): m is FakeMeter => m !== undefined);
    const after = request.query.get('after');
    const from = after ? matching.findIndex((m) => m.uid === after) + 1 : 0;
    const slice = matching.slice(from, from + this.meterPageSize);
    const more = from + this.meterPageSize < matching.length;
    return { body: { meters: slice.map((m) => this.read(m)), next: more ? this.nextLink(request, 'meters', slice.at(-1)!.uid) : null } };
  }

  /** Without allow_mixed, only the meter's main interval length is listed (support.utilityapi.com, "mixed interval data"). */
  private listIntervals(request: RecordedRequest): FakeResponse {
    const meterUids = request.query.get('meters');
    if (!meterUids && !request.query.get('authorizations')) {
      return { status: 400, body: { error: 'You must filter by meters or authorizations' } };
    }
    const start = filterInstant(request.query.get('start'));
    const end = filterInstant(request.query.get('end'));
    if (Number.isNaN(start) || Number.isNaN(end)) return refusal('invalid_param', 'start and end must be ISO 8601 or YYYY-MM-DD.');
    const allowMixed = request.query.get('allow_mixed') === 'true';
    const latestFirst = request.query.get('order') !== 'earliest_first';
    const after = request.query.get('after');
    const page: IntervalBlock[] = [];
    let passedCursor = !after;
    let more = false;
    for (const uid of (meterUids ?? '').split(',')) {
      const meter = this.meters.get(uid);
      if (!meter) continue;
      const source = blockSource(meter);
      const main = mainLength(source);
      for (let n = 0; n < source.count; n += 1) {
        const index = latestFirst ? source.count - 1 - n : n;
        const span = source.span(index);
        if ((start !== undefined && span.start < start) || (end !== undefined && span.end > end) || (!allowMixed && span.minutes !== main)) continue;
        if (!passedCursor) {
          passedCursor = source.uid(index) === after;
          continue;
        }
        if (page.length === this.intervalPageSize) {
          more = true;
          break;
        }
        page.push(source.block(index));
      }
      if (more) break;
    }
    return { body: { intervals: page, next: more ? this.nextLink(request, 'intervals', String(page.at(-1)!.uid)) : null } };
  }
}

/** The interval length most of a meter's Interval objects have. */
function mainLength(source: BlockSource): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < source.count; i += 1) {
    const minutes = source.span(i).minutes;
    counts.set(minutes, (counts.get(minutes) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 15;
}
