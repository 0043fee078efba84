/**
 * Every failure the HTTP core reports is a ServiceError: a short `code` for node status, the HTTP
 * status when there was one, and a message that tells the user what to do. Messages are built
 * only from the service name, the path template and the status: never from request URLs with
 * query strings, headers or bodies, so a secret cannot leak into a log or a Catch node.
 */
export type ServiceErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'PAYMENT_REQUIRED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'SERVER_ERROR'
  | 'UNAVAILABLE'
  | 'NOT_IMPLEMENTED'
  | 'TIMEOUT'
  | 'NETWORK'
  | 'CANCELLED'
  | 'INVALID_RESPONSE'
  | 'CONFIG'
  | 'HTTP_ERROR';

export interface ServiceErrorDetails {
  code: ServiceErrorCode;
  status?: number;
  service?: string;
  /** The service's own short explanation (e.g. DSMR-reader's "Invalid auth key"), already sanitised. */
  serviceMessage?: string;
  retryable?: boolean;
  /** How long the server asked us to wait (ms), from Retry-After. */
  retryAfterMs?: number;
  attempts?: number;
  cause?: unknown;
}

export class ServiceError extends Error {
  readonly code: ServiceErrorCode;
  readonly status?: number;
  readonly service?: string;
  readonly serviceMessage?: string;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  attempts: number;

  constructor(message: string, details: ServiceErrorDetails) {
    super(message);
    this.name = 'ServiceError';
    this.code = details.code;
    this.status = details.status;
    this.service = details.service;
    this.serviceMessage = details.serviceMessage;
    this.retryable = details.retryable ?? false;
    this.retryAfterMs = details.retryAfterMs;
    this.attempts = details.attempts ?? 1;
  }

  /** Short text for a node status, e.g. "401" or "timeout". */
  get statusText(): string {
    if (this.status) return String(this.status);
    return this.code.toLowerCase().replace(/_/g, ' ');
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      status: this.status,
      service: this.service,
      serviceMessage: this.serviceMessage,
      message: this.message,
      attempts: this.attempts,
    };
  }
}

/**
 * True for a ServiceError, also one made by another copy of this module (tests load both the
 * compiled package and its sources), where `instanceof` alone would say no.
 */
export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof ServiceError || (error instanceof Error && error.name === 'ServiceError' && typeof (error as { code?: unknown }).code === 'string');
}

const SERVICE_NAMES: Record<string, string> = {
  metry: 'Metry',
  utilityapi: 'UtilityAPI',
  intellimeter: 'Intellimeter',
  'dsmr-reader': 'DSMR-reader',
};

export function serviceDisplayName(service: string | undefined): string {
  if (!service) return 'the service';
  return SERVICE_NAMES[service] ?? service;
}

/** Status codes the client must never retry on its own: only the user can fix them. */
export const NEVER_RETRY = new Set([400, 401, 402, 403, 404, 405, 409, 422]);

export function isRetryableStatus(status: number): boolean {
  if (NEVER_RETRY.has(status)) return false;
  if (status === 429 || status === 408) return true;
  return status >= 500 && status !== 501;
}

