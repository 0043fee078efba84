import { ServiceError, isServiceError, sanitiseServiceText } from '../http/errors';

/** Which call failed: the advice differs between triggering a paid collection and reading data. */
export type UtilityApiOperation = 'trigger' | 'status' | 'intervals';

const WHAT: Record<UtilityApiOperation, string> = {
  trigger: 'triggering the historical collection',
  status: 'checking the meters\' collection status',
  intervals: 'fetching interval data',
};

function seconds(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

function attemptsText(attempts: number): string {
  return attempts > 1 ? ` after ${attempts} attempts` : '';
}

/**
 * Rewrites a shared-client error into UtilityAPI's terms: what the status means for this API
 * and what the user has to do. The result is still a ServiceError with the same code, status
 * and attempt count, so node status and `msg.statusCode` stay right. Other errors pass through.
 */
export function explainUtilityApiError(error: unknown, operation: UtilityApiOperation, meters: readonly string[] = []): unknown {
  if (!isServiceError(error) || error.code === 'CANCELLED' || error.code === 'CONFIG') return error;
  const what = WHAT[operation];
  const said = error.serviceMessage ? ` UtilityAPI said: "${error.serviceMessage}".` : '';
  const meterList = meters.length ? ` (${listUids(meters)})` : '';
  let message: string | undefined;
  switch (error.status) {
    case 400:
      if (operation === 'trigger') return explainCollectionRefusal(error.serviceMessage, meters);
      message = `UtilityAPI refused the request as invalid while ${what} (HTTP 400).${said} Check the meter uids${operation === 'intervals' ? ' and the interval window (msg.start, msg.end: ISO 8601 or YYYY-MM-DD)' : ''}.`;
      break;
    case 401:
      message = `UtilityAPI did not accept the API token while ${what} (HTTP 401). Check the token in the UtilityAPI config node; if it expired or was revoked, create a new one in the UtilityAPI dashboard under Settings → API settings.`;
      break;
    case 402:
      message = `UtilityAPI needs a positive pre-paid balance to collect data (HTTP 402 Payment Required).${said} Top up the balance in your UtilityAPI settings (pre-pay for data collections); it cannot be paid through the API. Not retried: trigger again after topping up.`;
      break;
    case 404:
      message = `UtilityAPI found none of the meters${meterList}, or the API token may not see them, while ${what} (HTTP 404). Check the meter uids (as UtilityAPI shows them) and that the token belongs to the account that holds their authorizations.`;
      break;
    case 429:
      message =
        error.retryAfterMs !== undefined && error.attempts <= 1
          ? `UtilityAPI is rate limiting and asked to wait ${seconds(error.retryAfterMs)} (Retry-After), longer than the node waits on its own, while ${what}. Try again after that time.`
          : `UtilityAPI kept rate limiting while ${what} (HTTP 429)${attemptsText(error.attempts)}, although each retry waited as its Retry-After said. Lower "Requests / s" in the UtilityAPI config node or try again later.`;
      break;
    case 500:
      message = `UtilityAPI had an internal error while ${what} (HTTP 500)${attemptsText(error.attempts)}. UtilityAPI logs these and fixes them; try again later.`;
      break;
    case 503:
      message = `UtilityAPI is down for maintenance (HTTP 503) and was still unavailable${attemptsText(error.attempts)} while ${what}. Try again later.`;
      break;
    case 504:
      message = `UtilityAPI timed out building its answer while ${what} (HTTP 504)${attemptsText(error.attempts)}. Try again later${operation === 'trigger' ? ', or lower the batch size so each request carries fewer meters' : ''}.`;
      break;
    default:
      return error;
  }
  const explained = new ServiceError(message, {
    code: error.code,
    status: error.status,
    service: error.service ?? 'utilityapi',
    serviceMessage: error.serviceMessage,
    retryable: error.retryable,
    retryAfterMs: error.retryAfterMs,
    attempts: error.attempts,
    cause: error,
  });
  return explained;
}

/**
 * The 400 error types the historical-collection documentation lists ("Check the error in the
 * response for the type of error", utilityapi.com/docs/api/meters/historical-collection), with
 * what each means for the user. UtilityAPI may add types; an unknown one is shown as it is.
 */
export const COLLECTION_ERROR_TYPES: Record<string, (meters: string) => string> = {
  required_param_missing: (meters) =>
    `UtilityAPI says the request carried no meters list (HTTP 400 required_param_missing) for${meters}. The node always sends one, so something between Node-RED and UtilityAPI (a proxy) changed the request body: check the proxy settings of the UtilityAPI config node. Nothing was collected for these meters.`,
  invalid_param: (meters) =>
    `UtilityAPI refused values in the meters list (HTTP 400 invalid_param) for${meters}. Check that they are meter uids as UtilityAPI shows them (not authorization uids or the utility's meter numbers) and that the months are from 1 to 36. Nothing was collected for these meters.`,
  expired_or_revoked: (meters) =>
    `The authorization of every meter in the request${meters} is expired or revoked (HTTP 400 expired_or_revoked), so UtilityAPI cannot collect their data. The customer must renew the authorization (authorize again through your UtilityAPI form or the dashboard); then trigger the collection again.`,
};

/**
 * The error type in a 400 answer. The documentation names the types but shows no body, so the
 * type is looked for where APIs put it (`type`, `error`, `error.type`, `errors[].type`), and
 * else a documented type anywhere in the text.
 */
export function collectionErrorType(body: unknown): string | undefined {
  const text = typeof body === 'string' ? body : body === undefined || body === null ? '' : JSON.stringify(body);
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
  }
  const typeIn = (value: unknown): string | undefined => {
    if (typeof value === 'string') return /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/.test(value) ? value : undefined;
    if (Array.isArray(value)) return value.map(typeIn).find((type) => type !== undefined);
    if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      return typeIn(record.type) ?? typeIn(record.error_type) ?? typeIn(record.code) ?? typeIn(record.error) ?? typeIn(record.errors);
    }
    return undefined;
  };
  return typeIn(parsed) ?? Object.keys(COLLECTION_ERROR_TYPES).find((type) => text.includes(type));
}

