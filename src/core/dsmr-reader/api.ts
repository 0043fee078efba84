/**
 * The DSMR-reader endpoints this package uses, and what each answer means for a queue.
 *
 *   POST /api/v1/datalogger/dsmrreading  form field `telegram` (the raw telegram)
 *   POST /api/v2/datalogger/dsmrreading  JSON reading
 *   GET  /api/v2/datalogger/dsmrreading  ?timestamp__gte=…&timestamp__lte=…: was a reading stored?
 *
 * 200 (before DSMR-reader 1.6) and 201 are success. A wrong key (403) or a disabled API (405;
 * v2 says 403 for both) is the user's to fix, so delivery pauses and keeps the queue. A 400 or
 * the 500 "Failed to parse telegram" is about that one item: it goes to the dead-letter file so
 * the rest can flow. Anything else (other 5xx, timeouts, a server that is down) is retried; an
 * attempt that may have reached the server is checked with the GET before it is sent again,
 * because DSMR-reader stores every post, the same reading twice included (observed on v5.11).
 */
import type { HttpRequester, HttpResponse } from '../http/client';
import { isServiceError, type ServiceError } from '../http/errors';
import { isConfigError } from '../runtime/options';
import { DsmrReaderError } from './errors';
import { postTimestamp, type DsmrReaderPost } from './prepare';
import { neededDsmrVersion } from './telegram';

export const V1_PATH = '/api/v1/datalogger/dsmrreading';
export const V2_PATH = '/api/v2/datalogger/dsmrreading';

/**
 * The endpoint URL for a base URL as users type it: the server root (http://host:7777), a
 * reverse-proxy prefix (https://host/dsmr) or with the API part already on it (…/api, …/api/v1).
 */
export function endpointUrl(baseUrl: string, api: 'v1' | 'v2'): string {
  const root = baseUrl.trim().replace(/\/+$/, '').replace(/\/api(\/v[12])?$/i, '');
  return `${root}${api === 'v1' ? V1_PATH : V2_PATH}`;
}

/** Sends one queued item exactly once: the queue, not the client, owns retries and their order. */
export function sendPost(requester: HttpRequester, baseUrl: string, post: DsmrReaderPost, signal?: AbortSignal): Promise<HttpResponse<unknown>> {
  if (post.api === 'v1') {
    return requester.request({ method: 'POST', path: endpointUrl(baseUrl, 'v1'), form: { telegram: post.telegram }, what: 'posting a telegram', retry: false, responseType: 'text', signal });
  }
  return requester.request({ method: 'POST', path: endpointUrl(baseUrl, 'v2'), json: post.reading, what: 'posting a reading', retry: false, signal });
}

interface ReadingPage {
  results?: Array<{ timestamp?: unknown }>;
}

/**
 * Whether DSMR-reader has a reading with the post's timestamp; undefined when the post has no
 * timestamp of its own (the answer then only shows that the API works).
 *
 * The filter takes ISO 8601 with offset: DSMR-reader's `timestamp__gte`/`__lte` are django-filter
 * DateTimeFilters [DSMR-reader src dsmr_api/filters.py] on Django's forms.DateTimeField, which
 * parses ISO 8601 with offset since Django 3.1 (its docs only name the older local
 * `Y-m-d HH:MM:SS` form, which depends on the server's time zone). The match is confirmed here
 * by instant, not by text, because DSMR-reader answers in its local offset.
 */
export async function isStored(requester: HttpRequester, baseUrl: string, post: DsmrReaderPost, signal?: AbortSignal): Promise<boolean | undefined> {
  const timestamp = postTimestamp(post);
  const query = timestamp ? { timestamp__gte: timestamp, timestamp__lte: timestamp, limit: 25 } : { ordering: '-timestamp', limit: 1 };
  const response = await requester.request<ReadingPage>({ method: 'GET', path: endpointUrl(baseUrl, 'v2'), query, what: 'checking whether a reading was stored', retry: false, responseType: 'json', signal });
  if (!timestamp) return undefined;
  const wanted = Date.parse(timestamp);
  const results = Array.isArray(response.data?.results) ? response.data.results : [];
  return results.some((reading) => typeof reading.timestamp === 'string' && Date.parse(reading.timestamp) === wanted);
}

/**
 * A failure after which the request may have reached DSMR-reader and been stored: a timeout, a
 * cut or refused connection (the HTTP client does not tell them apart), an answer cut off, or a
 * 5xx (DSMR-reader may fail after it stored the reading). A 503 comes from a server that is not
 * taking requests.
 */
function mayHaveBeenStored(error: ServiceError): boolean {
  if (error.code === 'TIMEOUT' || error.code === 'NETWORK' || error.code === 'INVALID_RESPONSE') return true;
  return error.status !== undefined && error.status >= 500 && error.status !== 503;
}

const KEPT = 'Delivery is paused and every queued item is kept';
const RESUME = 'sending resumes by itself (checked every few minutes) or at the next deploy';

/**
 * What the queue should do after a failed post. The returned error carries DSMR-reader's own
 * text and says what the user can do about it.
 */
