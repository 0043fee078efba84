/**
 * More of Metry's API on top of FakeMetry, from the Metry API Blueprint (metry-io/api-documentation
 * apiary.apib; service-contracts §1.4):
 *
 * - `GET /costs/{id}/month/{period}?metrics=…`: month values only; metrics `retail_*`/`grid_*`,
 *   default `retail_total,grid_total`; the entry carries `account_id`, `meter_id`, `currency`;
 *   periods with `start_date`/`end_date` in UTC (`+0000`) and `null` for missing months, as consumption.
 * - `GET /readings/{meter_id}/{period}?metrics=…`: timestamped register values `{time, value,
 *   status, counter}` with status `recorded`, `interpolated` or `meter_change`, and the entry's
 *   `readings_blocked` flag (Metry found an anomaly; values are still returned, importing them
 *   "should be avoided"). Times are written with the meter's local offset without a colon.
 * - `GET /trees?parent=null|{id}`: tree nodes, 50 a page, with `custom_identifier`.
 * - `GET /consumptions/{tree_node_id}/{granularity}/{period}`: the sum over the node's meters in
 *   box `active` (the Blueprint's "Tree Node" request), answered with `tree_id` instead of `meter_id`.
 * - OAuth2 (`/oauth/authorize`, `/oauth/token` on the API's host) through FakeOAuth2, whose access
 *   tokens the API then accepts next to the private token.
 *
 * FakeMetry's routes stay as they are; this file plugs into its server.
 */
import { FakeMetry, fakeSlots, metryDate, PAGE_SIZE } from './metry';
import { FakeOAuth2 } from './oauth2';
import type { FakeResponse, RecordedRequest } from '../fake-server';
import type { Clock } from '../../src/core/runtime/clock';

type Granularity = 'month' | 'day' | 'hour';
const HOUR = 3_600_000;

export const FAKE_COST_METRICS = [
  'retail_subscription',
  'retail_usage',
  'retail_undefined',
  'retail_total',
  'grid_subscription',
  'grid_subscription_power',
  'grid_subscription_return_temperature',
  'grid_subscription_flow',
  'grid_usage',
  'grid_undefined',
  'grid_total',
];

export interface FakeTreeNode {
  _id: string;
  name: string;
  parent: string | null;
  custom_identifier?: string | null;
  /** Indices of FakeMetry meters on this node. */
  meters: number[];
}

/** `+0200`: the offset of `tz` at `ms`, computed from Intl's wall clock (not the package's arithmetic). */
function offsetText(ms: number, tz: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(ms));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)!.value);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  const minutes = Math.round((wall - ms) / 60_000);
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
}

/** `2024-03-31T04:00:00+0200`, the meter's local time as Metry writes reading times. */
export function localMetryTime(ms: number, tz: string): string {
  const offset = offsetText(ms, tz);
  const minutes = (offset.startsWith('-') ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(3)));
  return `${new Date(ms + minutes * 60_000).toISOString().slice(0, 19)}${offset}`;
}

/** A deterministic monthly cost, so tests can check what arrived. */
export function fakeCost(meterIndex: number, metric: string, slotStartMs: number): number {
  return Math.round((100 + ((meterIndex * 13 + metric.length * 5 + Math.floor(slotStartMs / HOUR / 24)) % 400)) * 100) / 100;
}

/** The register at a UTC hour: a counter that only grows. */
export function fakeRegister(meterIndex: number, metric: string, ms: number): number {
  return Math.round((10_000 * (meterIndex + 1) + metric.length + (ms - Date.UTC(2020, 0, 1)) / HOUR * 0.75) * 1000) / 1000;
}

export class FakeMetryExtras {
  readonly treeNodes: FakeTreeNode[] = [];
  /** Meter indices whose readings Metry has blocked after an anomaly. */
  readonly blockedReadings = new Set<number>();
  /** The instant of a meter change: the reading there has status `meter_change`. */
  meterChangeAt?: number;
  currency = 'SEK';
  /** Readings every this many hours (UTC), plus one at every local midnight, interpolated. */
  readingEveryHours = 6;
  oauth?: FakeOAuth2;

