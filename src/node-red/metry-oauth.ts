/**
 * Metry OAuth2 in Node-RED: the editor's Authorize button and the config node's token renewal.
 *
 * Authorize runs the authorization-code flow (RFC 6749 §4.1) through two admin endpoints:
 * - `POST /energy-export/oauth/start` (flows write permission): takes the config node id, base
 *   URL, client id and secret (the secret from the credential store when the editor shows it as
 *   stored), remembers them under a fresh single-use `state` for ten minutes and answers the
 *   Metry authorize URL for the editor to open in a window;
 * - `GET /energy-export/oauth/callback?code&state`: Metry sends the browser here. It carries no
 *   admin token (a plain navigation), so the `state` is the proof the flow was started by a user
 *   allowed to edit flows (CSRF, RFC 6749 §10.12); the code is traded for tokens and the refresh
 *   token goes into the config node's credentials. Nothing secret is put in the page or a URL.
 *
 * Node-RED writes its credential store to disk when flows are deployed: there is no API for a
 * node to save credentials itself (node-red/node-red#1055). A refresh token Metry rotates at run
 * time is therefore put into the store at once (so a redeploy keeps it) and saved with the next
 * deploy; the config node says so in the log.
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import { ServiceHttpClient } from '../core/http/client';
import { noAuth } from '../core/http/auth';
import { isServiceError } from '../core/http/errors';
import {
  AuthorizationStates,
  METRY_OAUTH_SCOPE,
  OAuth2Auth,
  buildAuthorizeUrl,
  checkOAuth2Client,
  createOAuth2Auth,
  exchangeAuthorizationCode,
  metryOAuthEndpoints,
} from '../core/http/oauth2';
import type { Clock } from '../core/runtime/clock';
import { readBaseUrl } from '../core/runtime/options';
import { SERVICE_DEFAULTS, ServiceCredentials } from '../core/services';

export const OAUTH_START_PATH = '/energy-export/oauth/start';
export const OAUTH_CALLBACK_PATH = '/energy-export/oauth/callback';
/** What the editor shows in a password field whose value is stored: never a value. */
const STORED_PASSWORD = '__PWRD__';

interface PendingClient {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
}

type StoredCredentials = ServiceCredentials & Record<string, unknown>;

function storedCredentials(RED: NodeAPI, nodeId: string): StoredCredentials {
  return ((RED.nodes.getCredentials(nodeId) as StoredCredentials | undefined) ?? {}) as StoredCredentials;
}

/** Puts values into a node's credentials next to the ones it has (Node-RED replaces the whole set). */
export function addNodeCredentials(RED: NodeAPI, nodeId: string, values: Partial<ServiceCredentials>): void {
  void RED.nodes.addCredentials(nodeId, { ...storedCredentials(RED, nodeId), ...values });
}

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

