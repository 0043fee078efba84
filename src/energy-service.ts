import type { Node, NodeAPI, NodeDef } from 'node-red';
import { ClientLease, ServiceHttpClient, TlsOptions, ProxyOptions } from './core/http/client';
import type { EnergyServiceDef, EnergyServiceNode } from './node-red/energy-service-types';
import { ServiceError } from './core/http/errors';
import { SERVICE_DEFAULTS, createAuth, isServiceName } from './core/services';
import { clockFrom, onClose } from './node-red/node-kit';

interface TlsConfigNode extends Node {
  addTLSOptions(options: Record<string, unknown>): void;
}

interface ProxyConfigNode extends Node<{ username?: string; password?: string }> {
  url?: string;
  noproxy?: string[];
}


function toNumber(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const number = Number(value);
  return Number.isFinite(number) && number >= 0 ? number : fallback;
}

export = function register(RED: NodeAPI): void {
  function EnergyServiceConfig(this: EnergyServiceNode, def: EnergyServiceDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const service = def.service;
    const defaults = isServiceName(service) ? SERVICE_DEFAULTS[service] : undefined;
    node.service = service;
    node.baseUrl = (def.baseUrl || defaults?.baseUrl || '').trim();
    let client: ServiceHttpClient | undefined;

    node.getClient = (): ServiceHttpClient => {
      if (client) return client;
      if (!isServiceName(service)) {
        throw new ServiceError(`The config node has an unknown service "${String(service)}". Choose Metry, UtilityAPI, Intellimeter or DSMR-reader.`, { code: 'CONFIG' });
      }
      const auth = createAuth(service, node.credentials ?? {});
      let tls: TlsOptions | undefined;
      if (def.tls) {
        const tlsNode = RED.nodes.getNode(def.tls) as TlsConfigNode | null;
        if (tlsNode) {
          const options: Record<string, unknown> = {};
          tlsNode.addTLSOptions(options);
          tls = options as TlsOptions;
        }
      }
      let proxy: ProxyOptions | undefined;
      if (def.proxy) {
        const proxyNode = RED.nodes.getNode(def.proxy) as ProxyConfigNode | null;
        if (proxyNode?.url) {
          proxy = { url: proxyNode.url, username: proxyNode.credentials?.username, password: proxyNode.credentials?.password, noProxy: proxyNode.noproxy };
        }
      }
      client = new ServiceHttpClient({
        service,
        baseURL: node.baseUrl,
        auth,
        timeoutMs: toNumber(def.timeout, defaults!.timeoutSeconds) * 1000,
        maxConcurrent: toNumber(def.maxConcurrent, defaults!.maxConcurrent),
        requestsPerSecond: toNumber(def.requestsPerSecond, defaults!.requestsPerSecond),
        tls,
        proxy,
        clock: clockFrom(RED),
        userAgent: 'node-red-contrib-energy-export',
      });
      return client;
    };

    node.leaseClient = (): ClientLease => node.getClient().lease();

    onClose(node, async () => {
      const closing = client;
      client = undefined;
      await closing?.close();
    });
  }

  RED.nodes.registerType('energy-service', EnergyServiceConfig as unknown as (this: Node, def: NodeDef) => void, {
    credentials: {
      token: { type: 'password' },
      apiKey: { type: 'password' },
      username: { type: 'password' },
      password: { type: 'password' },
      authKey: { type: 'password' },
    },
  });
};
