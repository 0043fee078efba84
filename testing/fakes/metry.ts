/**
 * A local Metry API v2 implementing the contract the metry nodes rely on (service-contracts §1):
 * Bearer tokens (401 otherwise), envelopes with code/message and count/skip/limit, 50 items per
 * page whatever `limit` says, the documented meter filters (unknown parameters are ignored as the
 * real API does), subaccounts, single and multi consumption with Metry's period syntax read in
 * the meter's own time zone, `+0000` dates, `null` for missing values, the 100,000-values limit
 * (400), 403 for meters the user removed, 414 for a URL longer than a web server takes, an
 * optional requests-per-second limit (429; a token bucket, or a strict sliding one-second
 * window) and latency. Failures (5xx, 429, hangs) come from FakeServer's switchable failures.
 *
 * The nasty parts of a live account: the meter list can change between two pages of a listing
 * (`beforeListPage` with `insertMeterAtFront` / `removeMeter`; Metry pages by position, so the
 * rest shifts), and values can arrive late or be corrected (`isNull` and `correct` are read on
 * every request).
 *
 * Meters are generated on demand from specs, so 10,000 of them cost no memory. Local-time
 * arithmetic here is deliberately written differently from the package's (a scan over UTC
 * instants), so the two check each other.
 */
import { FakeServer, FakeResponse, RecordedRequest } from '../fake-server';

export const METRY_TEST_TOKEN = 'metry-token-7d1c9a2b3e4f5a6b7c8d';
export const PAGE_SIZE = 50;
export const MAX_VALUES = 100_000;

type Granularity = 'month' | 'day' | 'hour';

export interface FakeMeterSpec {
  name?: string;
  ean?: string;
  address?: unknown;
  tags?: string[];
  type?: string;
  timezone?: string;
  box?: string;
  revoked?: boolean;
  /** The subaccount that assigned it (`assigner._id`). */
  subaccount?: string;
  treeNodes?: string[];
  metrics?: string[];
  granularities?: Granularity[];
  /** Data exists from this instant (ISO) … */
  dataFrom?: string;
  /** … until this instant (exclusive). */
  dataUntil?: string;
  /** Slots reported as missing (`null`) inside the data range. */
  isNull?: (metric: string, granularity: Granularity, slotStartMs: number) => boolean;
  /** The user removed the meter: consumption answers 403. */
  forbidden?: boolean;
  /** A value Metry corrected: returned instead of the generated one when it gives a number. */
  correct?: (metric: string, granularity: Granularity, slotStartMs: number) => number | undefined;
}

interface MeterGroup {
  first: number;
  count: number;
  spec: (index: number) => FakeMeterSpec;
}

export interface FakeSubaccount {
  _id: string;
  name: string;
  custom_identifier?: string | null;
}

const HOUR = 3_600_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function wallClock(ms: number, tz: string): number[] {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    formatters.set(tz, f);
  }
  const parts = f.formatToParts(new Date(ms));
  const get = (t: string): number => Number(parts.find((p) => p.type === t)!.value);
  return [get('year'), get('month'), get('day'), get('hour'), get('minute')];
}

const wallCache = new Map<string, number>();
/** The first instant whose wall clock in `tz` is at or after the given local time (scans 15-minute steps). */
function localStart(y: number, mo: number, d: number, h: number, tz: string): number {
  const key = `${tz}|${y}|${mo}|${d}|${h}`;
  const cached = wallCache.get(key);
  if (cached !== undefined) return cached;
  const target = Date.UTC(y, mo - 1, d, h);
  for (let t = target - 15 * HOUR; t <= target + 15 * HOUR; t += 15 * 60_000) {
    const [yy, mm, dd, hh, mi] = wallClock(t, tz);
    if (Date.UTC(yy, mm - 1, dd, hh, mi) >= target) {
      wallCache.set(key, t);
      return t;
    }
  }
  throw new Error(`no instant for ${key}`);
}

interface Point {
  y: number;
  mo: number;
  d: number;
  h: number;
  precision: 'year' | Granularity;
}

