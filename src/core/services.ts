import { AuthStrategy, bearerAuth, headerAuth } from './http/auth';
import { ServiceError, serviceDisplayName } from './http/errors';
import { createIntellimeterSessionAuth } from './intellimeter/session';

export const SERVICES = ['metry', 'utilityapi', 'intellimeter', 'dsmr-reader'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface ServiceCredentials {
  token?: string;
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

export function isServiceName(value: unknown): value is ServiceName {
  return typeof value === 'string' && (SERVICES as readonly string[]).includes(value);
}

/** Builds the authentication for a service from the config node's credentials, or says what is missing. */
export function createAuth(service: ServiceName, credentials: ServiceCredentials): AuthStrategy {
  const name = serviceDisplayName(service);
  const missing = (field: string): ServiceError =>
    new ServiceError(`The ${name} config node has no ${field}. Open the config node and enter it (or \${ENV_VAR} to read it from the environment).`, { code: 'CONFIG', service });
  switch (service) {
    case 'metry':
    case 'utilityapi':
      if (!credentials.token) throw missing('API token');
      return bearerAuth(credentials.token);
    case 'dsmr-reader':
      if (!credentials.authKey) throw missing('API key (X-AUTHKEY)');
      return headerAuth('X-AUTHKEY', credentials.authKey);
    case 'intellimeter':
      if (credentials.apiKey) return createIntellimeterSessionAuth({ apiKey: credentials.apiKey });
      if (credentials.username && credentials.password) {
        return createIntellimeterSessionAuth({ username: credentials.username, password: credentials.password });
      }
      throw missing('API key (or user name and password)');
  }
}
