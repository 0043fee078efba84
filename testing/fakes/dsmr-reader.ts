/**
 * A local DSMR-reader v5.11 for tests and benchmarks, answering the datalogger endpoints the way
 * DSMR-reader does, the nasty parts included (docs/service-contracts.md §4, §4.5 observed on a real
 * v5.11.0). Sources: [src] = dsmrreader/dsmr-reader, files named in place; [parser] =
 * ndokter/dsmr_parser (telegram_specifications.py, obis_references.py, parsers.py); [DRF] = Django
 * REST framework's DecimalField/IntegerField validation messages.
 *
 * v1 POST /api/v1/datalogger/dsmrreading (form field `telegram`) [src dsmr_api/views/v1.py]
 *   405 "API is disabled" · 403 "Invalid auth key" · 400 "Invalid data" (no telegram) ·
 *   500 "Failed to parse telegram" (InvalidTelegramError: CRC missing, not four upper-case hex
 *   digits or wrong; a timestamp or gas time more than 24 h ahead) · 500 HTML error page (an
 *   exception while storing: a value too large for its DecimalField — InvalidOperation — or a
 *   required column left empty — IntegrityError) · 201 stored.
 *   The telegram is read as `dsmrVersion` says [src dsmr_datalogger/services/datalogger.py]:
 *   3 = DSMR v2/3 (parser spec V2_2: no CRC check, no timestamp line, gas from the two-line
 *   0-n:24.3.0), 4 = DSMR v4/v5 (V5: CRC required), 101 = Belgium (24.2.3 gas), 102 = Luxembourg
 *   (1.8.0/2.8.0 on tariff 1). Each value is the FIRST text matching `\d-\d:<code>.+?\r\n`
 *   anywhere in the telegram, as observed on v5.11: `1-0:1.8.13` read as 1.8.1, a
 *   `1-0:99.1.0(7)(0-0:1.0.0)(AB)` line taken as the timestamp (unreadable, so the server's receive
 *   time is stored), the first 0-n:24.2.1 line stored as gas whatever the device (a water meter
 *   included). Numbers are stored as written, without unit conversion (Wh as kWh); phase currents
 *   are truncated to whole amperes (IntegerField) [§4.5].
 * v2 POST /api/v2/datalogger/dsmrreading (JSON) [src dsmr_api/views/v2.py, models/reading.py]
 *   403 {"detail"} for a disabled API or a wrong key · 400 DRF field errors: 9 digits / 3 decimals
 *   for kW/kWh/m³, 4 digits / 1 decimal for volts, integers 0–999 for amperes · 201 + the reading.
 *   No future check and no uniqueness: the same reading posted twice is stored twice [§4.5].
 * v2 GET /api/v2/datalogger/dsmrreading ?timestamp__gte=&timestamp__lte=&ordering=&limit=&offset=
 *   [src dsmr_api/filters.py: django-filter DateTimeFilter → Django forms.DateTimeField, which reads
 *   ISO 8601 with offset (Django ≥ 3.1) and `Y-m-d HH:MM:SS` in the server's time zone]; 400
 *   "Enter a valid date/time." otherwise. Paginated {count, next, previous, results}, 25 per page,
 *   timestamps in local time with offset, decimals as strings.
 *
 * Every stored reading, from v1 or v2, is a row of one DsmrReading table (`rows`), as in
 * DSMR-reader. Outages: `unavailable = 503`; `goDown()`/`comeBack()` close and reopen the port;
 * `freeze()` holds every request unprocessed until `thaw()` (the server then processes them in
 * arrival order, even those whose client gave up: a frozen Django still finishes the request);
 * `holdAnswers()` stores at once but answers only at `thaw()` (slow but stored).
 * The CRC and parsing here are written independently of the package's DSMR core on purpose.
 */
import net from 'node:net';
import { FakeServer, FakeResponse, RecordedRequest } from '../fake-server';

