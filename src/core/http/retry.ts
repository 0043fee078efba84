export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables retrying. */
  maxRetries: number;
  /** First backoff delay in ms; doubles on every retry. */
  baseDelayMs: number;
  /** Upper bound for one backoff delay. */
  maxDelayMs: number;
  /**
   * A Retry-After longer than this is not waited out: the request fails with RATE_LIMITED or
   * UNAVAILABLE so the flow can decide, instead of a node that hangs for an hour.
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: 4,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 5 * 60_000,
};

/**
 * Exponential backoff with "equal jitter": half the delay is fixed so retries never fire
 * back-to-back, half is random so many clients do not retry in lockstep.
 */
export function backoffDelay(retryNumber: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retryNumber - 1));
  const half = exponential / 2;
  return Math.round(half + random() * half);
}

/**
 * Parses a Retry-After header: either delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
 * Returns the wait in ms from `now`, or undefined when the header is absent or unusable.
 */
export function parseRetryAfter(header: unknown, now: number): number | undefined {
  if (header === undefined || header === null) return undefined;
  const text = String(Array.isArray(header) ? header[0] : header).trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const when = Date.parse(text);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, when - now);
}
