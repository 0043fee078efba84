/**
 * The Intellimeter legacy API's read operations, each returning normalized results: latest
 * readings (/data), latest interval readings (/interval), the history file (/file) and meter
 * information (/point). Every route is asked for JSON (`responseType=json`; `/file` with
 * `type=json`): the node hands on JavaScript objects, so XML, YAML or CSV would only need parsers
 * (seed 004: "Any route which returns JSON can be set to also return other data formats").
 */
import type { HttpRequester } from '../http/client';
import { ServiceError, isServiceError } from '../http/errors';
import type { Granularity } from '../readings';
import { wallTimeAt } from '../time-zone';
import { ParsedReadings, readingsFromRecords, recordsFrom } from './normalize';

/** Metric names: `/data` holds meter registers (running totals), `/interval` the value per logging interval. */
export const METRICS = { data: 'register', interval: 'interval' } as const;
export type HistoryMetric = 'register' | 'interval';

export interface ReadingOptions {
  zone: string;
  unit: string;
  /** Now, in ms: decides the repeated hour at the end of DST for "latest" readings. */
  now: number;
}

export interface HistoryOptions extends ReadingOptions {
  /** `YYYY-MM-DD`, or a Date / epoch ms / ISO time stamp taken as its day in the API's zone. */
  start: unknown;
  end: unknown;
  meter?: string;
  metric?: HistoryMetric;
}

export interface PointQuery {
  by: 'name' | 'id';
  value: string;
}

/** A bad date or meter from the node or the message: said before anything is sent. */
function inputError(message: string): ServiceError {
  return new ServiceError(message, { code: 'CONFIG', service: 'intellimeter' });
}

/** `YYYY-MM-DD` of the instant in the zone: the form `/file` wants for start and end. */
export function formatDateInZone(ms: number, zone: string): string {
  const wall = wallTimeAt(ms, zone);
  return `${String(wall.year).padStart(4, '0')}-${String(wall.month).padStart(2, '0')}-${String(wall.day).padStart(2, '0')}`;
}

/**
 * A history date as `/file` wants it (`YYYY-MM-DD`): such a string as it is, or a Date, an
 * epoch number or an ISO time stamp taken as the day it falls on in the API's zone.
 */
export function toHistoryDate(value: unknown, zone: string, field: 'start' | 'end'): string {
  const explain = `Give the ${field} date as YYYY-MM-DD, a Date or a time stamp.`;
  if (value === undefined || value === null || value === '') throw inputError(`The history ${field} date is empty. ${explain}`);
  if (typeof value === 'string') {
    const text = value.trim();
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    if (match) {
      const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
      if (date.getUTCDate() !== Number(match[3]) || date.getUTCMonth() !== Number(match[2]) - 1) throw inputError(`The history ${field} date "${text}" does not exist. ${explain}`);
      return text;
    }
    const parsed = Date.parse(text);
    if (!Number.isNaN(parsed) && /^\d{4}-\d{2}-\d{2}T/.test(text)) return formatDateInZone(parsed, zone);
    throw inputError(`The history ${field} date "${text.slice(0, 40)}" is not a date. ${explain}`);
  }
  if (value instanceof Date && !Number.isNaN(value.getTime())) return formatDateInZone(value.getTime(), zone);
  if (typeof value === 'number' && Number.isFinite(value)) return formatDateInZone(value, zone);
  throw inputError(`The history ${field} date is not a date (${typeof value}). ${explain}`);
}

export class IntellimeterApi {
  /** Normally a node's lease, so its requests end with the node; the session lives on the shared client. */
  constructor(private readonly http: HttpRequester) {}

  async latestReadings(options: ReadingOptions): Promise<ParsedReadings> {
    return this.latest('/data', 'reading the latest readings', METRICS.data, undefined, options);
  }

  async latestIntervals(options: ReadingOptions): Promise<ParsedReadings> {
    return this.latest('/interval', 'reading the latest interval readings', METRICS.interval, 'interval', options);
  }