  constructor(readonly metry: FakeMetry) {
    const base = '/api/v2';
    metry.server.on('GET', `${base}/costs/:id/:granularity/:period`, (request, [id, granularity, period]) => this.costs(id, granularity, period, request));
    metry.server.on('GET', `${base}/readings/:id/:period`, (request, [id, period]) => this.readings(id, period, request));
    metry.server.on('GET', `${base}/trees`, (request) => this.trees(request));
    const original = metry.server.authCheck;
    // Runs before routing: FakeMetry's consumption route (registered first) answers 404 for any id
    // that is not one of its meters, so tree-node consumption is answered here; and the OAuth
    // endpoints need no Bearer token while the API accepts OAuth access tokens too.
    metry.server.authCheck = (request) => {
      if (request.path.startsWith('/oauth/')) return undefined;
      const viaOAuth = this.oauth && this.oauth.checkBearer(request) === undefined;
      // A valid OAuth token stands in for the private token, so FakeMetry's rate limit still applies.
      const checked = viaOAuth ? { ...request, headers: { ...request.headers, authorization: `Bearer ${metry.token}` } } : request;
      const refused = original?.(checked);
      if (refused) return refused;
      const tree = /^\/api\/v2\/consumptions\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(request.path);
      const node = tree && this.treeNodes.find((n) => n._id === tree[1]);
      return node ? this.treeConsumption(node, tree![2], tree![3], request) : undefined;
    };
  }

  /** OAuth2 on the API's host, as Metry serves it; its access tokens then open the API. */
  enableOAuth(clock: Pick<Clock, 'now'>): FakeOAuth2 {
    this.oauth = new FakeOAuth2(clock, this.metry.server);
    return this.oauth;
  }

  addTreeNode(node: FakeTreeNode): FakeTreeNode {
    this.treeNodes.push(node);
    return node;
  }

  private meterIndex(id: string): number | undefined {
    const index = FakeMetry.indexOf(id);
    return index !== undefined && this.metry.specAt(index) ? index : undefined;
  }

  private tz(index: number): string {
    return this.metry.specAt(index)?.timezone ?? 'Europe/Stockholm';
  }

  private gone(index: number | undefined): FakeResponse | undefined {
    if (index === undefined) return { status: 404, body: { code: 404, message: 'Resource not found' } };
    if (this.metry.specAt(index)!.forbidden) return { status: 403, body: { code: 403, message: 'Forbidden' } };
    return undefined;
  }

  private costs(id: string, granularity: string, period: string, request: RecordedRequest): FakeResponse {
    if (granularity !== 'month') return bad('The only granularity available for costs is month');
    const index = this.meterIndex(id);
    const refused = this.gone(index);
    if (refused) return refused;
    const metrics = (request.query.get('metrics') ?? 'retail_total,grid_total').split(',').filter(Boolean);
    const unknown = metrics.filter((m) => !FAKE_COST_METRICS.includes(m));
    if (unknown.length > 0) return bad(`Invalid metrics ${unknown.join(',')}`);
    const spec = this.metry.specAt(index!)!;
    const tz = this.tz(index!);
    const from = Date.parse(spec.dataFrom ?? '2023-01-01T00:00:00+01:00');
    const until = Date.parse(spec.dataUntil ?? '2024-01-01T00:00:00+01:00');
    const periods = [];
    for (const range of period.split('+')) {
      const slots = fakeSlots(range, 'month', tz);
      if (!slots) return bad(`Invalid period ${period}`);
      const end = nextMonth(slots[slots.length - 1], tz);
      const entry: Record<string, unknown> = { start_date: metryDate(slots[0]), end_date: metryDate(end - 1000) };
      // retail_* values exist only from the second month of data on, so some slots are null.
      for (const metric of metrics) {
        entry[metric] = slots.map((slot) => (slot < from || slot >= until || (metric.startsWith('retail') && slot < nextMonth(from, tz)) ? null : fakeCost(index!, metric, slot)));
      }
      periods.push(entry);
    }
    return ok([{ account_id: 'acc0000000000000000000001', meter_id: id, currency: this.currency, periods }]);
  }