export type DsmrVersionSetting = 3 | 4 | 101 | 102;

export interface DsmrReaderFakeOptions {
  authKey: string;
  apiEnabled?: boolean;
  /** Server time, for the "more than 24 h ahead" rule and for readings without a timestamp. */
  now?: () => number;
  /** The datalogger's `dsmr_version` setting; DSMR-reader's default is 4 (DSMR v4/v5). */
  dsmrVersion?: DsmrVersionSetting;
}

/** One row of DSMR-reader's DsmrReading table. */
export interface StoredRow {
  id: number;
  /** Epoch ms. */
  timestamp: number;
  /** Decimal fields as DSMR-reader keeps them (strings with the field's decimals), currents as integers, null when empty. */
  fields: Record<string, string | number | null>;
  source: 'v1' | 'v2';
}

const DJANGO_500_PAGE = '<!doctype html>\n<html lang="en">\n<head>\n  <title>Server Error (500)</title>\n</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n';
const TEXT = { 'Content-Type': 'text/html; charset=utf-8' };

/** CRC-16/ARC, bit by bit: deliberately not the table-driven code under test. */
export function referenceCrc16(text: string): number {
  let crc = 0;
  for (let i = 0; i < text.length; i += 1) {
    crc ^= text.charCodeAt(i) & 0xff;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

type TelegramVerdict = 'stored' | 'parse-error' | 'server-error';

/** DsmrReading's columns [src dsmr_datalogger/models/reading.py]: max digits and decimals. */
const DECIMAL_FIELDS: Record<string, [number, number]> = Object.fromEntries([
  ...['electricity_currently_delivered', 'electricity_currently_returned', 'electricity_delivered_1', 'electricity_delivered_2', 'electricity_returned_1', 'electricity_returned_2', 'extra_device_delivered'].map((f) => [f, [9, 3]]),
  ...[1, 2, 3].flatMap((n) => [[`phase_currently_delivered_l${n}`, [9, 3]], [`phase_currently_returned_l${n}`, [9, 3]], [`phase_voltage_l${n}`, [4, 1]]]),
]);
const INTEGER_FIELDS = ['phase_power_current_l1', 'phase_power_current_l2', 'phase_power_current_l3'];
const NOT_NULL = ['electricity_delivered_1', 'electricity_returned_1', 'electricity_delivered_2', 'electricity_returned_2', 'electricity_currently_delivered', 'electricity_currently_returned'];
const V2_REQUIRED = ['timestamp', ...NOT_NULL];
const ALL_FIELDS = [...Object.keys(DECIMAL_FIELDS), ...INTEGER_FIELDS];
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$/;
const FUTURE_LIMIT_MS = 24 * 3600_000;

// --- Europe/Amsterdam, DSMR-reader's default TIME_ZONE -----------------------------------

function lastSundayUtc(year: number, month: number): number {
  const last = new Date(Date.UTC(year, month + 1, 0));
  return Date.UTC(year, month, last.getUTCDate() - last.getUTCDay(), 1);
}

/** EU summer time: from the last Sunday of March to the last Sunday of October, 01:00 UTC. */
function amsterdamOffsetHours(utcMs: number): number {
  const year = new Date(utcMs).getUTCFullYear();
  return utcMs >= lastSundayUtc(year, 2) && utcMs < lastSundayUtc(year, 9) ? 2 : 1;
}

function localToUtc(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  const summer = wall - 2 * 3600_000;
  return amsterdamOffsetHours(summer) === 2 ? summer : wall - 3600_000;
}

/** An instant in DSMR-reader's local time with offset, as its API answers. */
export function amsterdamIso(utcMs: number): string {
  const hours = amsterdamOffsetHours(utcMs);
  return `${new Date(utcMs + hours * 3600_000).toISOString().slice(0, 19)}+0${hours}:00`;
}

/** YYMMDDhhmmss[S|W] as dsmr_parser reads it; undefined for placeholders such as 632525252525S. */
function p1Time(value: string | undefined): number | undefined {
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})([SW])?$/.exec(value ?? '');
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined;
  if (m[7]) return Date.UTC(2000 + y, mo - 1, d, h, mi, s) - (m[7] === 'S' ? 2 : 1) * 3600_000;
  return localToUtc(2000 + y, mo, d, h, mi, s);
}

