/**
 * What the per-meter series share with consumption: which failures skip one meter and how that
 * is reported; and what costs and register readings share besides: one GET
 * per meter and period answering `{data: [entry]}`, a meter's time zone looked up when the input
 * did not carry it, and the rule that a meter Metry refuses (403: removed or revoked by the user;
 * 404: no such meter) is skipped and reported while the rest goes on.
 */
import type { HttpRequester } from '../http/client';
import { ServiceError, isServiceError } from '../http/errors';
import type { SkippedEvent, SkippedMeter } from './export';
import { MeterFinder } from './meter-finder';
import { ConsumptionMeter, meterTimezone } from './plan';
import { isValidTimeZone } from '../time-zone';

/** True for errors that concern one meter only; the rest of the run goes on. */
export function isMeterGone(error: unknown): error is ServiceError {
  return isServiceError(error) && (error.status === 403 || error.status === 404);
}

/** A bare id the account's meter listing does not have. */
export function notListed(meter: ConsumptionMeter): SkippedMeter {
  return {
    meterId: meter.id,
    mappedId: meter.mappedId,
    code: 'NOT_LISTED',
    reason: 'Metry does not list this meter for the token (GET /meters?revoked=false, every box): check the id (use root._id) or whether the user removed the meter.',
  };
}

/** A meter Metry refused (403: removed or revoked by the user) or does not know (404). */
export function skipFor(meter: ConsumptionMeter, error: ServiceError): SkippedMeter {
  const reason = error.status === 403
    ? 'Metry refused access to this meter (403): the user removed it or revoked access. Remove it from your mapping or ask the user to restore it.'
    : 'Metry has no meter with this id (404). Check the id or remove it from your mapping.';
  return { meterId: meter.id, mappedId: meter.mappedId, name: meter.name, status: error.status, code: error.code, reason };
}

export function skippedEvent(meter: ConsumptionMeter, code: string, reason: string, status?: number): SkippedEvent {
  const event: SkippedEvent = { type: 'skipped', meterId: meter.id, code, reason };
  if (meter.mappedId !== undefined) event.mappedId = meter.mappedId;
  if (meter.name !== undefined) event.name = meter.name;
  if (status !== undefined) event.status = status;
  return event;
}

export function goneEvent(meter: ConsumptionMeter, error: ServiceError): SkippedEvent {
  return { type: 'skipped', ...skipFor(meter, error) };
}

export type ZonedMeter = ConsumptionMeter & { timezone: string };

/**
 * The meters with their time zones: as given, or from the account's meter listing (Metry reads
 * every period in the meter's zone, so it must be known to turn slots into instants). A bare id
 * the account does not list is skipped and reported, as the consumption export does.
 */
export async function withTimezones(requester: HttpRequester, meters: readonly ConsumptionMeter[], fallback: string | undefined, signal?: AbortSignal): Promise<{ ready: ZonedMeter[]; skipped: SkippedEvent[] }> {
  const bare = meters.filter((meter) => !isValidTimeZone(meter.timezone));
  const found = bare.length > 0 ? await new MeterFinder(requester, { signal }).find(bare.map((meter) => meter.id)) : new Map<string, ConsumptionMeter>();
  const ready: ZonedMeter[] = [];
  const skipped: SkippedEvent[] = [];
  for (const meter of meters) {
    if (isValidTimeZone(meter.timezone)) {
      ready.push(meter as ZonedMeter);
      continue;
    }
    const listed = found.get(meter.id);
    if (listed) ready.push({ ...listed, mappedId: meter.mappedId ?? listed.mappedId, timezone: meterTimezone(listed, fallback) });
    else skipped.push({ type: 'skipped', ...notListed(meter) });
  }
  return { ready, skipped };
}

/** One GET answering a Metry envelope whose `data` holds the meter's entry. */
export async function getEntry<T>(requester: HttpRequester, path: string, query: Record<string, string>, what: string, signal?: AbortSignal): Promise<T> {
  const response = await requester.request<{ data?: T[] | T }>({ path, query, what, signal, responseType: 'json' });
  const data = response.data?.data;
  const entry = Array.isArray(data) ? data[0] : data;
  if (!entry || typeof entry !== 'object') {
    throw new ServiceError(`Metry sent an answer without data (${what}). Check that the base URL points at the Metry API (…/api/v2).`, { code: 'INVALID_RESPONSE', service: 'metry' });
  }
  return entry;
}