  async history(options: HistoryOptions): Promise<ParsedReadings> {
    const start = toHistoryDate(options.start, options.zone, 'start');
    const end = toHistoryDate(options.end, options.zone, 'end');
    const meter = options.meter?.trim() || undefined;
    // `/file` takes its format from `type` (default CSV), not from responseType.
    const body = await this.get('/file', { start, end, type: 'json', meter }, 'reading the history file', meter ? `meter "${meter}"` : undefined);
    const { records, problems } = recordsFrom(body);
    const metric = options.metric ?? 'register';
    const parsed = readingsFromRecords(records, {
      metric,
      unit: options.unit,
      granularity: metric === 'interval' ? 'interval' : undefined,
      zone: options.zone,
      ambiguity: 'series',
      now: options.now,
    });
    return { readings: parsed.readings, problems: [...problems, ...parsed.problems] };
  }

  /** Meter information as Intellimeter describes it (`id`, `MeterId`, `ModbusId`, `SaveEvery`…). */
  async point(query: PointQuery): Promise<Record<string, unknown>> {
    const value = String(query.value ?? '').trim();
    if (!value) throw inputError(`No meter ${query.by} is set for meter information. Enter one in the node or pass it in the message.`);
    if (query.by === 'id' && !/^\d+$/.test(value)) throw inputError(`The meter id "${value.slice(0, 40)}" is not a number. Give the numeric id, or look the meter up by name.`);
    const body = await this.get('/point', { [query.by]: value, responseType: 'json' }, 'reading meter information', `meter ${query.by} "${value}"`);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ServiceError(`Intellimeter answered the meter information request with something other than a meter record. Check the meter ${query.by}.`, { code: 'INVALID_RESPONSE', service: 'intellimeter' });
    }
    return body as Record<string, unknown>;
  }

  private async latest(path: string, what: string, metric: string, granularity: Granularity | undefined, options: ReadingOptions): Promise<ParsedReadings> {
    const body = await this.get(path, { responseType: 'json' }, what);
    const { records, problems } = recordsFrom(body);
    const parsed = readingsFromRecords(records, { metric, unit: options.unit, granularity, zone: options.zone, ambiguity: 'latest', now: options.now });
    return { readings: parsed.readings, problems: [...problems, ...parsed.problems] };
  }

  private async get(path: string, query: Record<string, string | undefined>, what: string, subject?: string): Promise<unknown> {
    try {
      // The session logs in (if needed) in its `prepare`, before the request takes a slot.
      const response = await this.http.request<unknown>({ path, query, what, responseType: 'json', headers: { Accept: 'application/json' } });
      return response.data;
    } catch (error) {
      throw explain(error, path, subject);
    }
  }
}

/** Makes the client's generic error say what it means for this API. */
function explain(error: unknown, path: string, subject: string | undefined): unknown {
  if (!isServiceError(error)) return error;
  if (error.code === 'UNAUTHORIZED' && error.status === 401 && !/refused the login/.test(error.message)) {
    return new ServiceError(`Intellimeter answered 401 (not logged in) to ${path} even after logging in again. Check the API key or user name and password in the config node, and that this account may read ${path}.`, {
      code: 'UNAUTHORIZED',
      status: 401,
      service: 'intellimeter',
      serviceMessage: error.serviceMessage,
      attempts: error.attempts,
    });
  }
  if (error.code === 'NOT_FOUND' && subject) {
    return new ServiceError(`Intellimeter has no ${subject}. Check the spelling, or list the meters with the latest readings operation.`, { code: 'NOT_FOUND', status: 404, service: 'intellimeter', serviceMessage: error.serviceMessage });
  }
  if (error.code === 'BAD_REQUEST' && path === '/file') {
    const said = error.serviceMessage ? ` Intellimeter said: "${error.serviceMessage}".` : '';
    return new ServiceError(`Intellimeter rejected the history request.${said} Check the start and end dates (YYYY-MM-DD) and the meter name.`, { code: 'BAD_REQUEST', status: 400, service: 'intellimeter', serviceMessage: error.serviceMessage });
  }
  return error;
}
