/**
 * What the intellimeter-data node does, without Node-RED: its settings (checked once, with a
 * clear error per bad field) and one run of the chosen operation.
 */
import type { Reading } from '../readings';
import { ConfigError, readChoice, readNumber } from '../runtime/options';
import { hostTimeZone, isValidTimeZone } from '../time-zone';
import { HistoryMetric, IntellimeterApi } from './api';
import type { NewReadingsFilter } from './poller';

export const OPERATIONS = ['data', 'interval', 'file', 'point'] as const;
export type Operation = (typeof OPERATIONS)[number];

/**
 * The node's configuration as the editor saves it. Flows saved before version 2 may also hold
 * `responseType` (json/xml/yaml) and `fileType` (csv/json/xml/yaml): they are ignored, as the
 * node now always asks for JSON and its output never depended on the format.
 */
export interface IntellimeterDataConfig {
  operation?: string;
  start?: string;
  startType?: string;
  end?: string;
  endType?: string;
  meter?: string;
  meterType?: string;
  pointBy?: string;
  historyMetric?: string;
  unit?: string;
  timeZone?: string;
  poll?: boolean;
  pollMinutes?: number | string;
  onlyNew?: boolean;
  persist?: boolean;
}

export interface DataSettings {
  operation: Operation;
  pointBy: 'name' | 'id';
  historyMetric: HistoryMetric;
  unit: string;
  zone: string;
  /** Poll interval in ms; 0 when the node only runs on input. */
  pollMs: number;
  /** Emit only readings newer than those already emitted (latest and interval readings). */
  onlyNew: boolean;
  /** Keep the newest time stamps in node context. */
  persist: boolean;
}

export const DEFAULT_POLL_MINUTES = 5;
/** The API updates every 5 minutes; polling more often than every minute only adds load. */
export const MIN_POLL_MINUTES = 1;
/** A day; longer gaps are a scheduled backfill, better done with the history file. */
export const MAX_POLL_MINUTES = 1440;

/** The zone the API's wall times are in: an IANA name, or empty for the host's zone. */
export function readTimeZone(value: unknown): string {
  const zone = typeof value === 'string' ? value.trim() : '';
  if (!zone) return hostTimeZone();
  if (!isValidTimeZone(zone)) {
    throw new ConfigError(`"${zone}" is not a time zone this system knows. Enter an IANA zone name such as America/Toronto or Europe/Amsterdam, or leave the field empty for the Node-RED host's zone.`, 'Time zone');
  }
  return zone;
}

export function readDataSettings(config: IntellimeterDataConfig): DataSettings {
  const operation = readChoice(config.operation, 'Operation', OPERATIONS, 'data');
  const latest = operation === 'data' || operation === 'interval';
  const pollMinutes = config.poll === true && latest
    ? readNumber(config.pollMinutes, { field: 'Every', min: MIN_POLL_MINUTES, max: MAX_POLL_MINUTES, default: DEFAULT_POLL_MINUTES, unit: 'minutes (Intellimeter updates every 5 minutes; 5 is a good choice)' })
    : 0;
  return {
    operation,
    pointBy: readChoice(config.pointBy, 'Find meter by', ['name', 'id'] as const, 'name'),
    historyMetric: readChoice(config.historyMetric, 'History values', ['register', 'interval'] as const, 'register'),
    unit: config.unit === undefined ? 'kWh' : String(config.unit).trim(),
    zone: readTimeZone(config.timeZone),
    pollMs: Math.round(pollMinutes * 60_000),
    onlyNew: config.onlyNew !== false,
    persist: config.persist !== false,
  };
}

/** Values evaluated per message from the node's TypedInputs. */
export interface OperationInput {
  start?: unknown;
  end?: unknown;
  meter?: unknown;
}

export type OperationResult =
  | { kind: 'readings'; readings: Reading[]; problems: string[]; received: number }
  | { kind: 'point'; point: Record<string, unknown> };

/**
 * Runs the configured operation once. With `onlyNew`, latest and interval readings pass
 * through `filter`; `received` still counts everything the API sent, for the status.
 */
export async function runOperation(api: IntellimeterApi, settings: DataSettings, input: OperationInput, now: number, filter?: NewReadingsFilter): Promise<OperationResult> {
  const common = { zone: settings.zone, unit: settings.unit, now };
  switch (settings.operation) {
    case 'data':
    case 'interval': {
      const parsed = settings.operation === 'data' ? await api.latestReadings(common) : await api.latestIntervals(common);
      const readings = settings.onlyNew && filter ? filter.take(parsed.readings) : parsed.readings;
      return { kind: 'readings', readings, problems: parsed.problems, received: parsed.readings.length };
    }
    case 'file': {
      const meter = input.meter === undefined || input.meter === null ? undefined : String(input.meter);
      const parsed = await api.history({ ...common, start: input.start, end: input.end, meter, metric: settings.historyMetric });
      return { kind: 'readings', readings: parsed.readings, problems: parsed.problems, received: parsed.readings.length };
    }
    case 'point': {
      const point = await api.point({ by: settings.pointBy, value: input.meter === undefined || input.meter === null ? '' : String(input.meter) });
      return { kind: 'point', point };
    }
  }
}