export function classifyFailure(error: unknown, post: DsmrReaderPost): DsmrReaderError {
  const api = post.api;
  const item = api === 'v1' ? 'telegram' : 'reading';
  if (isConfigError(error)) {
    // The config node refused a setting at deploy; its error names the field.
    return new DsmrReaderError(`${error.message} ${KEPT} until the config node is fixed and deployed.`, { code: 'DELIVERY', action: 'pause', statusText: 'config', cause: error });
  }
  if (!isServiceError(error)) {
    const reason = error instanceof Error ? error.message : String(error);
    return new DsmrReaderError(`Delivering to DSMR-reader failed unexpectedly (${reason}). The ${item} stays queued and is retried.`, { code: 'DELIVERY', action: 'retry', statusText: 'error', cause: error });
  }
  const said = error.serviceMessage ? ` DSMR-reader said: "${error.serviceMessage}".` : '';
  const status = error.status;
  const details = { code: 'DELIVERY' as const, status, serviceMessage: error.serviceMessage, cause: error, retryAfterMs: error.retryAfterMs };
  if (error.code === 'CANCELLED') {
    return new DsmrReaderError('Delivery stopped because the node was closed or redeployed; the queue is kept.', { ...details, action: 'stop', statusText: 'stopped' });
  }
  if (error.code === 'CONFIG') {
    return new DsmrReaderError(`${error.message} ${KEPT} until the config node is fixed and deployed.`, { ...details, action: 'pause', statusText: 'config' });
  }
  if (status === 401 || status === 403) {
    const disabled = api === 'v2' ? ' or the API is disabled in DSMR-reader (v2 answers 403 for both)' : '';
    return new DsmrReaderError(
      `DSMR-reader refused the API key (HTTP ${status})${disabled}.${said} Copy the API key from DSMR-reader (Configuration > API) into the DSMR-reader config node${api === 'v2' ? ' and check that the API is enabled there' : ''}, then deploy. ${KEPT}; ${RESUME}.`,
      { ...details, action: 'pause' },
    );
  }
  if (status === 405) {
    return new DsmrReaderError(
      `DSMR-reader's API is disabled (HTTP 405).${said} Enable the API in DSMR-reader (Configuration > API, "Allow API"). ${KEPT}; ${RESUME}.`,
      { ...details, action: 'pause' },
    );
  }
  if (status === 404 || (status !== undefined && status >= 300 && status < 400)) {
    return new DsmrReaderError(
      `No DSMR-reader API answered at this address (HTTP ${status}).${said} Check the base URL in the config node: the server root such as http://192.168.1.10:7777 (use https:// if the server redirects). ${KEPT}; ${RESUME}.`,
      { ...details, action: 'pause' },
    );
  }
  if (status === 400) {
    return new DsmrReaderError(
      `DSMR-reader rejected the ${item} as invalid (HTTP 400).${said} ${api === 'v1' ? 'The telegram field was empty or not accepted.' : 'A field is missing or out of range; the text above names it.'} ${MOVED}`,
      { ...details, action: 'reject' },
    );
  }
  if (status === 500 && post.api === 'v1' && /failed to parse telegram/i.test(error.serviceMessage ?? '')) {
    return new DsmrReaderError(
      `DSMR-reader could not parse the telegram (HTTP 500).${said} This telegram needs DSMR-reader's datalogger setting "DSMR version" (dsmr_version, in Configuration > Datalogger) set to ${neededDsmrVersion(post.telegram)}; the other cause is a meter clock more than 24 hours ahead. ${MOVED}`,
      { ...details, action: 'reject' },
    );
  }
  if (error.retryable || status === undefined || status >= 500) {
    const failureKey = status !== undefined && status >= 500 && status !== 503 ? `${status} ${error.serviceMessage ?? ''}` : undefined;
    return new DsmrReaderError(`${error.message} The ${item} stays queued, in order.`, { ...details, action: 'retry', statusText: error.statusText, maybeStored: mayHaveBeenStored(error), failureKey });
  }
  return new DsmrReaderError(`DSMR-reader did not accept the ${item} (HTTP ${status}).${said} ${MOVED}`, { ...details, action: 'reject' });
}

/** The hint every dead-lettered item carries. */
export const RETRY_HINT = 'After fixing the cause, send a message with msg.topic "retry-dead-letters" to the node to send the dead letters again.';

const MOVED = `It was moved to the dead-letter file so the rest of the queue can be delivered. ${RETRY_HINT}`;

/** The report for an item dead-lettered after the same server error on every attempt. */
export function repeatedFailureError(error: DsmrReaderError, post: DsmrReaderPost, attempts: number): DsmrReaderError {
  const item = post.api === 'v1' ? 'telegram' : 'reading';
  const said = error.serviceMessage ? ` ("${error.serviceMessage}")` : '';
  const hint =
    post.api === 'v1'
      ? 'DSMR-reader stores the numbers of a v1 telegram as written, so a value its columns cannot hold (e.g. a meter writing Wh instead of kWh) fails this way every time; the node\'s API mode "v1, v2 for telegrams v1 would store wrongly" posts such telegrams as v2 readings in kWh.'
      : 'Check the reading\'s values against DSMR-reader\'s server log.';
  return new DsmrReaderError(
    `DSMR-reader answered HTTP ${error.status}${said} to this ${item} ${attempts} times while it answered other requests, so the failure belongs to this ${item}. ${hint} ${MOVED}`,
    { code: 'DELIVERY', status: error.status, serviceMessage: error.serviceMessage, action: 'reject', statusText: error.statusText, cause: error },
  );
}
