import { AuthStrategy, bearerAuth, headerAuth } from './http/auth';
import { serviceDisplayName } from './http/errors';
import { createIntellimeterSessionAuth } from './intellimeter/session';
import { ConfigError, readBaseUrl, readChoice, readNumber } from './runtime/options';

export const SERVICES = ['metry', 'utilityapi', 'intellimeter', 'dsmr-reader'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface ServiceCredentials {
  token?: string;
  /** Metry OAuth2 (authentication "oauth2"): the app's client id and secret, and the customer's refresh token. */
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  apiKey?: string;
  username?: string;
  password?: string;
  authKey?: string;
}

export interface ServiceDefaults {
  baseUrl: string;
  requestsPerSecond: number;
  maxConcurrent: number;
  timeoutSeconds: number;
}

/** Per-service defaults; DSMR-reader has no base URL because it is always the user's own server. */
export const SERVICE_DEFAULTS: Record<ServiceName, ServiceDefaults> = {
  metry: { baseUrl: 'https://app.metry.io/api/v2', requestsPerSecond: 10, maxConcurrent: 4, timeoutSeconds: 60 },
  utilityapi: { baseUrl: 'https://utilityapi.com/api/v2', requestsPerSecond: 5, maxConcurrent: 2, timeoutSeconds: 60 },
  intellimeter: { baseUrl: 'https://api.intellimeter.ca', requestsPerSecond: 2, maxConcurrent: 1, timeoutSeconds: 30 },
  'dsmr-reader': { baseUrl: '', requestsPerSecond: 0, maxConcurrent: 1, timeoutSeconds: 15 },
};

/**
 * Bounds of the config node's numbers. A timeout is at most an hour (Node's timers cannot hold
 * more than 24.8 days and fire after 1 ms beyond); 0 requests per second means no limit.
 */
export const SERVICE_LIMITS = {
  timeoutSeconds: { min: 1, max: 3600 },
  maxConcurrent: { min: 1, max: 32 },
  requestsPerSecond: { min: 0, max: 100 },
} as const;

/** The config node's fields as the editor stores them. */
export interface ServiceConfigInput {
  service?: unknown;
  baseUrl?: unknown;
  timeout?: unknown;
  maxConcurrent?: unknown;
  requestsPerSecond?: unknown;
  /** Metry only: `token` (a private access token) or `oauth2` (a customer account authorized through the Metry app). */
  authMode?: unknown;
}

export const AUTH_MODES = ['token', 'oauth2'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** A config node's settings, checked: what the HTTP client is built from. */
export interface ServiceSettings {
  service: ServiceName;
  baseUrl: string;
  timeoutMs: number;
  maxConcurrent: number;
  requestsPerSecond: number;
  authMode: AuthMode;
}

export function isServiceName(value: unknown): value is ServiceName {
  return typeof value === 'string' && (SERVICES as readonly string[]).includes(value);
}

/**
 * Checks a config node's settings and credentials before anything is sent: each bad value is a
 * ConfigError naming the field (as the editor labels it) and what to enter. Empty fields take
 * the service's defaults.
 */
export function readServiceSettings(input: ServiceConfigInput, credentials: ServiceCredentials = {}): ServiceSettings {
  if (input.service === undefined || input.service === null || input.service === '') {
    throw new ConfigError(`Service is empty: choose one of ${SERVICES.join(', ')}.`, 'Service');
  }
  const service = readChoice(input.service, 'Service', SERVICES, 'metry');
  const defaults = SERVICE_DEFAULTS[service];
  const typed = typeof input.baseUrl === 'string' ? input.baseUrl.trim() : '';
  const example = service === 'dsmr-reader' ? 'http://192.168.1.10:7777' : defaults.baseUrl;
  const baseUrl = readBaseUrl(typed || defaults.baseUrl, 'Base URL', example);
  const timeoutSeconds = readNumber(input.timeout, { field: 'Timeout', ...SERVICE_LIMITS.timeoutSeconds, default: defaults.timeoutSeconds, unit: 'seconds' });
  const maxConcurrent = readNumber(input.maxConcurrent, { field: 'Parallel requests', ...SERVICE_LIMITS.maxConcurrent, default: defaults.maxConcurrent, integer: true });
  const requestsPerSecond = readNumber(input.requestsPerSecond, {
    field: 'Requests / s',
    ...SERVICE_LIMITS.requestsPerSecond,
    default: defaults.requestsPerSecond,
    unit: 'requests per second',
  });
  // OAuth2 is what Metry offers apps that reach customers' own accounts; the other services take keys.
  const authMode = service === 'metry' ? readChoice(input.authMode || 'token', 'Authentication', AUTH_MODES, 'token') : 'token';
  checkCredentials(service, credentials, authMode);
  return { service, baseUrl, timeoutMs: timeoutSeconds * 1000, maxConcurrent, requestsPerSecond, authMode };
}

function checkCredentials(service: ServiceName, credentials: ServiceCredentials, authMode: AuthMode = 'token'): void {
  const name = serviceDisplayName(service);
  const missing = (field: string, described = field): ConfigError =>
    new ConfigError(`The ${name} config node has no ${described}. Open the config node and enter it (or \${ENV_VAR} to read it from the environment).`, field);
  if (authMode === 'oauth2') {
    if (!credentials.clientId) throw missing('Client id', 'Client id (OAuth2)');
    if (!credentials.clientSecret) throw missing('Client secret', 'Client secret (OAuth2)');
    if (!credentials.refreshToken) {
      throw new ConfigError(`The ${name} config node is not authorized for a customer account yet. Open it and click Authorize, then deploy.`, 'Authorize');
    }
    return;
  }
  switch (service) {
    case 'metry':
    case 'utilityapi':
      if (!credentials.token) throw missing('API token');
      return;
    case 'dsmr-reader':
      if (!credentials.authKey) throw missing('API key', 'API key (X-AUTHKEY)');
      return;
    case 'intellimeter':
      if (credentials.apiKey || (credentials.username && credentials.password)) return;
      throw missing('API key', 'API key (or user name and password)');
  }
}

/** Builds the authentication for a service from the config node's credentials, or says what is missing. */
export function createAuth(service: ServiceName, credentials: ServiceCredentials): AuthStrategy {
  checkCredentials(service, credentials);
  switch (service) {
    case 'metry':
    case 'utilityapi':
      return bearerAuth(credentials.token!);
    case 'dsmr-reader':
      return headerAuth('X-AUTHKEY', credentials.authKey!);
    case 'intellimeter':
      return credentials.apiKey
        ? createIntellimeterSessionAuth({ apiKey: credentials.apiKey })
        : createIntellimeterSessionAuth({ username: credentials.username!, password: credentials.password! });
  }
}
