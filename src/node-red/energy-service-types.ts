import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { ClientLease, ServiceHttpClient } from '../core/http/client';
import { ServiceError } from '../core/http/errors';
import type { ServiceCredentials, ServiceName } from '../core/services';
import { serviceDisplayName } from '../core/http/errors';

export interface EnergyServiceDef extends NodeDef {
  service: string;
  baseUrl: string;
  tls?: string;
  proxy?: string;
  timeout?: number | string;
  maxConcurrent?: number | string;
  requestsPerSecond?: number | string;
  /** Metry: `token` (private access token, the default) or `oauth2` (a customer account authorized with Authorize). */
  authMode?: string;
}

/** What user nodes get from `RED.nodes.getNode(config.service)`. */
export interface EnergyServiceNode extends Node<ServiceCredentials> {
  service: ServiceName | string;
  baseUrl: string;
  /**
   * A per-node lease on the shared client; close it in the user node's `close`. Throws the
   * config node's ConfigError (code CONFIG, `field` = the setting at fault) when a setting was
   * refused at deploy, so each user node reports it with the message that needed the client.
   */
  leaseClient(): ClientLease;
  /** The shared client itself, for code that outlives a single node (admin endpoints); throws as `leaseClient`. */
  getClient(): ServiceHttpClient;
}

/**
 * Looks up the config node a user node points at and checks it is for the right service, so a
 * node wired to a Metry config by mistake says so instead of sending a Metry token elsewhere.
 */
export function getServiceConfig(RED: NodeAPI, configId: string | undefined, expected: ServiceName): EnergyServiceNode {
  const name = serviceDisplayName(expected);
  if (!configId) {
    throw new ServiceError(`No ${name} config node is selected. Open the node and choose or add one.`, { code: 'CONFIG', service: expected });
  }
  const config = RED.nodes.getNode(configId) as EnergyServiceNode | null;
  if (!config) {
    throw new ServiceError(`The selected ${name} config node is missing or disabled. Open the node and choose another.`, { code: 'CONFIG', service: expected });
  }
  if (config.service !== expected) {
    throw new ServiceError(`The selected config node is for ${serviceDisplayName(config.service)}, not ${name}. Choose a ${name} config node.`, { code: 'CONFIG', service: expected });
  }
  return config;
}