function parsePoint(text: string): Point | undefined {
  if (!/^\d{4}(\d{2}){0,3}$/.test(text)) return undefined;
  const n = (a: number, b: number, fallback: number): number => (text.length >= b ? Number(text.slice(a, b)) : fallback);
  const precision = ({ 4: 'year', 6: 'month', 8: 'day', 10: 'hour' } as const)[text.length as 4 | 6 | 8 | 10];
  const point = { y: n(0, 4, 0), mo: n(4, 6, 1), d: n(6, 8, 1), h: n(8, 10, 0), precision };
  if (point.mo < 1 || point.mo > 12 || point.d < 1 || point.d > 31 || point.h > 23) return undefined;
  return point;
}

function pointEnd(p: Point): Point {
  switch (p.precision) {
    case 'year':
      return { ...p, y: p.y + 1, mo: 1, d: 1, h: 0 };
    case 'month':
      return p.mo === 12 ? { ...p, y: p.y + 1, mo: 1, d: 1, h: 0 } : { ...p, mo: p.mo + 1, d: 1, h: 0 };
    case 'day': {
      const next = new Date(Date.UTC(p.y, p.mo - 1, p.d + 1));
      return { ...p, y: next.getUTCFullYear(), mo: next.getUTCMonth() + 1, d: next.getUTCDate(), h: 0 };
    }
    case 'hour':
      return { ...p, h: p.h + 1 };
  }
}

/** Slot start instants of a period (Metry syntax, one range) at a granularity, in `tz`. */
export function fakeSlots(period: string, granularity: Granularity, tz: string): number[] | undefined {
  const [a, b, extra] = period.split('-');
  if (extra !== undefined) return undefined;
  const from = parsePoint(a);
  const to = b ? parsePoint(b) : from;
  if (!from || !to) return undefined;
  // A period finer than the granularity means the slot containing it.
  const snap = (p: Point): Point => ({ ...p, mo: granularity === 'month' && p.precision === 'year' ? 1 : p.mo, d: granularity === 'month' ? 1 : p.d, h: granularity === 'hour' ? p.h : 0 });
  const startLocal = snap(from);
  let end = pointEnd(to);
  if (end.h === 24) {
    const next = new Date(Date.UTC(end.y, end.mo - 1, end.d + 1));
    end = { ...end, y: next.getUTCFullYear(), mo: next.getUTCMonth() + 1, d: next.getUTCDate(), h: 0 };
  }
  const startMs = localStart(startLocal.y, startLocal.mo, startLocal.d, startLocal.h, tz);
  const endMs = localStart(end.y, end.mo, end.d, end.h, tz);
  if (endMs <= startMs) return undefined;
  const slots: number[] = [];
  if (granularity === 'hour') {
    for (let t = startMs; t < endMs; t += HOUR) slots.push(t);
    return slots;
  }
  let { y, mo, d } = startLocal;
  for (;;) {
    const t = localStart(y, mo, d, 0, tz);
    if (t >= endMs) break;
    slots.push(t);
    if (granularity === 'month') {
      mo += 1;
      if (mo > 12) {
        mo = 1;
        y += 1;
      }
    } else {
      const next = new Date(Date.UTC(y, mo - 1, d + 1));
      y = next.getUTCFullYear();
      mo = next.getUTCMonth() + 1;
      d = next.getUTCDate();
    }
  }
  return slots;
}

/** `2024-03-30T23:00:00+0000`, as Metry writes instants. */
export function metryDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+0000');
}

function periodIdOf(ms: number, granularity: Granularity, tz: string): string {
  const [y, mo, d, h] = wallClock(ms, tz);
  const p = (n: number): string => String(n).padStart(2, '0');
  return granularity === 'month' ? `${y}${p(mo)}` : granularity === 'day' ? `${y}${p(mo)}${p(d)}` : `${y}${p(mo)}${p(d)}${p(h)}`;
}

