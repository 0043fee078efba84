/**
 * A local Intellimeter legacy API (api.intellimeter.ca) on FakeServer, following the documented
 * contract: a cookie session opened with PUT /session (form-encoded `key` or `username` +
 * `password`), closed with DELETE /session; 401 for every data route without a valid session;
 * `responseType` json/xml/yaml on every route (400 for anything else, after doing the work, as
 * the documentation warns); /data and /interval with the latest 5-minute reading per meter,
 * advancing with the site clock; /file with start/end/type/meter (CSV unless `type` says
 * otherwise); /point by name or id. A client that forgets to ask for JSON gets XML, YAML or CSV.
 */
import { randomBytes } from 'node:crypto';
import { FakeServer, FakeResponse, RecordedRequest } from '../fake-server';

export const FAKE_API_KEY = 'f27a4f7186-d4a6635fe7-992d888955-284e0b037c';
export const FAKE_USERNAME = 'site-reader';
export const FAKE_PASSWORD = 'pw-7d1c0b9a8e6f5d4c';

const SLOT_MS = 5 * 60_000;

export interface FakeMeter {
  id: number;
  name: string;
  /** Register at slot 0 (the epoch), and growth per 5 minutes. */
  base: number;
  perSlot: number;
}

type Format = 'json' | 'xml' | 'yaml' | 'csv';

const CONTENT_TYPES: Record<Format, string> = {
  json: 'application/json',
  xml: 'application/xml',
  yaml: 'application/x-yaml',
  csv: 'text/csv',
};

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function xmlScalar(key: string, value: unknown): string {
  if (typeof value === 'number') return `<${key} type="${Number.isInteger(value) ? 'int' : 'float'}">${value}</${key}>`;
  if (typeof value === 'boolean') return `<${key} type="bool">${value ? 'True' : 'False'}</${key}>`;
  if (value === null) return `<${key} type="null"></${key}>`;
  return `<${key} type="str">${xmlEscape(String(value))}</${key}>`;
}

function xmlRecord(record: Record<string, unknown>): string {
  return Object.entries(record)
    .map(([key, value]) => xmlScalar(key, value))
    .join('');
}

function yamlScalar(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const text = String(value);
  // PyYAML quotes strings that would otherwise read as something else (time stamps, numbers).
  return /^[A-Za-z_][\w/.-]*$/.test(text) && !/^(true|false|yes|no|on|off|null)$/i.test(text) ? text : `'${text.replace(/'/g, "''")}'`;
}

export class FakeIntellimeter {
  readonly server = new FakeServer();
  meters: FakeMeter[] = [
    { id: 1, name: 'meter1', base: 28540.24, perSlot: 0.5 },
    { id: 2, name: 'meter2', base: 35757.359, perSlot: 0.08 },
  ];
  /** The site's zone: TimeStamping values are wall times in it. */
  zone = 'America/Toronto';
  /** Site time; a test may link it to a clock instead. */
  time = Date.UTC(2019, 9, 30, 17, 15);
  clock?: { now(): number };
  /** How many recent 5-minute readings /data and /interval return per meter (1 as documented). */
  window = 1;
  /** When set, data routes answer 401 even with a fresh session (an account without access). */
  refuseData = false;
  readonly sessions = new Set<string>();
  logins = 0;
  refusedLogins = 0;
  logouts = 0;
  private formatter?: Intl.DateTimeFormat;

  constructor() {
    const s = this.server;
    s.on('PUT', '/session', (r) => this.withFormat(r, () => this.logIn(r)));
    s.on('GET', '/session', (r) => this.withFormat(r, () => this.needSession(r) ?? { body: { uuid: 1, project: 1, username: FAKE_USERNAME, email: 'test@example.com', joined: '2019-10-29 16:07:17', project_name: 'myProject' } }));
    s.on('DELETE', '/session', (r) => this.withFormat(r, () => this.logOut(r)));
    s.on('GET', '/data', (r) => this.withFormat(r, () => this.dataRoute(r) ?? { body: this.latest('register') }));
    s.on('GET', '/interval', (r) => this.withFormat(r, () => this.dataRoute(r) ?? { body: this.latest('interval') }));
    s.on('GET', '/point', (r) => this.withFormat(r, () => this.dataRoute(r) ?? this.point(r)));
    s.on('GET', '/file', (r) => this.dataRoute(r) ?? this.file(r));
  }