/** The redirect URI the editor computed: ours, absolute http(s), nothing after the path. */
function checkRedirectUri(value: unknown): string | undefined {
  try {
    const url = new URL(text(value));
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username || !url.pathname.endsWith(OAUTH_CALLBACK_PATH)) return undefined;
    return url.toString();
  } catch {
    return undefined;
  }
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The small page the authorization window ends on; it tells the editor and closes itself. */
function resultPage(res: Response, status: number, message: string, nodeId?: string): void {
  const payload = JSON.stringify({ type: 'energy-export-oauth', nodeId: nodeId ?? null, ok: status === 200, message }).replace(/</g, '\\u003c');
  res.status(status).set({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' });
  res.send(
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Metry authorization</title></head><body><p id="result">${escapeHtml(message)}</p>` +
      `<script>if (window.opener) { window.opener.postMessage(${payload}, window.location.origin); setTimeout(function () { window.close(); }, 1500); }</script></body></html>`,
  );
}

/** Registers the Authorize endpoints once per runtime; `clock` is the runtime clock (tests replace it). */
export function registerMetryOAuthAdmin(RED: NodeAPI, clock: Clock): void {
  const states = new AuthorizationStates<PendingClient>(clock);

  RED.httpAdmin.post(OAUTH_START_PATH, RED.auth.needsPermission('flows.write'), (req: Request, res: Response) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const nodeId = text(body.nodeId);
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(nodeId)) {
      res.status(400).json({ code: 'CONFIG', error: 'No config node id was sent. Reopen the config node and click Authorize again.' });
      return;
    }
    const redirectUri = checkRedirectUri(body.redirectUri);
    if (!redirectUri) {
      res.status(400).json({ code: 'CONFIG', error: `The redirect URI must be this editor's address followed by ${OAUTH_CALLBACK_PATH}.` });
      return;
    }
    try {
      const stored = storedCredentials(RED, nodeId);
      // A field the editor shows as stored comes as __PWRD__: then the stored value is used.
      const typed = (value: unknown): string | undefined => (text(value) && text(value) !== STORED_PASSWORD ? text(value) : undefined);
      const client = checkOAuth2Client({ clientId: typed(body.clientId) ?? stored.clientId, clientSecret: typed(body.clientSecret) ?? stored.clientSecret });
      const baseUrl = readBaseUrl(text(body.baseUrl) || SERVICE_DEFAULTS.metry.baseUrl, 'Base URL', SERVICE_DEFAULTS.metry.baseUrl);
      const state = states.issue(nodeId, redirectUri, { baseUrl, ...client });
      const authorizeUrl = buildAuthorizeUrl(metryOAuthEndpoints(baseUrl), { clientId: client.clientId, redirectUri, state, scope: METRY_OAUTH_SCOPE });
      res.json({ authorizeUrl });
    } catch (error) {
      res.status(400).json({ code: 'CONFIG', error: (error as Error).message });
    }
  });

  RED.httpAdmin.get(OAUTH_CALLBACK_PATH, (req: Request, res: Response) => {
    void (async () => {
      const pending = states.consume(req.query.state);
      if (!pending) {
        resultPage(res, 400, 'This authorization is unknown, expired or was already used. Click Authorize in the Metry config node again.');
        return;
      }
      const refusal = text(req.query.error);
      if (refusal) {
        const code = /^[a-z_]{1,40}$/.test(refusal) ? ` (${refusal})` : '';
        resultPage(res, 400, `Metry did not grant access${code}. Click Authorize in the Metry config node to try again.`, pending.nodeId);
        return;
      }
      const { baseUrl, clientId, clientSecret } = pending.data;
      const client = new ServiceHttpClient({ service: 'metry', baseURL: baseUrl, auth: noAuth, clock, timeoutMs: 30_000, retry: { maxRetries: 2 } });
      try {
        const tokens = await exchangeAuthorizationCode(client, text(req.query.code), pending.redirectUri, { endpoints: metryOAuthEndpoints(baseUrl), client: { clientId, clientSecret, scope: METRY_OAUTH_SCOPE }, clock });
        if (!tokens.refreshToken) {
          resultPage(res, 502, 'Metry granted access without a refresh token, so the account could not stay connected. Contact Metry support about the app\'s OAuth settings.', pending.nodeId);
          return;
        }
        addNodeCredentials(RED, pending.nodeId, { clientId, clientSecret, refreshToken: tokens.refreshToken });
        resultPage(res, 200, 'The Metry customer account is authorized. Deploy to start using it. You can close this window.', pending.nodeId);
      } catch (error) {
        const message = isServiceError(error) ? error.message : 'The authorization failed; see the Node-RED log.';
        if (!isServiceError(error)) RED.log.warn(`energy-service: Metry authorization failed: ${String((error as Error)?.message ?? error)}`);
        resultPage(res, 502, message, pending.nodeId);
      } finally {
        await client.close();
      }
    })();
  });
}

/**
 * The OAuth2 strategy of a Metry config node: refresh tokens Metry rotates go back into the
 * node's credentials (saved with the next deploy, see above); a failure to do so is logged.
 */
export function metryOAuthAuth(RED: NodeAPI, node: { id: string; log(message: string): void; warn(message: string): void }, baseUrl: string, credentials: ServiceCredentials, clock: Clock): OAuth2Auth {
  let told = false;
  return createOAuth2Auth({
    endpoints: metryOAuthEndpoints(baseUrl),
    client: { clientId: credentials.clientId ?? '', clientSecret: credentials.clientSecret ?? '', scope: METRY_OAUTH_SCOPE },
    refreshToken: credentials.refreshToken ?? '',
    clock,
    persistRefreshToken: (refreshToken) => {
      addNodeCredentials(RED, node.id, { refreshToken });
      if (!told) {
        told = true;
        node.log('Metry issued a new refresh token; it is in the credential store and is written to disk with the next deploy.');
      }
    },
    onPersistError: (error) => node.warn(`Could not keep Metry's new refresh token in the credential store: ${(error as Error)?.message ?? error}. Authorize again after a restart.`),
  });
}