/** UtilityAPI's own explanation in a 400 body: its `msg`/`message` text, else the body itself. */
function refusalText(body: unknown): string | undefined {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return sanitiseServiceText(body);
    }
  }
  const textIn = (value: unknown): string | undefined => {
    if (Array.isArray(value)) return value.map(textIn).find((text) => text !== undefined);
    if (!value || typeof value !== 'object') return undefined;
    const record = value as Record<string, unknown>;
    for (const key of ['msg', 'message', 'detail', 'description']) if (typeof record[key] === 'string' && record[key]) return record[key] as string;
    // `error` may hold the type (`invalid_param`) or a sentence.
    if (typeof record.error === 'string' && !/^[a-z0-9_]+$/.test(record.error)) return record.error;
    return textIn(record.errors) ?? textIn(record.error);
  };
  return sanitiseServiceText(textIn(parsed) ?? (typeof parsed === 'string' ? parsed : body));
}

/** A historical collection refused with 400, with its error type when UtilityAPI gave one. */
export class CollectionRefusal extends ServiceError {
  constructor(
    message: string,
    readonly errorType: string | undefined,
    serviceMessage: string | undefined,
  ) {
    super(message, { code: 'BAD_REQUEST', status: 400, service: 'utilityapi', serviceMessage });
  }
}

/** What a 400 to POST /meters/historical-collection means and what to do, by its error type. */
export function explainCollectionRefusal(body: unknown, meters: readonly string[]): CollectionRefusal {
  const type = collectionErrorType(body);
  const serviceMessage = refusalText(body);
  const meterList = meters.length ? ` (${listUids(meters)})` : '';
  const said = serviceMessage ? ` UtilityAPI said: "${serviceMessage}".` : '';
  const known = type ? COLLECTION_ERROR_TYPES[type] : undefined;
  if (known) return new CollectionRefusal(`${known(meterList)}${said}`, type, serviceMessage);
  if (type) {
    return new CollectionRefusal(`UtilityAPI refused the historical collection for the meters${meterList} (HTTP 400 ${type}).${said} Check the meter uids and the months.`, type, serviceMessage);
  }
  return new CollectionRefusal(
    `UtilityAPI refused the historical collection as invalid (HTTP 400).${said || ' It gave no reason.'} UtilityAPI also answers 400 when every meter in the request${meterList} belongs to a revoked or expired authorization: ask the customer to authorize again, or remove those meters.`,
    undefined,
    serviceMessage,
  );
}

/** At most ten uids, so an error text stays readable for a list of thousands. */
export function listUids(uids: readonly string[], max = 10): string {
  const shown = uids.slice(0, max).join(', ');
  return uids.length > max ? `${shown} and ${uids.length - max} more` : shown;
}
