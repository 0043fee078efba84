/**
 * A local DSMR-reader for tests and benchmarks, answering the two datalogger endpoints the way
 * DSMR-reader does (docs/service-contracts.md §4):
 *
 * v1 POST /api/v1/datalogger/dsmrreading (form field `telegram`)
 *   405 "API is disabled" · 403 "Invalid auth key" · 400 "Invalid data" (no telegram) ·
 *   500 "Failed to parse telegram" (CRC not four upper-case hex digits, CRC mismatch, a line
 *   ending that is not CR LF, a timestamp more than 24 h ahead) · 500 error page (a telegram
 *   without 1-0:1.8.1/1.8.2, which DSMR-reader cannot turn into a reading) · 201 stored.
 * v2 POST /api/v2/datalogger/dsmrreading (JSON)
 *   403 {"detail"} for a disabled API or a wrong key · 400 field errors · 201 + the reading.
 *
 * Outages: `unavailable = 503` answers every request with that status; `goDown()` closes the
 * listening socket so clients get "connection refused", and `comeBack()` listens again on the
 * same port. The CRC check is written independently of the package's DSMR core on purpose.
 */
import net from 'node:net';
import { FakeServer, FakeResponse, RecordedRequest } from '../fake-server';

export interface DsmrReaderFakeOptions {
  authKey: string;
  apiEnabled?: boolean;
  /** Server time, for the "timestamp more than 24 h ahead" rule. */
  now?: () => number;
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

const V2_REQUIRED = ['timestamp', 'electricity_currently_delivered', 'electricity_currently_returned', 'electricity_delivered_1', 'electricity_delivered_2', 'electricity_returned_1', 'electricity_returned_2'];
const V2_DECIMALS = [
  'electricity_currently_delivered',
  'electricity_currently_returned',
  'electricity_delivered_1',
  'electricity_delivered_2',
  'electricity_returned_1',
  'electricity_returned_2',
  'phase_currently_delivered_l1',
  'phase_currently_delivered_l2',
  'phase_currently_delivered_l3',
  'phase_currently_returned_l1',
  'phase_currently_returned_l2',
  'phase_currently_returned_l3',
  'extra_device_delivered',
];
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$/;

export class DsmrReaderFake {
  readonly backend = new FakeServer();
  authKey: string;
  apiEnabled: boolean;
  /** When set, every request is answered with this status (e.g. 503 while DSMR-reader restarts). */
  unavailable: number | false = false;
  /** Accepted v1 telegrams, in the order they were stored. */
  readonly telegrams: string[] = [];
  /** Accepted v2 readings, in the order they were stored. */
  readonly readings: Array<Record<string, unknown>> = [];
  /** Every refusal, with the reason the fake had. */
  readonly refusals: Array<{ status: number; reason: string }> = [];
  private readonly now: () => number;
  private front: net.Server | undefined;
  private readonly frontSockets = new Set<net.Socket>();
  private frontPort = 0;
  private nextId = 1;

  constructor(options: DsmrReaderFakeOptions) {
    this.authKey = options.authKey;
    this.apiEnabled = options.apiEnabled ?? true;
    this.now = options.now ?? Date.now;
    this.backend.on('POST', '/api/v1/datalogger/dsmrreading', (request) => this.v1(request));
    this.backend.on('POST', '/api/v2/datalogger/dsmrreading', (request) => this.v2(request));
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
    await this.goDown();
    await this.backend.stop();
  }

