import { ServiceError, isServiceError } from '../http/errors';

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
      message =
        operation === 'trigger'
          ? `UtilityAPI refused the historical collection as invalid (HTTP 400).${said || ' It gave no reason.'} UtilityAPI also answers 400 when every meter in the request${meterList} belongs to a revoked or expired authorization: ask the customer to authorize again, or remove those meters.`
          : `UtilityAPI refused the request as invalid while ${what} (HTTP 400).${said} Check the meter uids.`;
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

/** At most ten uids, so an error text stays readable for a list of thousands. */
export function listUids(uids: readonly string[], max = 10): string {
  const shown = uids.slice(0, max).join(', ');
  return uids.length > max ? `${shown} and ${uids.length - max} more` : shown;
}