  async start(): Promise<this> {
    await this.server.start();
    return this;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  get url(): string {
    return this.server.url;
  }

  get now(): number {
    return this.clock?.now() ?? this.time;
  }

  advance(minutes: number): void {
    this.time += minutes * 60_000;
  }

  /** Ends every session on the server side, as an expiry would. */
  expireSessions(): void {
    this.sessions.clear();
  }

  /** Forgets recorded requests and switched failures; sessions stay open unless asked. */
  reset(options: { sessions?: boolean } = {}): void {
    this.server.reset();
    if (options.sessions !== false) this.sessions.clear();
    this.logins = 0;
    this.refusedLogins = 0;
    this.logouts = 0;
    this.window = 1;
    this.refuseData = false;
  }

  /** The wall time of an instant at the site, `YYYY-MM-DD HH:MM:SS`. */
  wallTime(ms: number): string {
    if (this.formatter?.resolvedOptions().timeZone !== this.zone) {
      this.formatter = new Intl.DateTimeFormat('en-US', { timeZone: this.zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    }
    const parts = Object.fromEntries(
      this.formatter
        .formatToParts(new Date(ms))
        .map((p) => [p.type, p.value]),
    );
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
  }

  register(meter: FakeMeter, slotStart: number): number {
    return round(meter.base + meter.perSlot * (slotStart / SLOT_MS));
  }

  intervalValue(meter: FakeMeter, slotStart: number): number {
    return round(meter.perSlot * (1 + ((slotStart / SLOT_MS) % 3) / 10));
  }

  /** The 5-minute slots whose readings exist, newest last. */
  recentSlots(count: number): number[] {
    const latest = Math.floor(this.now / SLOT_MS) * SLOT_MS;
    return Array.from({ length: count }, (_, i) => latest - (count - 1 - i) * SLOT_MS);
  }

  private latest(kind: 'register' | 'interval'): Record<string, unknown>[] {
    const rows: Record<string, unknown>[] = [];
    for (const meter of this.meters) {
      for (const slot of this.recentSlots(this.window)) {
        rows.push({ MeterParam: meter.name, TimeStamping: this.wallTime(slot), value: kind === 'register' ? this.register(meter, slot) : this.intervalValue(meter, slot) });
      }
    }
    return rows;
  }

  private cookieSession(request: RecordedRequest): string | undefined {
    const cookie = request.headers.cookie ?? '';
    return /(?:^|;\s*)session=([^;]+)/.exec(cookie)?.[1];
  }

  private needSession(request: RecordedRequest): FakeResponse | undefined {
    const session = this.cookieSession(request);
    if (session && this.sessions.has(session)) return undefined;
    return { status: 401, body: { error: 'You are not logged in' } };
  }

  private dataRoute(request: RecordedRequest): FakeResponse | undefined {
    const refused = this.needSession(request);
    if (refused) return refused;
    if (this.refuseData) return { status: 401, body: { error: 'Unauthorized' } };
    return undefined;
  }

  private logIn(request: RecordedRequest): FakeResponse {
    const form = new URLSearchParams(/x-www-form-urlencoded/.test(request.headers['content-type'] ?? '') ? request.body : '');
    const byKey = form.get('key') === FAKE_API_KEY;
    const byPassword = form.get('username') === FAKE_USERNAME && form.get('password') === FAKE_PASSWORD;
    if (!byKey && !byPassword) {
      this.refusedLogins += 1;
      return { status: 401, body: { error: 'Unable to log in' } };
    }
    const session = randomBytes(12).toString('hex');
    this.sessions.add(session);
    this.logins += 1;
    return { body: { uuid: 1 }, headers: { 'Set-Cookie': `session=${session}; Expires=Wed, 30 Oct 2030 13:15:00 GMT; HttpOnly; Path=/` } };
  }

  private logOut(request: RecordedRequest): FakeResponse {
    const session = this.cookieSession(request);
    if (session && this.sessions.delete(session)) this.logouts += 1;
    return { body: {} };
  }

  private point(request: RecordedRequest): FakeResponse {
    const id = request.query.get('id');
    const name = request.query.get('name');
    // The id wins when both are given.
    const meter = id !== null ? this.meters.find((m) => String(m.id) === id) : this.meters.find((m) => m.name === name);
    if (!meter) return { status: 404, body: { error: 'No such meter' } };
    return { body: { id: meter.id, MeterId: meter.name, ModbusId: meter.id, Port: 'USB0', NoPhases: '3', MeterType: 'I-45/MFX/636', ModbusMap: 'Priority.ici', SaveEvery: 5, startAddress: 1100 } };
  }

  private file(request: RecordedRequest): FakeResponse {
    const type = (request.query.get('type') ?? 'csv') as Format;
    if (!['csv', 'json', 'xml', 'yaml'].includes(type)) return { status: 400, body: { error: `Unknown type ${type}` } };
    const start = request.query.get('start') ?? '';
    const end = request.query.get('end') ?? '';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(start) || !/^\d{4}-\d{2}-\d{2}$/.test(end)) return { status: 400, body: { error: 'start and end are required as YYYY-mm-dd' } };
    const [first, last] = [start, end].sort();
    const meterName = request.query.get('meter');
    const meters = meterName ? this.meters.filter((m) => m.name === meterName) : this.meters;
    if (meterName && meters.length === 0) return { status: 404, body: { error: 'No such meter' } };
    const rows: Record<string, unknown>[] = [];
    const latest = Math.floor(this.now / SLOT_MS) * SLOT_MS;
    // Every 5-minute slot whose site-local day lies in the range, up to now.
    for (let slot = Date.parse(`${first}T00:00:00Z`) - 2 * 86400_000; slot <= latest && slot < Date.parse(`${last}T00:00:00Z`) + 2 * 86400_000; slot += SLOT_MS) {
      const wall = this.wallTime(slot);
      const day = wall.slice(0, 10);
      if (day < first || day > last) continue;
      for (const meter of meters) rows.push({ MeterParam: meter.name, TimeStamping: wall, value: this.register(meter, slot) });
    }
    return this.render(type, rows);
  }

  /** Runs the route, then answers in the requested responseType (400 for an unknown one, work done anyway). */
  private async withFormat(request: RecordedRequest, route: () => FakeResponse): Promise<FakeResponse> {
    const requested = request.query.get('responseType') ?? 'json';
    const response = route();
    if (!['json', 'xml', 'yaml'].includes(requested)) return { status: 400, body: { error: `Unknown responseType ${requested}` } };
    if ((response.status ?? 200) >= 400) return response;
    return this.render(requested as Format, response.body, response.headers);
  }

  private render(format: Format, body: unknown, headers: Record<string, string> = {}): FakeResponse {
    const contentType = { 'Content-Type': CONTENT_TYPES[format], ...headers };
    switch (format) {
      case 'json':
        return { headers: contentType, body: JSON.stringify(body) };
      case 'xml': {
        const inner = Array.isArray(body) ? body.map((row) => `<item type="dict">${xmlRecord(row as Record<string, unknown>)}</item>`).join('') : xmlRecord(body as Record<string, unknown>);
        // The XML output writes the time stamp ISO-like, with a T.
        const text = `<?xml version="1.0" encoding="UTF-8" ?><response>${inner}</response>`.replace(/(<TimeStamping type="str">\d{4}-\d{2}-\d{2}) /g, '$1T');
        return { headers: contentType, body: text };
      }
      case 'yaml': {
        const records = Array.isArray(body) ? (body as Record<string, unknown>[]) : undefined;
        let text: string;
        if (!records) text = Object.entries(body as Record<string, unknown>).length === 0 ? '{}\n' : `${Object.entries(body as Record<string, unknown>).map(([k, v]) => `${k}: ${yamlScalar(v)}`).join('\n')}\n`;
        else if (records.length === 0) text = '[]\n';
        else text = `${records.map((r) => Object.entries(r).map(([k, v], i) => `${i === 0 ? '- ' : '  '}${k}: ${yamlScalar(v)}`).join('\n')).join('\n')}\n`;
        return { headers: contentType, body: text };
      }
      case 'csv': {
        const rows = body as Record<string, unknown>[];
        const text = ['MeterParam,TimeStamping,value', ...rows.map((r) => `${String(r.MeterParam)},${String(r.TimeStamping)},${String(r.value)}`)].join('\r\n');
        return { headers: contentType, body: `${text}\r\n` };
      }
    }
  }
}