/** A datetime filter value as Django's forms.DateTimeField reads it; undefined when invalid. */
function filterTime(value: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(value.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi] = m.slice(1, 6).map(Number);
  const s = Number(m[6] ?? 0);
  if (!m[7]) return localToUtc(y, mo, d, h, mi, s);
  const at = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${String(s).padStart(2, '0')}${m[7] === 'Z' ? 'Z' : m[7].replace(/^([+-]\d{2})$/, '$1:00').replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2')}`);
  return Number.isNaN(at) ? undefined : at;
}

// --- Numbers the way Python's Decimal and DRF see them ------------------------------------

/** Digits of a decimal text as Python's Decimal(text).as_tuple() counts them [DRF validate_precision]. */
function decimalDigits(text: string): { total: number; whole: number; places: number } | undefined {
  const m = /^[+-]?(\d*)(?:\.(\d*))?$/.exec(text);
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) return undefined;
  const fraction = m[2] ?? '';
  const digits = `${m[1]}${fraction}`.replace(/^0+/, '') || '0';
  const exponent = fraction.length;
  if (digits.length > exponent) return { total: digits.length, whole: digits.length - exponent, places: exponent };
  return { total: exponent, whole: 0, places: exponent };
}

/** Django's DecimalField save: round to the decimals, InvalidOperation when too many digits remain. */
function quantize(value: string, [maxDigits, places]: [number, number]): string | 'overflow' {
  const number = Number(value);
  const rounded = Math.round(number * 10 ** places) / 10 ** places;
  if (Math.abs(rounded) >= 10 ** (maxDigits - places)) return 'overflow';
  return rounded.toFixed(places);
}

export class DsmrReaderFake {
  readonly backend = new FakeServer();
  authKey: string;
  apiEnabled: boolean;
  dsmrVersion: DsmrVersionSetting;
  /** When set, every request is answered with this status (e.g. 503 while DSMR-reader restarts). */
  unavailable: number | false = false;
  /** Accepted v1 telegrams, in the order they were stored. */
  readonly telegrams: string[] = [];
  /** Accepted v2 readings as DSMR-reader answered them, in the order they were stored. */
  readonly readings: Array<Record<string, unknown>> = [];
  /** DSMR-reader's reading table: every stored reading, from v1 and v2. */
  readonly rows: StoredRow[] = [];
  /** Every refusal, with the reason the fake had. */
  readonly refusals: Array<{ status: number; reason: string }> = [];
  private readonly now: () => number;
  private front: net.Server | undefined;
  private readonly frontSockets = new Set<net.Socket>();
  private frontPort = 0;
  private nextId = 1;
  private frozen: Gate | undefined;
  private answersHeld: Gate | undefined;
  private handled = 0;
  private readonly waiters: Array<{ ready: () => boolean; resolve: () => void }> = [];

  constructor(options: DsmrReaderFakeOptions) {
    this.authKey = options.authKey;
    this.apiEnabled = options.apiEnabled ?? true;
    this.dsmrVersion = options.dsmrVersion ?? 4;
    this.now = options.now ?? Date.now;
    const path = '/api/v1/datalogger/dsmrreading';
    this.backend.on('POST', path, (request) => this.handle(request, () => this.v1(request)));
    this.backend.on('POST', path.replace('v1', 'v2'), (request) => this.handle(request, () => this.v2(request)));
    this.backend.on('GET', path.replace('v1', 'v2'), (request) => this.handle(request, () => this.list(request)));
  }

