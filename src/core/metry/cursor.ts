/**
 * Where incremental export starts, per meter, granularity and metric: after the last stored
 * period. Two sources:
 *
 * - the user's database, handed in with the input (`msg.lastStored` rows from a
 *   `SELECT … max(start) … GROUP BY`, or `lastStored` on a meter object). It moves only when the
 *   storage has really stored, so a failed write is fetched again on the next run;
 * - a store the node keeps (Node-RED context or a JSON file), for flows without a database. It
 *   moves when the readings have been sent on, not when they were stored.
 */
import { normaliseOffset } from '../readings';
import { ServiceError } from '../http/errors';
import { MetryGranularity, isMetryGranularity, slotStart, statsPointToSlot } from './periods';

/** What the export asks of a cursor source. */
export interface ExportCursors {
  /** The start of the last stored slot of a series, or undefined when nothing is stored yet. */
  lastStored(meter: { id: string; timezone: string }, granularity: MetryGranularity, metric: string): Promise<number | undefined>;
  /** A series was delivered up to the slot starting at `slot` (only kept cursors move on this). */
  delivered?(meterId: string, granularity: MetryGranularity, metric: string, slot: number): Promise<void>;
  /** Makes the moves so far durable; called after each chunk of meters. */
  flush?(): Promise<void>;
}

/** A key/value store for kept cursors (Node-RED context, a JSON file, memory in tests). */
export interface CursorStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  flush?(): Promise<void>;
}

/**
 * Letters and digits stay, every other character becomes `-` and its 4-digit UTF-16 code, so
 * `meter.a` and `meter_a` get different keys and a key never holds a dot or bracket (Node-RED
 * reads those as property paths). Metry's 24-hex ids come out unchanged.
 */