  reset(): void {
    this.backend.reset();
    this.telegrams.length = 0;
    this.readings.length = 0;
    this.refusals.length = 0;
    this.unavailable = false;
    this.apiEnabled = true;
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

  private v1(request: RecordedRequest): FakeResponse {
    if (this.unavailable) return this.refuse(this.unavailable, 'unavailable', { headers: TEXT, body: 'Service Unavailable' });
    if (!this.apiEnabled) return this.refuse(405, 'API disabled', { headers: { ...TEXT, Allow: 'POST' }, body: 'API is disabled' });
    if (request.headers['x-authkey'] !== this.authKey) return this.refuse(403, 'wrong key', { headers: TEXT, body: 'Invalid auth key' });
    const isForm = /application\/x-www-form-urlencoded/.test(String(request.headers['content-type'] ?? ''));
    // DSMR-reader's form strips NUL characters around the telegram.
    const telegram = isForm ? (new URLSearchParams(request.body).get('telegram') ?? '').replace(/^\0+|\0+$/g, '') : '';
    if (!telegram) return this.refuse(400, 'no telegram field', { headers: TEXT, body: 'Invalid data' });
    const verdict = this.checkTelegram(telegram);
    if (verdict.result === 'parse-error') return this.refuse(500, verdict.reason, { headers: TEXT, body: 'Failed to parse telegram' });
    if (verdict.result === 'server-error') return this.refuse(500, verdict.reason, { headers: TEXT, body: DJANGO_500_PAGE });
    this.telegrams.push(telegram);
    return { status: 201, headers: TEXT, body: '' };
  }

  /** What DSMR-reader (v4+ setting, CRC checking on) would do with a telegram. */
  checkTelegram(telegram: string): { result: TelegramVerdict; reason: string } {
    const crcLine = /\r\n!([0-9A-F]{4})\r\n$/.exec(telegram);
    if (!telegram.startsWith('/') || !crcLine) return { result: 'parse-error', reason: 'no "/" header or no upper-case four-digit CRC line' };
    if (/[^\r]\n/.test(telegram) || /\r[^\n]/.test(telegram)) return { result: 'parse-error', reason: 'line ending other than CR LF' };
    const body = telegram.slice(0, telegram.length - 6);
    if (referenceCrc16(body) !== parseInt(crcLine[1], 16)) return { result: 'parse-error', reason: 'CRC mismatch' };
    const stamp = /\r\n0-0:1\.0\.0\((\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})([SW])\)/.exec(telegram);
    if (stamp) {
      const [, yy, mo, dd, hh, mi, ss, flag] = stamp;
      const offset = flag === 'S' ? '+02:00' : '+01:00';
      const at = Date.parse(`20${yy}-${mo}-${dd}T${hh}:${mi}:${ss}${offset}`);
      if (at > this.now() + 24 * 3600_000) return { result: 'parse-error', reason: 'timestamp more than 24 h ahead' };
    }
    if (!/\r\n1-0:1\.8\.1\(/.test(telegram) || !/\r\n1-0:1\.8\.2\(/.test(telegram)) return { result: 'server-error', reason: 'no 1-0:1.8.1/1.8.2' };
    return { result: 'stored', reason: '' };
  }

  private v2(request: RecordedRequest): FakeResponse {
    if (this.unavailable) return this.refuse(this.unavailable, 'unavailable', { body: { detail: 'Service Unavailable' } });
    if (!this.apiEnabled) return this.refuse(403, 'API disabled', { body: { detail: 'API is disabled' } });
    if (request.headers['x-authkey'] !== this.authKey) return this.refuse(403, 'wrong key', { body: { detail: 'Invalid auth key' } });
    let data: Record<string, unknown>;
    try {
      const contentType = String(request.headers['content-type'] ?? '');
      data = /json/.test(contentType) ? (JSON.parse(request.body) as Record<string, unknown>) : Object.fromEntries(new URLSearchParams(request.body));
    } catch {
      return this.refuse(400, 'JSON parse error', { body: { detail: 'JSON parse error' } });
    }
    const errors = validateV2(data ?? {});
    if (Object.keys(errors).length > 0) return this.refuse(400, Object.keys(errors).join(','), { body: errors });
    const stored: Record<string, unknown> = { id: this.nextId++ };
    for (const [field, value] of Object.entries(data)) {
      // DRF serialises decimals as strings.
      stored[field] = V2_DECIMALS.includes(field) && value !== null ? Number(value).toFixed(3) : value;
    }
    this.readings.push(stored);
    return { status: 201, body: stored };
  }
}

/** DRF-style field errors for a v2 reading. */
function validateV2(data: Record<string, unknown>): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  const add = (field: string, message: string): void => {
    (errors[field] ??= []).push(message);
  };
  for (const field of V2_REQUIRED) if (data[field] === undefined || data[field] === null || data[field] === '') add(field, 'This field is required.');
  for (const field of ['timestamp', 'extra_device_timestamp']) {
    const value = data[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || !DATETIME.test(value)) add(field, 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].');
  }
  for (const field of V2_DECIMALS) {
    const value = data[field];
    if (value === undefined || value === null || value === '') continue;
    const text = String(value);
    if (!/^-?\d+(\.\d+)?$/.test(text)) add(field, 'A valid number is required.');
    else {
      const [whole, fraction = ''] = text.replace('-', '').split('.');
      if (fraction.length > 3) add(field, 'Ensure that there are no more than 3 decimal places.');
      if (whole.replace(/^0+/, '').length > 6) add(field, 'Ensure that there are no more than 6 digits before the decimal point.');
    }
  }
  for (const n of [1, 2, 3]) {
    const current = data[`phase_power_current_l${n}`];
    if (current !== undefined && current !== null && (!Number.isInteger(Number(current)) || Number(current) < 0 || Number(current) > 999)) add(`phase_power_current_l${n}`, 'Ensure this value is less than or equal to 999.');
    const voltage = data[`phase_voltage_l${n}`];
    if (voltage !== undefined && voltage !== null && !/^\d{1,3}(\.\d)?$/.test(String(voltage))) add(`phase_voltage_l${n}`, 'Ensure that there are no more than 4 digits in total.');
  }
  return errors;
}
