import type { RequestOptions, ServiceHttpClient } from './client';

/** The headers of one outgoing request, which an AuthStrategy may add to. */
export type OutgoingHeaders = Record<string, string>;

/**
 * How a service authenticates. The client asks the strategy to add credentials to every request
 * and, on a 401, whether logging in again is worth one more try (Intellimeter sessions).
 */
export interface AuthStrategy {
  /**
   * Runs before a request waits for a concurrency slot, for work that itself needs a request
   * (a session login): done inside `apply`, which runs while the slot is held, it would wait for
   * a slot that only it could free.
   */
  prepare?(client: ServiceHttpClient, request: RequestOptions, signal: AbortSignal): Promise<void>;
  apply(headers: OutgoingHeaders, client: ServiceHttpClient, signal: AbortSignal): Promise<void> | void;
  /** Resolves true when the failed request should be sent once more, e.g. after a new login. */
  onUnauthorized?(client: ServiceHttpClient, signal: AbortSignal): Promise<boolean>;
  /** Releases a server-side session, if any. */
  close?(client: ServiceHttpClient): Promise<void>;
  /** Values that must never appear in an error text or a log line. */
  secrets(): string[];
}

export const noAuth: AuthStrategy = {
  apply: () => undefined,
  secrets: () => [],
};

/** `Authorization: Bearer <token>`, as Metry and UtilityAPI want it; never a token in the URL. */
export function bearerAuth(token: string): AuthStrategy {
  return {
    apply(headers) {
      headers.Authorization = `Bearer ${token}`;
    },
    secrets: () => [token],
  };
}

/** A key in a header of its own, as DSMR-reader's `X-AUTHKEY`. */
export function headerAuth(headerName: string, value: string): AuthStrategy {
  return {
    apply(headers) {
      headers[headerName] = value;
    },
    secrets: () => [value],
  };
}
