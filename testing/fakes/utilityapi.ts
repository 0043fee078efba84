/**
 * A local UtilityAPI v2 implementing the parts of the contract the utilityapi nodes use
 * (service-contracts.md §2, seed 003): Bearer tokens, POST /meters/historical-collection with
 * its silent dropping of revoked/expired meters and its 400/402/404 answers, meters that stay
 * `pending` for a number of status reads, and /intervals pages linked by absolute `next` URLs.
 * Rate limits and server errors come from FakeServer's switchable failures.
 */
import { FakeServer, RecordedRequest, FakeResponse } from '../fake-server';
import { toIsoWithOffset } from '../../src/core/readings';
import type { IntervalBlock, IntervalReading, Meter, MeterNote } from '../../src/core/utilityapi/types';

export const UTILITYAPI_TEST_TOKEN = 'uapi-token-3c8e1f0a9b7d6c5e4f3a';

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
  /** Interval objects for GET /intervals; default: generated 15-minute readings. */
  blocks?: IntervalBlock[];
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

/** `count` Interval objects of `readingsPerBlock` quarter-hours each, in a -08:00 utility, as UtilityAPI writes them. */
export function generateBlocks(meterUid: string, count: number, readingsPerBlock: number, startMs = Date.UTC(2024, 1, 1, 8)): IntervalBlock[] {
  const stamp = (ms: number): string => toIsoWithOffset(ms, -480).replace(/([+-]\d{2}:\d{2})$/, '.000000$1');
  const blocks: IntervalBlock[] = [];
  let at = startMs;
  for (let b = 0; b < count; b += 1) {
    const readings: IntervalReading[] = [];
    for (let r = 0; r < readingsPerBlock; r += 1) {
      const kwh = Math.round((0.2 + ((b * readingsPerBlock + r) % 10) * 0.05) * 1000) / 1000;
      readings.push({ start: stamp(at), end: stamp(at + 15 * 60_000), kwh, datapoints: [{ type: 'net', unit: 'kwh', value: kwh }] });
      at += 15 * 60_000;
    }
    blocks.push({ uid: `${meterUid}-iv${b + 1}`, meter_uid: meterUid, authorization_uid: 'auth-1', utility: 'DEMO', blocks: ['base', 'readings'], readings });
  }
  return blocks;
}

export class FakeUtilityApi {
  readonly server = new FakeServer();
  token = UTILITYAPI_TEST_TOKEN;
  /** The pre-paid balance is empty: historical-collection answers 402. */
  balanceEmpty = false;
  /** Meters per GET /meters page (UtilityAPI: 1000). */
  meterPageSize = 1000;
  /** Interval objects per GET /intervals page. */
  intervalPageSize = 2;
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
  }

  private historicalCollection(request: RecordedRequest): FakeResponse {
    let body: unknown;
    try {
      body = JSON.parse(request.body);
    } catch {
      return { status: 400, body: { error: 'The POST body must be a valid JSON object.' } };
    }
    const { meters, collection_duration: duration } = (body ?? {}) as { meters?: unknown; collection_duration?: unknown };
    if (!Array.isArray(meters) || meters.length === 0 || !meters.every((m) => typeof m === 'string')) {
      return { status: 400, body: { error: 'meters must be a non-empty list of meter uid strings' } };
    }
    if (duration !== undefined && (!Number.isInteger(duration) || (duration as number) < 1 || (duration as number) > 36)) {
      return { status: 400, body: { error: 'collection_duration must be an integer from 1 to 36' } };
    }
    const known = (meters as string[]).filter((uid) => this.meters.has(uid));
    if (known.length === 0) return { status: 404, body: { error: 'None of the meters were found' } };
    if (this.balanceEmpty) return { status: 402, body: { error: 'Payment required: your pre-paid balance is empty' } };
    const active = known.filter((uid) => !this.meters.get(uid)!.revoked && !this.meters.get(uid)!.expired);
    if (active.length === 0) return { status: 400, body: { error: 'All meters are revoked or expired' } };
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

  private listMeters(request: RecordedRequest): FakeResponse {
    const filter = request.query.get('uids');
    const wanted = filter ? filter.split(',').filter(Boolean) : [...this.meters.keys()];
    const matching = wanted.map((uid) => this.meters.get(uid)).filter((m): m is FakeMeter => m !== undefined);
    const page = Number(request.query.get('page') ?? 1);
    const slice = matching.slice((page - 1) * this.meterPageSize, page * this.meterPageSize);
    const more = page * this.meterPageSize < matching.length;
    const next = more ? `${this.baseUrl}/meters?${new URLSearchParams({ ...(filter ? { uids: filter } : {}), page: String(page + 1) })}` : null;
    return { body: { meters: slice.map((m) => this.read(m)), next } };
  }

  private listIntervals(request: RecordedRequest): FakeResponse {
    const meterUids = request.query.get('meters');
    if (!meterUids && !request.query.get('authorizations')) {
      return { status: 400, body: { error: 'You must filter by meters or authorizations' } };
    }
    const blocks = (meterUids ?? '').split(',').flatMap((uid) => {
      const meter = this.meters.get(uid);
      return meter ? meter.blocks ?? generateBlocks(uid, 3, 4) : [];
    });
    if (request.query.get('order') !== 'earliest_first') blocks.reverse();
    const page = Number(request.query.get('page') ?? 1);
    const slice = blocks.slice((page - 1) * this.intervalPageSize, page * this.intervalPageSize);
    const more = page * this.intervalPageSize < blocks.length;
    const params = new URLSearchParams(request.query);
    params.set('page', String(page + 1));
    return { body: { intervals: slice, next: more ? `${this.baseUrl}/intervals?${params}` : null } };
  }
}