/** A deterministic value per meter, metric and slot, so tests can check what arrived. */
export function fakeValue(meterIndex: number, metric: string, granularity: Granularity, slotStartMs: number): number {
  const scale = granularity === 'month' ? 300 : granularity === 'day' ? 10 : 0.5;
  const seed = (meterIndex * 31 + metric.length * 7 + Math.floor(slotStartMs / HOUR)) % 97;
  return Math.round((1 + seed / 97) * scale * 1000) / 1000;
}

export class FakeMetry {
  readonly server = new FakeServer();
  token = METRY_TEST_TOKEN;
  readonly subaccounts: FakeSubaccount[] = [];
  /** Requests per second allowed (token bucket of that size); 0 = unlimited. */
  rateLimit = 0;
  /** With `rateLimit`: refuse a request when `rateLimit` were accepted in the second before it (no burst credit). */
  strictWindow = false;
  rateLimited = 0;
  /** Longest request URL (path and query) answered; longer ones get 414, as web servers do. */
  maxUrlLength = 8192;
  /** Called before a page of `GET /meters` is served, with its `skip`: change the list here. */
  beforeListPage?: (skip: number) => void;
  private groups: MeterGroup[] = [];
  private total = 0;
  private bucket = 0;
  private bucketAt = 0;
  private readonly accepted: number[] = [];
  /** Meters listed first, newest first (added at the front of the listing). */
  private front: number[] = [];
  private readonly removed = new Set<number>();

  constructor() {
    this.server.authCheck = (request) => {
      const urlLength = request.path.length + (request.query.size > 0 ? 1 + request.query.toString().length : 0);
      if (urlLength > this.maxUrlLength) return { status: 414, body: 'URI Too Long' };
      if (request.headers.authorization !== `Bearer ${this.token}`) return { status: 401, body: { code: 401, message: 'Unauthorized' } };
      return this.takeToken();
    };
    const base = '/api/v2';
    this.server.on('GET', `${base}/meters`, (request) => this.listMeters(request));
    this.server.on('GET', `${base}/meters/:id`, (_request, [id]) => this.getMeter(id));
    this.server.on('GET', `${base}/accounts/me`, () => ok({ _id: 'acc0000000000000000000001', name: 'Fake Metry account' }));
    this.server.on('GET', `${base}/accounts/me/subaccounts`, (request) => this.page(request, this.subaccounts));
    this.server.on('GET', `${base}/consumptions/multi/:granularity/:period`, (request, [g, period]) => {
      const ids = (request.query.get('meters') ?? '').split(',').filter(Boolean);
      return this.consumption(ids, g, period, request);
    });
    this.server.on('GET', `${base}/consumptions/:id/:granularity/:period`, (request, [id, g, period]) => this.consumption([id], g, period, request));
  }