/** Maps an HTTP status to an error with a sentence that tells the user what to do next. */
export function errorForStatus(
  status: number,
  context: { service?: string; what?: string; serviceMessage?: string; retryAfterMs?: number },
): ServiceError {
  const name = serviceDisplayName(context.service);
  const what = context.what ? ` (${context.what})` : '';
  const said = context.serviceMessage ? ` ${name} said: "${context.serviceMessage}".` : '';
  const base = { status, service: context.service, serviceMessage: context.serviceMessage };
  switch (status) {
    case 400:
      return new ServiceError(`${name} rejected the request as invalid${what}.${said} Check the node's settings and the values in the message.`, { ...base, code: 'BAD_REQUEST' });
    case 401:
      return new ServiceError(`${name} did not accept the credentials${what}.${said} Check the token or key in the ${name} config node.`, { ...base, code: 'UNAUTHORIZED' });
    case 402:
      return new ServiceError(`${name} requires payment${what}.${said} Top up the account balance in the ${name} settings; this is not retried.`, { ...base, code: 'PAYMENT_REQUIRED' });
    case 403:
      return new ServiceError(`${name} refused access${what}.${said} Check that the account still has access to this resource and that the key is right.`, { ...base, code: 'FORBIDDEN' });
    case 404:
      return new ServiceError(`${name} found no such resource${what}.${said} Check the id and the base URL in the config node.`, { ...base, code: 'NOT_FOUND' });
    case 405:
      return new ServiceError(`${name} does not allow this request${what}.${said} Check that the API is enabled on the server.`, { ...base, code: 'METHOD_NOT_ALLOWED' });
    case 409:
      return new ServiceError(`${name} reported a conflict${what}.${said}`, { ...base, code: 'CONFLICT' });
    case 429:
      return new ServiceError(`${name} is rate limiting the requests${what}.${said} Lower the requests per second in the config node or wait and try again.`, { ...base, code: 'RATE_LIMITED', retryable: true, retryAfterMs: context.retryAfterMs });
    case 501:
      return new ServiceError(`${name} does not implement this request${what}.${said} Check the base URL and API version.`, { ...base, code: 'NOT_IMPLEMENTED' });
    case 503:
      return new ServiceError(`${name} is temporarily unavailable${what}.${said} It will be retried; if it persists, try again later.`, { ...base, code: 'UNAVAILABLE', retryable: true, retryAfterMs: context.retryAfterMs });
    default:
      if (status >= 500) {
        return new ServiceError(`${name} had a server error (HTTP ${status})${what}.${said} Try again later; if it persists, contact ${name}.`, { ...base, code: 'SERVER_ERROR', retryable: true });
      }
      return new ServiceError(`${name} answered HTTP ${status}${what}.${said}`, { ...base, code: 'HTTP_ERROR', retryable: isRetryableStatus(status) });
  }
}

/** A wait for an error text: seconds up to 2 minutes, then minutes. */
export function formatWait(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

/** A 429 series that outlasted the retry policy's rate-limit budget (`rateLimitMaxWaitMs`). */
export function rateLimitExhausted(last: ServiceError, context: { waitedMs: number; what?: string }): ServiceError {
  const name = serviceDisplayName(last.service);
  const what = context.what ? ` (${context.what})` : '';
  const said = last.serviceMessage ? ` ${name} said: "${last.serviceMessage}".` : '';
  return new ServiceError(
    `${name} kept answering "too many requests" (HTTP 429)${what}: ${last.attempts} attempts over ${formatWait(context.waitedMs)} of waiting, longer each time, which is as long as the client waits.${said} Lower "Requests / s" in the config node, check that nothing else uses the same account at the same time, or try again later.`,
    { code: 'RATE_LIMITED', status: 429, service: last.service, serviceMessage: last.serviceMessage, retryable: true, attempts: last.attempts, cause: last },
  );
}

/** Removes anything that looks like a credential from a text the service sent back. */
export function sanitiseServiceText(text: unknown, secrets: readonly string[] = [], maxLength = 200): string | undefined {
  if (text === undefined || text === null) return undefined;
  let value = typeof text === 'string' ? text : JSON.stringify(text);
  if (!value) return undefined;
  // An HTML error page is noise for the user; keep only its title or first heading if any.
  if (/<html|<!doctype/i.test(value)) {
    const title = /<title>([^<]*)<\/title>/i.exec(value) ?? /<h1>([^<]*)<\/h1>/i.exec(value);
    value = title ? title[1] : 'HTML error page';
  }
  for (const secret of secrets) {
    if (secret && secret.length >= 4) value = value.split(secret).join('***');
  }
  value = value.replace(/\s+/g, ' ').trim();
  if (value.length > maxLength) value = `${value.slice(0, maxLength - 1)}…`;
  return value || undefined;
}
