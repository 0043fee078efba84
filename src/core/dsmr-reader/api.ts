/**
 * The two DSMR-reader endpoints this package writes to, and what each answer means for a queue.
 *
 *   POST /api/v1/datalogger/dsmrreading  form field `telegram` (the raw telegram)
 *   POST /api/v2/datalogger/dsmrreading  JSON reading
 *
 * 200 (before DSMR-reader 1.6) and 201 are success. A wrong key (403) or a disabled API (405;
 * v2 says 403 for both) is the user's to fix, so delivery pauses and keeps the queue. A 400 or
 * the 500 "Failed to parse telegram" is about that one item: it is reported and dropped so the
 * rest can flow. Anything else (other 5xx, timeouts, a server that is down) is retried.
 */
import type { HttpRequester, HttpResponse } from '../http/client';
import { isServiceError } from '../http/errors';
import { DsmrReaderError } from './errors';
import type { DsmrReaderPost } from './prepare';

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

const KEPT = 'Delivery is paused and every queued item is kept';
const RESUME = 'sending resumes by itself (checked every few minutes) or at the next deploy';

/**
 * What the queue should do after a failed post. The returned error carries DSMR-reader's own
 * text and says what the user can do about it.
 */
export function classifyFailure(error: unknown, api: 'v1' | 'v2'): DsmrReaderError {
  const item = api === 'v1' ? 'telegram' : 'reading';
  if (!isServiceError(error)) {
    const reason = error instanceof Error ? error.message : String(error);
    return new DsmrReaderError(`Delivering to DSMR-reader failed unexpectedly (${reason}). The ${item} stays queued and is retried.`, { code: 'DELIVERY', action: 'retry', statusText: 'error', cause: error });
  }
  const said = error.serviceMessage ? ` DSMR-reader said: "${error.serviceMessage}".` : '';
  const status = error.status;
  const details = { code: 'DELIVERY' as const, status, serviceMessage: error.serviceMessage, cause: error };
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
      `DSMR-reader rejected the ${item} as invalid (HTTP 400).${said} ${api === 'v1' ? 'The telegram field was empty or not accepted.' : 'A field is missing or out of range; the text above names it.'} This ${item} is dropped so the rest of the queue can be delivered.`,
      { ...details, action: 'reject' },
    );
  }
  if (status === 500 && /failed to parse telegram/i.test(error.serviceMessage ?? '')) {
    return new DsmrReaderError(
      `DSMR-reader could not parse the telegram (HTTP 500).${said} Check DSMR-reader's datalogger setting "DSMR version" (dsmr_version): it must match the meter (Belgian Fluvius meters need "Belgium", DSMR 2.2/3 meters need "DSMR v2/3", Luxembourg Smarty needs "Luxembourg"), and the meter clock must not be more than 24 hours ahead. This telegram is dropped so the rest of the queue can be delivered.`,
      { ...details, action: 'reject' },
    );
  }
  if (error.retryable || status === undefined || status >= 500) {
    return new DsmrReaderError(`${error.message} The ${item} stays queued, in order.`, { ...details, action: 'retry', statusText: error.statusText });
  }
  return new DsmrReaderError(`DSMR-reader did not accept the ${item} (HTTP ${status}).${said} This ${item} is dropped so the rest of the queue can be delivered.`, { ...details, action: 'reject' });
}