  async start(): Promise<this> {
    await this.backend.start();
    await this.listen(0);
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.frontPort}`;
  }

  get port(): number {
    return this.frontPort;
  }

  /** Every request that reached the server (refused connections never do). */
  get requests(): RecordedRequest[] {
    return this.backend.requests;
  }

  /** Resolves once `count` readings are stored (v1 and v2 together). */
  whenStored(count: number): Promise<void> {
    return this.when(() => this.rows.length >= count);
  }

  /** Resolves once `count` requests reached the DSMR-reader handlers (held ones included). */
  whenHandled(count: number): Promise<void> {
    return this.when(() => this.handled >= count);
  }

  /** Holds every request unprocessed until `thaw()`, like a server that stopped responding. */
  freeze(): void {
    this.frozen ??= new Gate();
  }

  /** Stores readings at once but holds every answer until `thaw()`: slow, yet stored. */
  holdAnswers(): void {
    this.answersHeld ??= new Gate();
  }

  /** Processes the held requests in arrival order and sends the held answers. */
  thaw(): void {
    this.frozen?.open();
    this.answersHeld?.open();
    this.frozen = undefined;
    this.answersHeld = undefined;
  }

  /** Closes the port: new connections are refused and open ones are cut. */
  async goDown(): Promise<void> {
    const front = this.front;
    this.front = undefined;
    for (const socket of this.frontSockets) socket.destroy();
    if (front) await new Promise<void>((resolve) => front.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async comeBack(): Promise<void> {
    if (!this.front) await this.listen(this.frontPort);
  }

  async stop(): Promise<void> {
    this.thaw();
    await this.goDown();
    await this.backend.stop();
  }

  reset(): void {
    this.thaw();
    this.backend.reset();
    this.telegrams.length = 0;
    this.readings.length = 0;
    this.rows.length = 0;
    this.refusals.length = 0;
    this.unavailable = false;
    this.apiEnabled = true;
    this.dsmrVersion = 4;
    this.handled = 0;
  }

  /** What DSMR-reader would do with a telegram at its current `dsmr_version`, without storing it. */
  checkTelegram(telegram: string): { result: TelegramVerdict; reason: string; row?: Omit<StoredRow, 'id' | 'source'> } {
    return readTelegram(telegram, this.dsmrVersion, this.now());
  }

  private when(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ ready, resolve }));
  }

  private wakeWaiters(): void {
    for (const waiter of [...this.waiters]) {
      if (!waiter.ready()) continue;
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  private async handle(request: RecordedRequest, process: () => FakeResponse): Promise<FakeResponse> {
    this.handled += 1;
    this.wakeWaiters();
    await this.frozen?.opened;
    const response = process();
    this.wakeWaiters();
    await this.answersHeld?.opened;
    return response;
  }

  private listen(port: number): Promise<void> {
    const front = net.createServer((socket) => {
      this.frontSockets.add(socket);
      const upstream = net.connect(this.backend.port, '127.0.0.1');
      const cleanUp = (): void => {
        this.frontSockets.delete(socket);
        socket.destroy();
        upstream.destroy();
      };
      socket.on('error', cleanUp).on('close', cleanUp);
      upstream.on('error', cleanUp).on('close', cleanUp);
      socket.pipe(upstream).pipe(socket);
    });
    this.front = front;
    return new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen(port, '127.0.0.1', () => {
        front.off('error', reject);
        this.frontPort = (front.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private refuse(status: number, reason: string, response: FakeResponse): FakeResponse {
    this.refusals.push({ status, reason });
    return { status, ...response };
  }

  private store(timestamp: number, fields: Record<string, string | number | null>, source: 'v1' | 'v2'): StoredRow {
    const row: StoredRow = { id: this.nextId++, timestamp, fields, source };
    this.rows.push(row);
    return row;
  }

  private v1(request: RecordedRequest): FakeResponse {
    if (this.unavailable) return this.refuse(this.unavailable, 'unavailable', { headers: TEXT, body: 'Service Unavailable' });
    if (!this.apiEnabled) return this.refuse(405, 'API disabled', { headers: { ...TEXT, Allow: 'POST' }, body: 'API is disabled' });
    if (request.headers['x-authkey'] !== this.authKey) return this.refuse(403, 'wrong key', { headers: TEXT, body: 'Invalid auth key' });
    const isForm = /application\/x-www-form-urlencoded/.test(String(request.headers['content-type'] ?? ''));
    // DSMR-reader's form strips NUL characters around the telegram [src dsmr_api/forms.py].
    const telegram = isForm ? (new URLSearchParams(request.body).get('telegram') ?? '').replace(/^\0+|\0+$/g, '') : '';
    if (!telegram) return this.refuse(400, 'no telegram field', { headers: TEXT, body: 'Invalid data' });
    const verdict = this.checkTelegram(telegram);
    if (verdict.result === 'parse-error') return this.refuse(500, verdict.reason, { headers: TEXT, body: 'Failed to parse telegram' });
    if (verdict.result === 'server-error' || !verdict.row) return this.refuse(500, verdict.reason, { headers: TEXT, body: DJANGO_500_PAGE });
    this.store(verdict.row.timestamp, verdict.row.fields, 'v1');
    this.telegrams.push(telegram);
    return { status: 201, headers: TEXT, body: '' };
  }

  private v2Auth(): FakeResponse | undefined {
    if (this.unavailable) return this.refuse(this.unavailable, 'unavailable', { body: { detail: 'Service Unavailable' } });
    if (!this.apiEnabled) return this.refuse(403, 'API disabled', { body: { detail: 'API is disabled' } });
    return undefined;
  }

  private v2(request: RecordedRequest): FakeResponse {
    const refused = this.v2Auth() ?? (request.headers['x-authkey'] !== this.authKey ? this.refuse(403, 'wrong key', { body: { detail: 'Invalid auth key' } }) : undefined);
    if (refused) return refused;
    let data: Record<string, unknown>;
    try {
      const contentType = String(request.headers['content-type'] ?? '');
      data = /json/.test(contentType) ? (JSON.parse(request.body) as Record<string, unknown>) : Object.fromEntries(new URLSearchParams(request.body));
    } catch {
      return this.refuse(400, 'JSON parse error', { body: { detail: 'JSON parse error' } });
    }
    const errors = validateV2(data ?? {});
    if (Object.keys(errors).length > 0) return this.refuse(400, Object.keys(errors).join(','), { body: errors });
    const fields: Record<string, string | number | null> = {};
    for (const field of ALL_FIELDS) {
      const value = data[field];
      if (value === undefined || value === null || value === '') fields[field] = null;
      else if (DECIMAL_FIELDS[field]) fields[field] = quantize(String(value), DECIMAL_FIELDS[field]) as string;
      else fields[field] = Number(value);
    }
    const gasTime = typeof data.extra_device_timestamp === 'string' ? filterTime(data.extra_device_timestamp) : undefined;
    fields.extra_device_timestamp = gasTime === undefined ? null : amsterdamIso(gasTime);
    const row = this.store(filterTime(String(data.timestamp)) ?? this.now(), fields, 'v2');
    const stored = serialise(row);
    this.readings.push(stored);
    return { status: 201, body: stored };
  }

  private list(request: RecordedRequest): FakeResponse {
    const refused = this.v2Auth() ?? (request.headers['x-authkey'] !== this.authKey ? this.refuse(403, 'wrong key', { body: { detail: 'Invalid auth key' } }) : undefined);
    if (refused) return refused;
    const bounds: Record<string, number | undefined> = {};
    for (const name of ['timestamp__gte', 'timestamp__lte']) {
      const value = request.query.get(name);
      if (value === null || value === '') continue;
      bounds[name] = filterTime(value);
      if (bounds[name] === undefined) return this.refuse(400, `bad ${name}`, { body: { [name]: ['Enter a valid date/time.'] } });
    }
    const descending = request.query.get('ordering') === '-timestamp';
    const limit = Math.max(1, Number(request.query.get('limit') ?? 25) || 25);
    const offset = Math.max(0, Number(request.query.get('offset') ?? 0) || 0);
    const matching = this.rows
      .filter((row) => (bounds.timestamp__gte === undefined || row.timestamp >= bounds.timestamp__gte) && (bounds.timestamp__lte === undefined || row.timestamp <= bounds.timestamp__lte))
      .sort((a, b) => (descending ? b.timestamp - a.timestamp : a.timestamp - b.timestamp) || a.id - b.id);
    const page = (at: number): string => {
      const query = new URLSearchParams(request.query);
      query.set('limit', String(limit));
      query.set('offset', String(at));
      return `${this.url}${request.path}?${query.toString()}`;
    };
    return {
      status: 200,
      body: {
        count: matching.length,
        next: offset + limit < matching.length ? page(offset + limit) : null,
        previous: offset > 0 ? page(Math.max(0, offset - limit)) : null,
        results: matching.slice(offset, offset + limit).map(serialise),
      },
    };
  }
}

/** Resolves `opened` once `open()` is called. */
class Gate {
  open!: () => void;
  readonly opened = new Promise<void>((resolve) => {
    this.open = resolve;
  });
}

function serialise(row: StoredRow): Record<string, unknown> {
  return { id: row.id, timestamp: amsterdamIso(row.timestamp), ...row.fields };
}

/** The first text matching dsmr_parser's `\d-\d:<code>.+?\r\n`, searched anywhere, and its values. */
function firstValues(telegram: string, code: string, lines = 1): string[] | undefined {
  const pattern = new RegExp(`\\d-\\d:${code.replace(/\./g, '\\.')}${'.+?\\r\\n'.repeat(lines)}`, 's');
  const match = pattern.exec(telegram);
  if (!match) return undefined;
  return match[0].match(/(?<=\()[0-9a-zA-Z.*\-:]*(?=\))/g) ?? [];
}

/** The number of a value such as `004512.734*kWh`, unit dropped: DSMR-reader converts nothing. */
function numberOf(value: string | undefined): string | undefined {
  const number = value?.split('*')[0];
  return number !== undefined && /^-?\d+(\.\d+)?$/.test(number) ? number : undefined;
}

/** DSMR-reader's telegram_to_reading at one `dsmr_version` setting. */
function readTelegram(telegram: string, version: DsmrVersionSetting, now: number): { result: TelegramVerdict; reason: string; row?: Omit<StoredRow, 'id' | 'source'> } {
  if (version !== 3) {
    // parsers.py validate_checksum: '/' up to the last '!', then four [0-9A-Z] after a '!'.
    const content = /\/.+!/s.exec(telegram);
    const checksum = /(?<=!)[0-9A-Z]{4}/.exec(telegram);
    if (!content || !checksum) return { result: 'parse-error', reason: 'CRC missing (or not four upper-case hex digits)' };
    if (referenceCrc16(content[0]) !== parseInt(checksum[0], 16)) return { result: 'parse-error', reason: 'CRC mismatch' };
  }
  const value = (code: string): string | undefined => numberOf(firstValues(telegram, code)?.[0]);
  const raw: Record<string, string | undefined> = {
    electricity_delivered_1: value('1.8.1') ?? (version === 102 ? value('1.8.0') : undefined),
    electricity_returned_1: value('2.8.1') ?? (version === 102 ? value('2.8.0') : undefined),
    electricity_delivered_2: value('1.8.2') ?? '0',
    electricity_returned_2: value('2.8.2') ?? '0',
    electricity_currently_delivered: value('1.7.0'),
    electricity_currently_returned: value('2.7.0'),
  };
  let timestamp = now;
  let gas: string[] | undefined;
  if (version === 3) {
    // V2_2: no timestamp line; the gas reading spans two lines (0-n:24.3.0 + its value).
    const legacy = firstValues(telegram, '24.3.0', 2);
    if (legacy) gas = [legacy[0], legacy[6]];
  } else {
    timestamp = p1Time(firstValues(telegram, '1.0.0')?.[0]) ?? now;
    gas = (version === 101 ? firstValues(telegram, '24.2.3') : undefined) ?? firstValues(telegram, '24.2.1');
    [1, 2, 3].forEach((n, i) => {
      raw[`phase_currently_delivered_l${n}`] = value(`${2 * i + 2}1.7.0`);
      raw[`phase_currently_returned_l${n}`] = value(`${2 * i + 2}2.7.0`);
      raw[`phase_voltage_l${n}`] = value(`${2 * i + 3}2.7.0`);
    });
  }
  const gasTime = p1Time(gas?.[0]);
  raw.extra_device_delivered = gasTime === undefined ? undefined : numberOf(gas?.[1]);
  if (timestamp > now + FUTURE_LIMIT_MS || (gasTime !== undefined && gasTime > now + FUTURE_LIMIT_MS)) {
    return { result: 'parse-error', reason: 'timestamp more than 24 h ahead' };
  }
  const fields: Record<string, string | number | null> = {};
  for (const [field, text] of Object.entries(raw)) {
    if (text === undefined) {
      if (NOT_NULL.includes(field)) return { result: 'server-error', reason: `IntegrityError: ${field} is NULL` };
      fields[field] = null;
      continue;
    }
    const stored = quantize(text, DECIMAL_FIELDS[field]);
    if (stored === 'overflow') return { result: 'server-error', reason: `InvalidOperation: ${field} ${text} does not fit` };
    fields[field] = stored;
  }
  [1, 2, 3].forEach((n, i) => {
    const current = version === 3 ? undefined : value(`${2 * i + 3}1.7.0`);
    // IntegerField: int(Decimal('0.86')) is 0.
    fields[`phase_power_current_l${n}`] = current === undefined ? null : Math.trunc(Number(current));
  });
  fields.extra_device_timestamp = gasTime === undefined ? null : amsterdamIso(gasTime);
  return { result: 'stored', reason: '', row: { timestamp, fields } };
}

/** DRF's field errors for a v2 reading [DRF DecimalField.validate_precision, IntegerField]. */
function validateV2(data: Record<string, unknown>): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  const add = (field: string, message: string): void => {
    (errors[field] ??= []).push(message);
  };
  for (const field of V2_REQUIRED) {
    if (data[field] === undefined || data[field] === '') add(field, 'This field is required.');
    else if (data[field] === null) add(field, 'This field may not be null.');
  }
  for (const field of ['timestamp', 'extra_device_timestamp']) {
    const value = data[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || !DATETIME.test(value)) add(field, 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].');
  }
  for (const [field, [maxDigits, places]] of Object.entries(DECIMAL_FIELDS)) {
    const value = data[field];
    if (value === undefined || value === null || value === '') continue;
    const digits = decimalDigits(String(value));
    if (!digits) add(field, 'A valid number is required.');
    else if (digits.total > maxDigits) add(field, `Ensure that there are no more than ${maxDigits} digits in total.`);
    else if (digits.places > places) add(field, `Ensure that there are no more than ${places} decimal places.`);
    else if (digits.whole > maxDigits - places) add(field, `Ensure that there are no more than ${maxDigits - places} digits before the decimal point.`);
  }
  for (const field of INTEGER_FIELDS) {
    const value = data[field];
    if (value === undefined || value === null || value === '') continue;
    const text = String(value).replace(/\.0*\s*$/, '');
    if (!/^-?\d+$/.test(text)) add(field, 'A valid integer is required.');
    else if (Number(text) > 999) add(field, 'Ensure this value is less than or equal to 999.');
    else if (Number(text) < 0) add(field, 'Ensure this value is greater than or equal to 0.');
  }
  return errors;
}
