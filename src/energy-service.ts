import type { Node, NodeAPI, NodeDef } from 'node-red';
import { ClientLease, ServiceHttpClient, TlsOptions, ProxyOptions } from './core/http/client';
import type { EnergyServiceDef, EnergyServiceNode } from './node-red/energy-service-types';
import { ServiceSettings, createAuth, readServiceSettings } from './core/services';
import { clockFrom, onClose, toError } from './node-red/node-kit';
import { metryOAuthAuth, registerMetryOAuthAdmin } from './node-red/metry-oauth';

interface TlsConfigNode extends Node {
  addTLSOptions(options: Record<string, unknown>): void;
}

interface ProxyConfigNode extends Node<{ username?: string; password?: string }> {
  url?: string;
  noproxy?: string[];
}

export = function register(RED: NodeAPI): void {
  function tlsOptions(id: string | undefined): TlsOptions | undefined {
    const tlsNode = id ? (RED.nodes.getNode(id) as TlsConfigNode | null) : null;
    if (!tlsNode) return undefined;
    const options: Record<string, unknown> = {};
    tlsNode.addTLSOptions(options);
    return options as TlsOptions;
  }

  function proxyOptions(id: string | undefined): ProxyOptions | undefined {
    const proxyNode = id ? (RED.nodes.getNode(id) as ProxyConfigNode | null) : null;
    if (!proxyNode?.url) return undefined;
    return { url: proxyNode.url, username: proxyNode.credentials?.username, password: proxyNode.credentials?.password, noProxy: proxyNode.noproxy };
  }

  function EnergyServiceConfig(this: EnergyServiceNode, def: EnergyServiceDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    node.service = def.service;
    node.baseUrl = typeof def.baseUrl === 'string' ? def.baseUrl.trim() : '';
    // Checked at deploy, before any request: a bad setting is logged now, and every node that
    // uses this config node gets the same error (with its message, for Catch nodes) from getClient.
    let settings: ServiceSettings | undefined;
    let configError: Error | undefined;
    try {
      settings = readServiceSettings(def, node.credentials ?? {});
      node.baseUrl = settings.baseUrl;
    } catch (error) {
      configError = toError(error);
      node.error(configError.message);
    }
    let client: ServiceHttpClient | undefined;

    node.getClient = (): ServiceHttpClient => {
      if (!settings) throw configError;
      client ??= new ServiceHttpClient({
        service: settings.service,
        baseURL: settings.baseUrl,
        auth:
          settings.authMode === 'oauth2'
            ? metryOAuthAuth(RED, node, settings.baseUrl, node.credentials ?? {}, clockFrom(RED))
            : createAuth(settings.service, node.credentials ?? {}),
        timeoutMs: settings.timeoutMs,
        maxConcurrent: settings.maxConcurrent,
        requestsPerSecond: settings.requestsPerSecond,
        tls: tlsOptions(def.tls),
        proxy: proxyOptions(def.proxy),
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
      clientId: { type: 'password' },
      clientSecret: { type: 'password' },
      // Filled by the Authorize button's callback and by token rotation, never typed in the editor.
      refreshToken: { type: 'password' },
    },
  });

  registerMetryOAuthAdmin(RED, clockFrom(RED));
};