  private readings(id: string, period: string, request: RecordedRequest): FakeResponse {
    const index = this.meterIndex(id);
    const refused = this.gone(index);
    if (refused) return refused;
    const metrics = (request.query.get('metrics') ?? 'energy').split(',').filter(Boolean);
    const tz = this.tz(index!);
    const spec = this.metry.specAt(index!)!;
    const from = Date.parse(spec.dataFrom ?? '2023-01-01T00:00:00+01:00');
    const until = Date.parse(spec.dataUntil ?? '2024-01-01T00:00:00+01:00');
    const periods = [];
    for (const range of period.split('+')) {
      const hours = fakeSlots(range, 'hour', tz);
      if (!hours) return bad(`Invalid period ${period}`);
      const entry: Record<string, unknown> = { start_date: metryDate(hours[0]), end_date: metryDate(hours[hours.length - 1] + HOUR - 1000) };
      const midnights = new Set(fakeSlots(range, 'day', tz));
      for (const metric of metrics) {
        entry[metric] = hours
          .filter((t) => t >= from && t < until && (midnights.has(t) || (t / HOUR) % this.readingEveryHours === 0))
          .map((t) => ({
            time: localMetryTime(t, tz),
            value: fakeRegister(index!, metric, t),
            status: t === this.meterChangeAt ? 'meter_change' : (t / HOUR) % this.readingEveryHours === 0 ? 'recorded' : 'interpolated',
            counter: null,
          }));
      }
      periods.push(entry);
    }
    return ok([{ periods, readings_blocked: this.blockedReadings.has(index!), meter_id: id }]);
  }

  private trees(request: RecordedRequest): FakeResponse {
    const parent = request.query.get('parent');
    const nodes = this.treeNodes.filter((n) => parent === null || (parent === 'null' ? n.parent === null : n.parent === parent));
    const skip = Math.max(0, Number(request.query.get('skip') ?? 0) || 0);
    const data = nodes.slice(skip, skip + PAGE_SIZE).map((n) => ({
      _id: n._id,
      name: n.name,
      factor: 1,
      custom_identifier: n.custom_identifier ?? null,
      app_custom_fields: {},
      custom_fields: {},
      parent: n.parent,
      meters: n.meters.map((i) => ({ _id: FakeMetry.rootId(i), root_id: FakeMetry.rootId(i), factor: 1 })),
      location: null,
      open_channel_ids: null,
    }));
    return ok(data, { count: nodes.length, skip, limit: PAGE_SIZE });
  }

  private treeConsumption(node: FakeTreeNode, granularity: string, period: string, request: RecordedRequest): FakeResponse {
    if (granularity !== 'month' && granularity !== 'day' && granularity !== 'hour') return bad(`Invalid granularity ${granularity}`);
    const metrics = (request.query.get('metrics') ?? 'energy').split(',').filter(Boolean);
    // Only meters in box active are summed (Blueprint, "Tree Node"); the period is read in their zone.
    const active = node.meters.filter((i) => (this.metry.specAt(i)?.box ?? 'active') === 'active');
    const tz = active.length > 0 ? this.tz(active[0]) : 'Europe/Stockholm';
    const periods = [];
    for (const range of period.split('+')) {
      const slots = fakeSlots(range, granularity as Granularity, tz);
      if (!slots) return bad(`Invalid period ${period}`);
      const entry: Record<string, unknown> = { start_date: metryDate(slots[0]) };
      for (const metric of metrics) {
        entry[metric] = slots.map((slot) => {
          const values = active.map((i) => this.metry.valueAt(i, metric, granularity as Granularity, slot)).filter((v): v is number => v !== null);
          return values.length === 0 ? null : Math.round(values.reduce((a, b) => a + b, 0) * 1000) / 1000;
        });
      }
      entry.energy_quality = slots.map(() => 1);
      periods.push(entry);
    }
    return ok([{ periods, tree_id: node._id }]);
  }
}

function nextMonth(ms: number, tz: string): number {
  const local = localMetryTime(ms, tz);
  const year = Number(local.slice(0, 4));
  const month = Number(local.slice(5, 7));
  const id = month === 12 ? `${year + 1}01` : `${year}${String(month + 1).padStart(2, '0')}`;
  return fakeSlots(id, 'month', tz)![0];
}

function ok(data: unknown, extra: Record<string, unknown> = {}): FakeResponse {
  return { body: { code: 200, message: 'OK', ...extra, data } };
}

function bad(message: string): FakeResponse {
  return { status: 400, body: { code: 400, message } };
}