export function escapeKeyPart(text: string): string {
  return text.replace(/[^A-Za-z0-9]/g, (char) => `-${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The kept-cursor key, e.g. `metryCursor_65a0c0ffee0000000000bb01_hour_energy`. The escaped id
 * holds no `_` and the granularity none either, so the key reads back one way only.
 */
export function cursorKey(meterId: string, granularity: MetryGranularity, metric: string): string {
  const safeMetric = /^[a-z][a-z_]*$/.test(metric) ? metric : escapeKeyPart(metric);
  return `metryCursor_${escapeKeyPart(meterId)}_${granularity}_${safeMetric}`;
}

/** Parses a kept cursor (an ISO instant); anything unreadable counts as no cursor. */
export function parseCursor(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Cursors a store keeps: they move forward only, when a series was delivered further. */
export function keptCursors(store: CursorStore): ExportCursors {
  return {
    async lastStored(meter, granularity, metric) {
      return parseCursor(await store.get(cursorKey(meter.id, granularity, metric)));
    },
    async delivered(meterId, granularity, metric, slot) {
      const key = cursorKey(meterId, granularity, metric);
      const current = parseCursor(await store.get(key));
      if (current === undefined || slot > current) await store.set(key, new Date(slot).toISOString());
    },
    flush: () => store.flush?.() ?? Promise.resolve(),
  };
}

export class MemoryCursorStore implements CursorStore {
  readonly values = new Map<string, string>();

  async get(key: string): Promise<string | undefined> {
    return this.values.get(key);
  }

  async set(key: string, value: string): Promise<void> {
    this.values.set(key, value);
  }
}

/** A stored period as the database gives it: an ISO instant (`start`) or a Metry period id. */
type StoredPoint = string | number;

function inputError(message: string): ServiceError {
  return new ServiceError(message, { code: 'CONFIG', service: 'metry' });
}

const PERIOD_ID = /^\d{4}(\d{2}){0,3}$/;
/** A date and time with its offset, as readings carry them: `2024-03-01T00:00:00+01:00`, `…Z`. */
const INSTANT = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
/** A bare date is a local date: the day it names in the meter's zone. */
const LOCAL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Checks a stored point's form now, so a bad row fails before any request. */
function checkPoint(value: unknown, where: string): StoredPoint {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (PERIOD_ID.test(text)) return text;
  const date = LOCAL_DATE.exec(text);
  if (date) return `${date[1]}${date[2]}${date[3]}`;
  if (INSTANT.test(text) && !Number.isNaN(Date.parse(normaliseOffset(text)))) return text;
  throw inputError(`${where} is ${JSON.stringify(value)}: give the start of the last stored period as an ISO time with its offset (2024-03-01T00:00:00+01:00), a date (2024-03-01) or a Metry period id (20240301).`);
}

/** The slot a stored point falls in, in the meter's zone. */
export function storedPointToSlot(point: StoredPoint, granularity: MetryGranularity, timezone: string): number | undefined {
  const text = String(point).trim();
  if (PERIOD_ID.test(text)) return statsPointToSlot(text, granularity, timezone);
  const ms = Date.parse(normaliseOffset(text));
  return Number.isNaN(ms) ? undefined : slotStart(ms, granularity, timezone);
}

interface StoredEntry {
  granularity?: MetryGranularity;
  /** Absent: every metric. */
  metric?: string;
  point: StoredPoint;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/**
 * Cursors from the user's database, handed in with the input:
 *
 * - `msg.lastStored`: rows `{meterId (or meter_id), metric?, granularity?, start}`, as a
 *   `SELECT meter_id AS meterId, metric, granularity, max(start) AS start … GROUP BY …` returns
 *   them, or a map `{"<meterId>": "<start>" | {"<metric>": "<start>"}}`;
 * - `lastStored` on a meter object: a start for every metric, or `{"<metric>": "<start>"}`.
 *
 * A meter's own value wins over the message's. A row without granularity or metric applies to
 * all. Several matching rows: the latest counts.
 */
export class InputCursors implements ExportCursors {
  private readonly fromMessage = new Map<string, StoredEntry[]>();
  private readonly fromMeters = new Map<string, StoredEntry[]>();

  /** `lastStored`: the `msg.lastStored` of each message of a batch (the same list is read once). */
  constructor(lastStored: readonly unknown[], meters: readonly unknown[] = []) {
    for (const source of new Set(lastStored)) this.readMessage(source);
    for (const meter of meters) this.readMeter(meter);
  }

  /** How many meters the input gave a stored period for. */
  get meters(): number {
    return new Set([...this.fromMessage.keys(), ...this.fromMeters.keys()]).size;
  }

  async lastStored(meter: { id: string; timezone: string }, granularity: MetryGranularity, metric: string): Promise<number | undefined> {
    const pick = (entries: StoredEntry[] | undefined): number | undefined => {
      let latest: number | undefined;
      for (const entry of entries ?? []) {
        if ((entry.granularity && entry.granularity !== granularity) || (entry.metric && entry.metric !== metric)) continue;
        const slot = storedPointToSlot(entry.point, granularity, meter.timezone);
        if (slot !== undefined && (latest === undefined || slot > latest)) latest = slot;
      }
      return latest;
    };
    return pick(this.fromMeters.get(meter.id)) ?? pick(this.fromMessage.get(meter.id));
  }

  private add(target: Map<string, StoredEntry[]>, meterId: string, entry: StoredEntry): void {
    let list = target.get(meterId);
    if (!list) target.set(meterId, (list = []));
    list.push(entry);
  }

  private readMessage(lastStored: unknown): void {
    if (lastStored === undefined || lastStored === null) return;
    if (Array.isArray(lastStored)) {
      lastStored.forEach((row, index) => this.readRow(row, `msg.lastStored[${index}]`));
      return;
    }
    if (typeof lastStored !== 'object') {
      throw inputError('msg.lastStored must be a list of rows {meterId, metric, granularity, start} or a map {meterId: start}.');
    }
    for (const [meterId, value] of Object.entries(lastStored as Record<string, unknown>)) {
      this.readValue(this.fromMessage, meterId, value, `msg.lastStored["${meterId}"]`);
    }
  }

  private readRow(row: unknown, where: string): void {
    const record = (row && typeof row === 'object' ? row : {}) as Record<string, unknown>;
    const meterId = text(record.meterId) ?? text(record.meter_id);
    if (!meterId) throw inputError(`${where} has no meterId: each row needs meterId (the Metry root._id), start, and optionally metric and granularity.`);
    const granularity = record.granularity ?? undefined;
    if (granularity !== undefined && !isMetryGranularity(granularity)) {
      throw inputError(`${where} has granularity ${JSON.stringify(granularity)}: use month, day or hour, or leave it out.`);
    }
    // A series with nothing stored yet (max() of no rows) is no cursor, not an error.
    if (record.start === null) return;
    this.add(this.fromMessage, meterId, { granularity, metric: text(record.metric), point: checkPoint(record.start, `${where}.start`) });
  }

  private readMeter(meter: unknown): void {
    if (!meter || typeof meter !== 'object') return;
    const record = meter as { _id?: unknown; root?: { _id?: unknown }; lastStored?: unknown };
    if (record.lastStored === undefined || record.lastStored === null) return;
    const meterId = text(record.root?._id) ?? text(record._id);
    if (meterId) this.readValue(this.fromMeters, meterId, record.lastStored, `lastStored of meter ${meterId}`);
  }

  private readValue(target: Map<string, StoredEntry[]>, meterId: string, value: unknown, where: string): void {
    if (value === null) return;
    if (typeof value === 'object') {
      for (const [metric, point] of Object.entries(value as Record<string, unknown>)) {
        if (point !== null) this.add(target, meterId, { metric, point: checkPoint(point, `${where}.${metric}`) });
      }
      return;
    }
    this.add(target, meterId, { point: checkPoint(value, where) });
  }
}
