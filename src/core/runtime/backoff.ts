/**
 * The package's one retry policy and backoff: HTTP retries, DSMR-reader queue delivery and P1
 * reconnects all wait the delays computed here, from a policy object each of them names.
 */
export interface BackoffPolicy {
  /** First delay in ms; doubles on every further failure. */
  baseDelayMs: number;
  /** Upper bound for one delay. */
  maxDelayMs: number;
  /**
   * With jitter, half the delay is fixed so retries never fire back-to-back and half is random
   * so many clients do not retry in lockstep ("equal jitter"). Without, delays are exact, which
   * suits a single local connection such as a P1 dongle.
   */
  jitter: boolean;
}

export interface RetryPolicy extends BackoffPolicy {
  /** Retries after the first attempt; 0 disables retrying. */
  maxRetries: number;
  /**
   * A Retry-After longer than this is not waited out: the request fails with RATE_LIMITED or
   * UNAVAILABLE so the flow can decide, instead of a node that hangs for an hour.
   */
  maxRetryAfterMs: number;
  /**
   * A 429 without Retry-After (Metry documents none) says "too fast" but not for how long: it is
   * retried with the same doubling, each wait up to `rateLimitMaxDelayMs`, until the waits for
   * it add up to `rateLimitMaxWaitMs`; `maxRetries` does not count these. Unset: 2 and 10 min.
   */
  rateLimitMaxDelayMs?: number;
  rateLimitMaxWaitMs?: number;
}

/** HTTP requests to the cloud services. */
export const HTTP_RETRY_POLICY: RetryPolicy = {
  maxRetries: 4,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  jitter: true,
  maxRetryAfterMs: 5 * 60_000,
  rateLimitMaxDelayMs: 2 * 60_000,
  rateLimitMaxWaitMs: 10 * 60_000,
};

/** Reopening a P1 serial port, socket or file: 1, 2, 4, 5, 5 … s. */
export const RECONNECT_BACKOFF: BackoffPolicy = { baseDelayMs: 1000, maxDelayMs: 5000, jitter: false };

/** The delay before retry number `retryNumber` (1 for the first retry). */
export function backoffDelay(retryNumber: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retryNumber - 1));
  if (!policy.jitter) return exponential;
  const half = exponential / 2;
  return Math.round(half + random() * half);
}

/** Counts consecutive failures of one connection or delivery loop and gives the next delay. */
export class Backoff {
  private count = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  /** Failures since the last success. */
  get failures(): number {
    return this.count;
  }

  /** Records a failure and returns how long to wait before the next attempt. */
  nextDelay(): number {
    this.count += 1;
    return backoffDelay(this.count, this.policy, this.random);
  }

  /** A success: the next failure starts again at the base delay. */
  reset(): void {
    this.count = 0;
  }
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
