/**
 * What the intellimeter-data node does, without Node-RED: its settings (checked once, with a
 * clear error per bad field) and one run of the chosen operation.
 */
import { ServiceError } from '../http/errors';
import type { Reading } from '../readings';
import { FileType, HistoryMetric, IntellimeterApi, ResponseType, checkFileType, checkResponseType } from './api';
import type { NewReadingsFilter } from './poller';
import { resolveTimeZone } from './zone';

export const OPERATIONS = ['data', 'interval', 'file', 'point'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** The node's configuration as the editor saves it. */
export interface IntellimeterDataConfig {
  operation?: string;
  responseType?: string;
  fileType?: string;
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
  responseType: ResponseType;
  fileType: FileType;
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

function configError(message: string): ServiceError {
  return new ServiceError(message, { code: 'CONFIG', service: 'intellimeter' });
}

export function parseSettings(config: IntellimeterDataConfig): DataSettings {
  const operation = (config.operation || 'data') as Operation;
  if (!(OPERATIONS as readonly string[]).includes(operation)) throw configError(`"${String(config.operation)}" is not an operation of this node. Choose latest readings, latest interval readings, history file or meter information.`);
  const pointBy = config.pointBy === 'id' ? 'id' : 'name';
  const historyMetric: HistoryMetric = config.historyMetric === 'interval' ? 'interval' : 'register';
  let pollMs = 0;
  if (config.poll && (operation === 'data' || operation === 'interval')) {
    const raw = config.pollMinutes === undefined || config.pollMinutes === '' ? DEFAULT_POLL_MINUTES : Number(config.pollMinutes);
    if (!Number.isFinite(raw) || raw < MIN_POLL_MINUTES) throw configError(`The poll interval "${String(config.pollMinutes)}" is not a number of minutes of at least ${MIN_POLL_MINUTES}. Intellimeter updates every 5 minutes; 5 is a good choice.`);
    pollMs = Math.round(raw * 60_000);
  }
  return {
    operation,
    responseType: checkResponseType(config.responseType),
    fileType: checkFileType(config.fileType),
    pointBy,
    historyMetric,
    unit: config.unit === undefined ? 'kWh' : String(config.unit).trim(),
    zone: resolveTimeZone(config.timeZone),
    pollMs,
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
      const parsed = settings.operation === 'data'
        ? await api.latestReadings({ ...common, responseType: settings.responseType })
        : await api.latestIntervals({ ...common, responseType: settings.responseType });
      const readings = settings.onlyNew && filter ? filter.take(parsed.readings) : parsed.readings;
      return { kind: 'readings', readings, problems: parsed.problems, received: parsed.readings.length };
    }
    case 'file': {
      const meter = input.meter === undefined || input.meter === null ? undefined : String(input.meter);
      const parsed = await api.history({ ...common, start: input.start, end: input.end, fileType: settings.fileType, meter, metric: settings.historyMetric });
      return { kind: 'readings', readings: parsed.readings, problems: parsed.problems, received: parsed.readings.length };
    }
    case 'point': {
      const point = await api.point({ by: settings.pointBy, value: input.meter === undefined || input.meter === null ? '' : String(input.meter), responseType: settings.responseType });
      return { kind: 'point', point };
    }
  }
}
