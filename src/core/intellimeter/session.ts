import type { AuthStrategy, OutgoingHeaders } from '../http/auth';
import type { ServiceHttpClient } from '../http/client';
import { ServiceError } from '../http/errors';

export type IntellimeterLogin = { apiKey: string } | { username: string; password: string };

/**
 * Intellimeter's legacy API keeps a server-side session: PUT /session logs in and the session
 * travels as a cookie. The strategy logs in lazily before the first request, logs in again once
 * after a 401, and logs out when the client closes.
 */
export function createIntellimeterSessionAuth(login: IntellimeterLogin): AuthStrategy {
  let cookie: string | undefined;
  let loggingIn: Promise<void> | undefined;

  const form: Record<string, string> = 'apiKey' in login ? { key: login.apiKey } : { username: login.username, password: login.password };
  const secrets = 'apiKey' in login ? [login.apiKey] : [login.password];

  async function logIn(client: ServiceHttpClient, signal: AbortSignal): Promise<void> {
    cookie = undefined;
    const response = await client.request<unknown>({
      method: 'PUT',
      path: '/session',
      form,
      what: 'logging in',
      signal,
      // The login request itself must not go through the session logic.
      headers: { 'X-Intellimeter-Login': '1' },
    });
    const setCookie = response.headers['set-cookie'];
    if (!setCookie) {
      throw new ServiceError('Intellimeter accepted the login but sent no session cookie. Check the base URL points at the Intellimeter API.', { code: 'INVALID_RESPONSE', service: 'intellimeter' });
    }
    cookie = setCookie
      .split(/\n/)
      .map((line) => line.split(';')[0].trim())
      .filter(Boolean)
      .join('; ');
  }

  return {
    async apply(headers: OutgoingHeaders, client: ServiceHttpClient, signal: AbortSignal) {
      if (headers['X-Intellimeter-Login']) {
        delete headers['X-Intellimeter-Login'];
        return;
      }
      if (!cookie) {
        loggingIn ??= logIn(client, signal).finally(() => {
          loggingIn = undefined;
        });
        await loggingIn;
      }
      if (cookie) headers.Cookie = cookie;
    },
    async onUnauthorized(client: ServiceHttpClient, signal: AbortSignal) {
      cookie = undefined;
      try {
        loggingIn ??= logIn(client, signal).finally(() => {
          loggingIn = undefined;
        });
        await loggingIn;
        return true;
      } catch {
        return false;
      }
    },
    async close(client: ServiceHttpClient) {
      if (!cookie) return;
      const sessionCookie = cookie;
      try {
        await client.request({ method: 'DELETE', path: '/session', what: 'logging out', retry: false, timeoutMs: 5000, headers: { 'X-Intellimeter-Login': '1', Cookie: sessionCookie } });
      } finally {
        cookie = undefined;
      }
    },
    secrets: () => [...secrets, ...(cookie ? [cookie] : [])],
  };
}