  async start(): Promise<this> {
    await this.server.start();
    return this;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  get baseUrl(): string {
    return `${this.server.url}/api/v2`;
  }

  set latencyMs(ms: number) {
    this.server.latencyMs = ms;
  }

  /** Adds `count` meters; `spec` may depend on the meter's index. Returns the first index. */
  addMeters(count: number, spec: FakeMeterSpec | ((index: number) => FakeMeterSpec) = {}): number {
    const first = this.total;
    this.groups.push({ first, count, spec: typeof spec === 'function' ? spec : () => spec });
    this.total += count;
    return first;
  }

  clearMeters(): void {
    this.groups = [];
    this.total = 0;
    this.front = [];
    this.removed.clear();
    this.beforeListPage = undefined;
  }

  /** Adds a meter that lists before all others (a new meter Metry sorts first). Returns its index. */
  insertMeterAtFront(spec: FakeMeterSpec = {}): number {
    const index = this.addMeters(1, spec);
    this.front.unshift(index);
    return index;
  }

  /** The user trashes a meter: it leaves the listing and its consumption answers 403. */
  removeMeter(index: number): void {
    this.removed.add(index);
  }

  /** Meter indexes in listing order, lazily when the list never changed (10,000 meters cost nothing). */
  private listingOrder(): { count: number; at: (position: number) => number } {
    if (this.front.length === 0 && this.removed.size === 0) return { count: this.total, at: (i) => i };
    const first = new Set(this.front);
    const order = [...this.front, ...Array.from({ length: this.total }, (_, i) => i).filter((i) => !first.has(i))].filter((i) => !this.removed.has(i));
    return { count: order.length, at: (i) => order[i] };
  }

  get meterCount(): number {
    return this.total;
  }

  /** `root._id` of meter `index`. */
  static rootId(index: number): string {
    return `65a0${index.toString(16).padStart(20, '0')}`;
  }

  static refId(index: number): string {
    return `65b0${index.toString(16).padStart(20, '0')}`;
  }

  static indexOf(id: string): number | undefined {
    const match = /^65[ab]0([0-9a-f]{20})$/.exec(id);
    return match ? parseInt(match[1], 16) : undefined;
  }

  specAt(index: number): FakeMeterSpec | undefined {
    const group = this.groups.find((g) => index >= g.first && index < g.first + g.count);
    return group?.spec(index);
  }

  /** The meter object as Metry sends it. */
  meterAt(index: number): Record<string, unknown> | undefined {
    const spec = this.specAt(index);
    if (!spec) return undefined;
    const tz = spec.timezone ?? 'Europe/Stockholm';
    const metrics = spec.metrics ?? ['energy'];
    const granularities = spec.granularities ?? ['month', 'day', 'hour'];
    const from = Date.parse(spec.dataFrom ?? '2023-01-01T00:00:00+01:00');
    const until = Date.parse(spec.dataUntil ?? '2024-01-01T00:00:00+01:00');
    const stats: Record<string, Record<string, unknown>> = {};
    for (const metric of metrics) {
      stats[metric] = {};
      for (const g of ['month', 'day', 'hour'] as const) {
        if (!granularities.includes(g)) {
          stats[metric][g] = { count: 0, sum: null, min: null, max: null, first: null, last: null };
          continue;
        }
        // The slot containing the first instant, and the last slot that has ended by `until`.
        const firstId = periodIdOf(from, g, tz);
        const lastStart = fakeSlots(periodIdOf(until - 1, g, tz), g, tz)![0];
        const lastComplete = nextSlotEnd([lastStart], g, tz) <= until ? lastStart : fakeSlots(periodIdOf(lastStart - 1, g, tz), g, tz)![0];
        const lastId = periodIdOf(lastComplete, g, tz);
        stats[metric][g] = { count: 1, sum: 1, min: 0, max: 1, first: Number(firstId), last: Number(lastId) };
      }
    }
    return {
      _id: FakeMetry.refId(index),
      root: { _id: FakeMetry.rootId(index), holder: { _id: 'utility00000000000000001', name: 'Utility' } },
      name: spec.name ?? `Meter ${index}`,
      ean: spec.ean ?? `7359992${String(index).padStart(11, '0')}`,
      address: spec.address ?? { street: `Storgatan ${index + 1}`, zip: '111 22', city: 'Stockholm' },
      tags: spec.tags ?? [],
      type: spec.type ?? 'electricity',
      metrics,
      timezone: tz,
      box: spec.box ?? 'active',
      revoked: spec.revoked ?? false,
      assigner: spec.subaccount ? { _id: spec.subaccount, name: 'Subaccount' } : null,
      active_box_tree_paths: (spec.treeNodes ?? []).map((id) => [id]),
      control_level: 'owned',
      generation: 0,
      consumption_stats: stats,
    };
  }

  /** The value the fake serves for a slot, or null. */
  valueAt(index: number, metric: string, granularity: Granularity, slotStartMs: number): number | null {
    const spec = this.specAt(index);
    return spec ? this.valueFor(spec, index)(metric, granularity, slotStartMs) : null;
  }

  /** A value function for one meter, with its spec read once (a request asks for up to 100,000 values). */
  private valueFor(spec: FakeMeterSpec, index: number): (metric: string, granularity: Granularity, slotStartMs: number) => number | null {
    const metrics = spec.metrics ?? ['energy'];
    const granularities = spec.granularities ?? ['month', 'day', 'hour'];
    const from = Date.parse(spec.dataFrom ?? '2023-01-01T00:00:00+01:00');
    const until = Date.parse(spec.dataUntil ?? '2024-01-01T00:00:00+01:00');
    const tz = spec.timezone ?? 'Europe/Stockholm';
    return (metric, granularity, slotStartMs) => {
      if (!metrics.includes(metric) || !granularities.includes(granularity)) return null;
      if (slotStartMs < from || nextSlotEnd([slotStartMs], granularity, tz) > until) return null;
      if (spec.isNull?.(metric, granularity, slotStartMs)) return null;
      return spec.correct?.(metric, granularity, slotStartMs) ?? fakeValue(index, metric, granularity, slotStartMs);
    };
  }

  private takeToken(): FakeResponse | undefined {
    if (this.rateLimit <= 0) return undefined;
    const now = Date.now();
    if (this.strictWindow) {
      while (this.accepted.length > 0 && this.accepted[0] <= now - 1000) this.accepted.shift();
      if (this.accepted.length >= this.rateLimit) {
        this.rateLimited += 1;
        return { status: 429, body: { code: 429, message: 'Too many requests' } };
      }
      this.accepted.push(now);
      return undefined;
    }
    this.bucket = Math.min(this.rateLimit, this.bucket + ((now - this.bucketAt) / 1000) * this.rateLimit);
    if (this.bucketAt === 0) this.bucket = this.rateLimit;
    this.bucketAt = now;
    if (this.bucket < 1) {
      this.rateLimited += 1;
      return { status: 429, body: { code: 429, message: 'Too many requests' } };
    }
    this.bucket -= 1;
    return undefined;
  }

  private page<T>(request: RecordedRequest, items: readonly T[] | { count: number; at: (i: number) => T }): FakeResponse {
    const skip = Math.max(0, Number(request.query.get('skip') ?? 0) || 0);
    const count = Array.isArray(items) ? items.length : (items as { count: number }).count;
    const at = Array.isArray(items) ? (i: number) => items[i] : (items as { at: (i: number) => T }).at;
    const data: T[] = [];
    for (let i = skip; i < Math.min(count, skip + PAGE_SIZE); i += 1) data.push(at(i));
    return ok(data, { count, skip, limit: PAGE_SIZE });
  }

  private listMeters(request: RecordedRequest): FakeResponse {
    this.beforeListPage?.(Math.max(0, Number(request.query.get('skip') ?? 0) || 0));
    const q = request.query;
    const filters: ((spec: FakeMeterSpec, index: number) => boolean)[] = [];
    if (q.has('box')) filters.push((s) => (s.box ?? 'active') === q.get('box'));
    if (q.has('revoked')) filters.push((s) => String(s.revoked ?? false) === q.get('revoked'));
    if (q.has('type')) filters.push((s) => (s.type ?? 'electricity') === q.get('type'));
    if (q.has('ean')) filters.push((s, i) => (s.ean ?? `7359992${String(i).padStart(11, '0')}`) === q.get('ean'));
    if (q.has('tags')) filters.push((s) => (s.tags ?? []).includes(q.get('tags')!));
    if (q.has('assigner._id')) filters.push((s) => s.subaccount === q.get('assigner._id'));
    if (q.has('tree_structure_ids')) filters.push((s) => (s.treeNodes ?? []).includes(q.get('tree_structure_ids')!));
    // Any other parameter is ignored, as Metry does.
    const order = this.listingOrder();
    if (filters.length === 0) return this.page(request, { count: order.count, at: (i) => this.meterAt(order.at(i))! });
    const matching: number[] = [];
    for (let position = 0; position < order.count; position += 1) {
      const i = order.at(position);
      const spec = this.specAt(i)!;
      if (filters.every((f) => f(spec, i))) matching.push(i);
    }
    return this.page(request, { count: matching.length, at: (i) => this.meterAt(matching[i])! });
  }

  private getMeter(id: string): FakeResponse {
    const index = FakeMetry.indexOf(id);
    const meter = index === undefined ? undefined : this.meterAt(index);
    if (!meter) return { status: 404, body: { code: 404, message: 'Resource not found' } };
    if (this.specAt(index!)!.forbidden || this.removed.has(index!)) return { status: 403, body: { code: 403, message: 'Forbidden' } };
    return ok(meter);
  }

  private consumption(ids: string[], granularity: string, period: string, request: RecordedRequest): FakeResponse {
    if (granularity !== 'month' && granularity !== 'day' && granularity !== 'hour') return bad(`Invalid granularity ${granularity}`);
    if (ids.length === 0) return bad('No meters given');
    const metrics = (request.query.get('metrics') ?? 'energy').split(',').filter(Boolean);
    const specs = ids.map((id) => ({ id, index: FakeMetry.indexOf(id) }));
    for (const { index } of specs) {
      if (index === undefined || !this.specAt(index)) return { status: 404, body: { code: 404, message: 'Resource not found' } };
      if (this.specAt(index)!.forbidden || this.removed.has(index)) return { status: 403, body: { code: 403, message: 'Forbidden' } };
    }
    const perMeter = specs.map(({ id, index }) => {
      const tz = this.specAt(index!)!.timezone ?? 'Europe/Stockholm';
      const ranges = period.split('+').map((range) => fakeSlots(range, granularity, tz));
      return { id, index: index!, tz, ranges };
    });
    if (perMeter.some((m) => m.ranges.some((r) => r === undefined))) return bad(`Invalid period ${period}`);
    const values = perMeter.reduce((sum, m) => sum + m.ranges.reduce((s, r) => s + r!.length, 0) * metrics.length, 0);
    if (values > MAX_VALUES) return bad(`Too many values requested (${values}); the limit is ${MAX_VALUES}`);
    const data = perMeter.map(({ id, index, tz, ranges }) => {
      const valueAt = this.valueFor(this.specAt(index)!, index);
      const periods = ranges.map((slots) => {
        const periodData: Record<string, unknown> = {
          start_date: metryDate(slots![0]),
          end_date: metryDate(nextSlotEnd(slots!, granularity, tz) - 1000),
        };
        for (const metric of metrics) periodData[metric] = slots!.map((slot) => valueAt(metric, granularity, slot));
        return periodData;
      });
      return { meter_id: id, periods };
    });
    return ok(data);
  }

  /** Requests to consumption endpoints, parsed: which meters, granularity and period each asked for. */
  consumptionRequests(): { multi: boolean; meters: string[]; granularity: string; period: string; metrics: string[] }[] {
    return this.server.requestsTo(/\/consumptions\//).map((r) => {
      const multi = /\/consumptions\/multi\//.test(r.path);
      const parts = r.path.split('/');
      const [granularity, period] = parts.slice(-2);
      const meters = multi ? (r.query.get('meters') ?? '').split(',') : [parts[parts.length - 3]];
      return { multi, meters, granularity, period, metrics: (r.query.get('metrics') ?? 'energy').split(',') };
    });
  }
}

function nextSlotEnd(slots: number[], granularity: Granularity, tz: string): number {
  const last = slots[slots.length - 1];
  if (granularity === 'hour') return last + HOUR;
  const [y, mo, d] = wallClock(last, tz);
  if (granularity === 'month') return mo === 12 ? localStart(y + 1, 1, 1, 0, tz) : localStart(y, mo + 1, 1, 0, tz);
  const next = new Date(Date.UTC(y, mo - 1, d + 1));
  return localStart(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), 0, tz);
}

function ok(data: unknown, extra: Record<string, unknown> = {}): FakeResponse {
  return { body: { code: 200, message: 'OK', ...extra, data } };
}

function bad(message: string): FakeResponse {
  return { status: 400, body: { code: 400, message } };
}
