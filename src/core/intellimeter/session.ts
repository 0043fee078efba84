import type { AuthStrategy, OutgoingHeaders } from '../http/auth';
import type { RequestOptions, ServiceHttpClient } from '../http/client';
import { untilAborted } from '../http/client';
import { ServiceError } from '../http/errors';

export type IntellimeterLogin = { apiKey: string } | { username: string; password: string };

/** Marks the session's own requests (login, logout) so `apply` leaves them alone. */
const SESSION_REQUEST_HEADER = 'X-Intellimeter-Session-Request';

/**
 * Intellimeter's legacy API keeps a server-side session: PUT /session logs in and the session
 * travels as a cookie (the API returns no token, so a cookie is the only carrier).
 *
 * The client calls `apply` while it holds one of the config node's concurrency slots, so `apply`
 * must never send or wait for a request itself: with Intellimeter's default of one request at a
 * time that would wait for its own slot forever. Logging in therefore happens either before a
 * request (`prepare`, which the client calls before taking a slot) or after a 401
 * (`onUnauthorized`, which the client calls with no slot held, once per request).
 */
export interface IntellimeterSession extends AuthStrategy {
  readonly kind: 'intellimeter-session';
  readonly loggedIn: boolean;
  /** Logs in unless a session is open; concurrent callers share one login. */
  prepare(client: ServiceHttpClient, request: RequestOptions, signal: AbortSignal): Promise<void>;
  ensureLoggedIn(client: ServiceHttpClient, signal?: AbortSignal): Promise<void>;
  /** Registers a user of the session; the returned release logs out when the last user goes. */
  retain(client: ServiceHttpClient): () => Promise<void>;
  /** Ends the session on the server (DELETE /session), if one is open. */
  logOut(client: ServiceHttpClient): Promise<void>;
  onUnauthorized(client: ServiceHttpClient, signal: AbortSignal): Promise<boolean>;
  close(client: ServiceHttpClient): Promise<void>;
}

/** The session behind a client's auth, if it is one (works across the compiled and source copies). */
export function intellimeterSessionOf(auth: AuthStrategy | undefined): IntellimeterSession | undefined {
  return (auth as { kind?: unknown } | undefined)?.kind === 'intellimeter-session' ? (auth as IntellimeterSession) : undefined;
}

export function createIntellimeterSessionAuth(login: IntellimeterLogin): IntellimeterSession {
  let cookie: string | undefined;
  let loggingIn: Promise<void> | undefined;
  let loggingOut: Promise<void> | undefined;
  let users = 0;

  const byKey = 'apiKey' in login;
  const form: Record<string, string> = byKey ? { key: login.apiKey } : { username: login.username, password: login.password };
  const secrets = byKey ? [login.apiKey] : [login.password];
  const credentialName = byKey ? 'API key' : 'user name and password';

  async function logIn(client: ServiceHttpClient): Promise<void> {
    cookie = undefined;
    const response = await client.request<unknown>({
      method: 'PUT',
      path: '/session',
      form,
      what: 'logging in',
      headers: { [SESSION_REQUEST_HEADER]: 'login' },
      // A refused login is answered here: through the client's 401 handling it would try to log in again.
      acceptStatus: [401, 403],
      responseType: 'text',
    });
    if (response.status === 401 || response.status === 403) {
      throw new ServiceError(
        `Intellimeter refused the login (HTTP ${response.status}) with the ${credentialName} from the config node. Check it in the Intellimeter config node; an API key stops working when a new one is generated (POST /key).`,
        { code: 'UNAUTHORIZED', status: response.status, service: client.service },
      );
    }
    const setCookie = response.headers['set-cookie'];
    const pairs = (setCookie ?? '')
      .split(/\n/)
      .map((line) => line.split(';')[0].trim())
      .filter((pair) => pair.includes('='));
    if (pairs.length === 0) {
      throw new ServiceError('Intellimeter accepted the login but sent no session cookie. Check that the base URL points at the Intellimeter API (https://api.intellimeter.ca).', {
        code: 'INVALID_RESPONSE',
        service: client.service,
      });
    }
    cookie = pairs.join('; ');
  }

  /** One login at a time, shared by everyone who needs it; it runs on the client's lifetime, not a node's. */
  function sharedLogin(client: ServiceHttpClient, signal: AbortSignal | undefined): Promise<void> {
    if (!loggingIn) {
      const attempt = logIn(client).finally(() => {
        if (loggingIn === attempt) loggingIn = undefined;
      });
      // Callers may all have given up (node closed); the outcome must still not be an unhandled rejection.
      attempt.catch(() => undefined);
      loggingIn = attempt;
    }
    return untilAborted(loggingIn, signal, client.service);
  }

  async function logOut(client: ServiceHttpClient): Promise<void> {
    // A login still under way would leave a session open behind our back: let it finish first.
    if (loggingIn) await loggingIn.catch(() => undefined);
    if (loggingOut) return loggingOut;
    const sessionCookie = cookie;
    if (!sessionCookie) return;
    // Forget the cookie before the DELETE, so nothing else sends it or logs out twice.
    cookie = undefined;
    const attempt = client
      .request({
        method: 'DELETE',
        path: '/session',
        what: 'logging out',
        retry: false,
        timeoutMs: 5000,
        acceptStatus: [401, 403],
        responseType: 'text',
        headers: { [SESSION_REQUEST_HEADER]: 'logout', Cookie: sessionCookie },
      })
      .then(() => undefined)
      .finally(() => {
        loggingOut = undefined;
      });
    loggingOut = attempt;
    return attempt;
  }

  return {
    kind: 'intellimeter-session',
    get loggedIn() {
      return cookie !== undefined;
    },
    apply(headers: OutgoingHeaders) {
      if (headers[SESSION_REQUEST_HEADER]) {
        delete headers[SESSION_REQUEST_HEADER];
        return;
      }
      // Without a cookie the request goes out as is; its 401 brings us to onUnauthorized.
      if (cookie) headers.Cookie = cookie;
    },
    async prepare(client: ServiceHttpClient, request: RequestOptions, signal: AbortSignal) {
      // The session's own login and logout must not wait for a login.
      if (request.headers?.[SESSION_REQUEST_HEADER]) return;
      await this.ensureLoggedIn(client, signal);
    },
    async ensureLoggedIn(client: ServiceHttpClient, signal?: AbortSignal) {
      if (cookie && !loggingIn) return;
      await sharedLogin(client, signal);
    },
    async onUnauthorized(client: ServiceHttpClient, signal: AbortSignal) {
      // The session expired (or was never opened): log in once more. A refused login throws its
      // own error, which says more than the 401 of the request that failed.
      if (!loggingIn) cookie = undefined;
      await sharedLogin(client, signal);
      return true;
    },
    retain(client: ServiceHttpClient) {
      users += 1;
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        users -= 1;
        if (users === 0) await logOut(client);
      };
    },
    logOut,
    async close(client: ServiceHttpClient) {
      try {
        await logOut(client);
      } finally {
        cookie = undefined;
      }
    },
    secrets: () => [...secrets, ...(cookie ? cookie.split('; ').map((pair) => pair.slice(pair.indexOf('=') + 1)) : [])],
  };
}
