/** The parts of Metry's API objects the nodes rely on (service-contracts §1.4). */
import { ServiceError } from '../http/errors';
import type { MetryGranularity } from './periods';

export interface MetryStatsEntry {
  count?: number;
  sum?: number | null;
  min?: number | null;
  max?: number | null;
  first?: string | number | null;
  last?: string | number | null;
}

/** Per metric, per granularity: what data Metry has for a meter. */
export type ConsumptionStats = Record<string, Partial<Record<MetryGranularity, MetryStatsEntry | null>> | null | undefined>;

export interface MetryMeter {
  _id: string;
  root?: { _id: string; holder?: unknown };
  name?: string;
  ean?: string;
  address?: unknown;
  tags?: unknown;
  type?: string;
  metrics?: string[];
  timezone?: string;
  box?: string;
  revoked?: boolean;
  assigner?: { _id?: string; [key: string]: unknown } | null;
  consumption_stats?: ConsumptionStats;
  /** Added by metry-meters: the user's own id for this meter. */
  mappedId?: string;
  [key: string]: unknown;
}

export interface MetrySubaccount {
  _id: string;
  name?: string;
  custom_identifier?: string | null;
  [key: string]: unknown;
}

/** A list response: `count` says how many there are in all, `skip`/`limit` which page this is. */
export interface MetryListEnvelope<T> {
  code?: number;
  message?: string;
  count?: number;
  skip?: number;
  limit?: number;
  data?: T[];
}

export interface MetryConsumptionPeriod {
  start_date: string;
  end_date?: string;
  [metric: string]: unknown;
}

export interface MetryConsumptionEntry {
  meter_id: string;
  periods: MetryConsumptionPeriod[];
}

export interface MetryConsumptionEnvelope {
  code?: number;
  message?: string;
  data?: MetryConsumptionEntry[] | MetryConsumptionEntry;
}

/** The metrics Metry documents for consumption, with their units. */
export const METRY_METRIC_UNITS: Readonly<Record<string, string>> = {
  energy: 'kWh',
  estimated_energy: 'kWh',
  energy_hightariff: 'kWh',
  energy_lowtariff: 'kWh',
  flow: 'm3',
  estimated_flow: 'm3',
  temperature: '°C',
  return_temperature: '°C',
  supply_temperature: '°C',
  tvoc: 'ppm',
  co2: 'ppm',
};

export const METRY_METRICS = Object.keys(METRY_METRIC_UNITS);

/** Metry's limit on values (slots × metrics × meters) in one consumption request. */
export const METRY_MAX_VALUES_PER_REQUEST = 100_000;

/** The id to use for mapping and consumption calls: `root._id`, falling back to `_id`. */
export function meterKey(meter: Pick<MetryMeter, '_id' | 'root'>): string {
  return meter.root?._id || meter._id;
}

/** Reads a metrics setting (`energy, flow`) and refuses names Metry does not document. */
export function parseMetrics(text: unknown): string[] {
  const list = Array.isArray(text) ? text.map(String) : String(text ?? '').split(/[\s,]+/);
  const metrics = [...new Set(list.map((m) => m.trim()).filter((m) => m !== ''))];
  const unknown = metrics.filter((m) => !(m in METRY_METRIC_UNITS));
  if (metrics.length === 0 || unknown.length > 0) {
    const what = metrics.length === 0 ? 'No metric is set' : `Unknown metric ${unknown.map((m) => `"${m}"`).join(', ')}`;
    throw new ServiceError(`${what}. Use one or more of ${METRY_METRICS.join(', ')}.`, { code: 'CONFIG', service: 'metry' });
  }
  return metrics;
}
