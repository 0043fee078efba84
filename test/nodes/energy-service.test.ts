import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { helper, nodeModule } from '../../testing/runtime';
import { FakeServer } from '../../testing/fake-server';
import { until } from '../../testing/manual-clock';
import { editorDefinition } from '../../testing/editor-definition';
import { getServiceConfig } from '../../src/node-red/energy-service-types';
import { onInput, onClose, toNodeStatus } from '../../src/node-red/node-kit';
import { errorStatus, statusView } from '../../src/core/runtime/status';

const TOKEN = 'metry-token-0f9e8d7c6b5a4f3e2d1c';
const ENV_TOKEN = 'env-token-a1b2c3d4e5f6a7b8c9d0';

/**
 * A minimal user node, written the way the package's own nodes are: it asks its config node
 * for a client scope, requests a path taken from msg.payload and forwards the JSON.
 */
function probeNode(RED: NodeAPI): void {
  function Probe(this: Node, def: NodeDef & { service: string }): void {
    RED.nodes.createNode(this, def);
    const node = this;
    let scope: ReturnType<ReturnType<typeof getServiceConfig>['leaseClient']> | undefined;
    onInput(node, async (msg, send) => {
      scope ??= getServiceConfig(RED, def.service, 'metry').leaseClient();
      const response = await scope.request({ path: String(msg.payload), what: 'probing' });
      send({ ...msg, payload: response.data });
    });
    onClose(node, () => scope?.close());
  }
  RED.nodes.registerType('energy-probe', Probe as unknown as (this: Node, def: NodeDef) => void);
}

function flow(token = TOKEN) {
  return {
    nodes: [
      { id: 'tab', type: 'tab', label: 'test' },
      { id: 'cfg', z: 'tab', type: 'energy-service', service: 'metry', baseUrl: '' },
      { id: 'probe', z: 'tab', type: 'energy-probe', service: 'cfg', wires: [['out']] },
      { id: 'out', z: 'tab', type: 'helper' },
      { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'tab', type: 'helper' },
    ],
    credentials: { cfg: { token } },
  };
}

describe('energy-service config node in the Node-RED runtime', () => {
  let server: FakeServer;

  before(async () => {
    server = await new FakeServer().start();
    server.authCheck = (request) =>
      request.headers.authorization === `Bearer ${TOKEN}` || request.headers.authorization === `Bearer ${ENV_TOKEN}`
        ? undefined
        : { status: 401, body: { code: 401, message: 'Unauthorized' } };
    server.on('GET', '/api/v2/accounts/me', () => ({ body: { code: 200, message: 'OK', data: { _id: 'acc1', name: 'Test' } } }));
    server.on('GET', '/api/v2/hang', () => new Promise(() => undefined));
    await new Promise<void>((resolve) => helper.startServer(resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await server.stop();
  });
  afterEach(async () => {
    await helper.unload();
    server.reset();
  });

  async function load(token = TOKEN, baseUrl?: string) {
    const f = flow(token);
    (f.nodes[1] as Record<string, unknown>).baseUrl = baseUrl ?? `${server.url}/api/v2`;
    await helper.load([nodeModule('energy-service'), probeNode] as never, f.nodes, f.credentials);
  }

  it('keeps every credential as a password that the editor never receives', async () => {
    await load();
    const config = helper.getNode('cfg') as Node & { service: string };
    assert.equal(config.service, 'metry');
    const redNodes = (helper as unknown as { _redNodes: { getCredentialDefinition(type: string): Record<string, { type: string }> } })._redNodes;
    const definition = redNodes.getCredentialDefinition('energy-service');
    assert.deepEqual(Object.keys(definition).sort(), ['apiKey', 'authKey', 'clientId', 'clientSecret', 'password', 'refreshToken', 'token', 'username']);
    for (const [name, field] of Object.entries(definition)) assert.equal(field.type, 'password', `${name} must be a password`);
  });

  it('never puts credentials in the flow the runtime exports and saves', async () => {
    await load();
    const redNodes = (helper as unknown as { _redNodes: { getFlows(): { flows: unknown[] } } })._redNodes;
    const exported = JSON.stringify(redNodes.getFlows().flows);
    assert.ok(exported.includes('energy-service'));
    assert.ok(!exported.includes(TOKEN), 'token must not be in the exported flow');
    const config = helper.getNode('cfg') as Node & { credentials: { token: string } };
    assert.equal(config.credentials.token, TOKEN, 'while the node itself has it');
  });

  it('takes a credential written as ${NAME} from the environment', async () => {
    process.env.ENERGY_TEST_METRY_TOKEN = ENV_TOKEN;
    try {
      await load('${ENERGY_TEST_METRY_TOKEN}');
      const out = helper.getNode('out');
      const received = new Promise<NodeMessage>((resolve) => out.on('input', (msg: NodeMessage) => resolve(msg)));
      helper.getNode('probe').receive({ payload: '/accounts/me' } as NodeMessage);
      const msg = await received;
      assert.deepEqual((msg.payload as { data: unknown }).data, { _id: 'acc1', name: 'Test' });
      assert.equal(server.requests[0].headers.authorization, `Bearer ${ENV_TOKEN}`);
    } finally {
      delete process.env.ENERGY_TEST_METRY_TOKEN;
    }
  });

  it('reports a 401 to Catch nodes without the token in msg, error text or logs', async () => {
    // The server accepts neither this token nor anything else on this path.
    await load('wrong-token-9a8b7c6d5e4f3a2b1c0d');
    const caught = helper.getNode('caught');
    const received = new Promise<NodeMessage & { error: { message: string } }>((resolve) => caught.on('input', (msg: any) => resolve(msg)));
    helper.getNode('probe').receive({ payload: '/accounts/me' } as NodeMessage);
    const msg = await received;
    assert.match(msg.error.message, /did not accept the credentials/);
    assert.match(msg.error.message, /Check the token/);
    assert.equal((msg as unknown as { statusCode: number }).statusCode, 401);
    const everything = JSON.stringify(msg) + JSON.stringify(helper.log().args);
    assert.ok(!everything.includes('wrong-token-9a8b7c6d5e4f3a2b1c0d'));
    assert.ok(!everything.includes(TOKEN));
    assert.equal(server.requests.length, 1, '401 is not retried');
    const statusCalls = (helper.getNode('probe') as unknown as { status: { args: unknown[][] } }).status.args.map((a) => a[0]);
    assert.deepEqual(statusCalls.at(-1), { fill: 'red', shape: 'ring', text: '401' });
  });

  it('says which config node is wrong when a node points at another service', async () => {
    const f = flow();
    (f.nodes[1] as Record<string, unknown>).service = 'dsmr-reader';
    (f.nodes[1] as Record<string, unknown>).baseUrl = server.url;
    await helper.load([nodeModule('energy-service'), probeNode] as never, f.nodes, f.credentials);
    const caught = helper.getNode('caught');
    const received = new Promise<NodeMessage & { error: { message: string } }>((resolve) => caught.on('input', (msg: any) => resolve(msg)));
    helper.getNode('probe').receive({ payload: '/accounts/me' } as NodeMessage);
    assert.match((await received).error.message, /is for DSMR-reader, not Metry/);
    assert.equal(server.requests.length, 0);
  });

  it('aborts the in-flight request when the flow is stopped', async () => {
    await load();
    helper.getNode('probe').receive({ payload: '/hang' } as NodeMessage);
    await until(() => server.inFlight === 1, 'the request to reach the server');
    await helper.unload();
    await until(() => server.abortedRequests === 1, 'the server to see the request aborted');
    assert.equal(server.inFlight, 0);
  });

  const badConfigs: Array<{ name: string; config: () => Record<string, unknown>; field: string; says: RegExp }> = [
    { name: 'an ftp: base URL', config: () => ({ baseUrl: `ftp://127.0.0.1:${server.port}/api/v2` }), field: 'Base URL', says: /only http:\/\/ and https:\/\/ are supported/ },
    { name: 'a base URL with a query', config: () => ({ baseUrl: `${server.url}/api/v2?tenant=1` }), field: 'Base URL', says: /contains a query \("\?tenant=1"\)/ },
    { name: 'a base URL with a fragment', config: () => ({ baseUrl: `${server.url}/api/v2#x` }), field: 'Base URL', says: /contains a fragment \("#x"\)/ },
    { name: 'a base URL with a user name', config: () => ({ baseUrl: `http://someone:secret-pw@127.0.0.1:${server.port}/api/v2` }), field: 'Base URL', says: /contains a user name or password/ },
    { name: 'a timeout beyond an hour', config: () => ({ timeout: '2147484' }), field: 'Timeout', says: /Timeout is "2147484": enter a number from 1 to 3600 seconds/ },
    { name: 'a timeout of 0', config: () => ({ timeout: '0' }), field: 'Timeout', says: /Timeout is "0": enter a number from 1 to 3600 seconds/ },
    { name: 'a rate that is no number', config: () => ({ requestsPerSecond: 'fast' }), field: 'Requests / s', says: /Requests \/ s is "fast": enter a number from 0 to 100 requests per second/ },
    { name: 'a rate above 100/s', config: () => ({ requestsPerSecond: '1000' }), field: 'Requests / s', says: /Requests \/ s is "1000"/ },
    { name: 'a negative rate', config: () => ({ requestsPerSecond: '-1' }), field: 'Requests / s', says: /Requests \/ s is "-1"/ },
    { name: 'no parallel requests', config: () => ({ maxConcurrent: '0' }), field: 'Parallel requests', says: /Parallel requests is "0": enter a whole number from 1 to 32/ },
    { name: 'a fraction of parallel requests', config: () => ({ maxConcurrent: '2.5' }), field: 'Parallel requests', says: /Parallel requests is "2.5": enter a whole number/ },
  ];
  for (const bad of badConfigs) {
    it(`refuses ${bad.name} at deploy with a CONFIG error naming ${bad.field}, before any request`, async () => {
      const f = flow();
      Object.assign(f.nodes[1], { baseUrl: `${server.url}/api/v2` }, bad.config());
      await helper.load([nodeModule('energy-service'), probeNode] as never, f.nodes, f.credentials);
      const logged = helper.log().args.map((args: Array<{ level: number; type: string; msg: unknown }>) => args[0]).filter((entry) => entry.type === 'energy-service' && entry.level === 20);
      assert.equal(logged.length, 1, 'reported once when the flow starts');
      assert.match(String(logged[0].msg), bad.says);
      assert.ok(!JSON.stringify(helper.log().args).includes('secret-pw'), 'no password in the log');

      const caught = helper.getNode('caught');
      const received = new Promise<NodeMessage & { error: { message: string }; errorCode: string }>((resolve) => caught.on('input', (msg: any) => resolve(msg)));
      helper.getNode('probe').receive({ payload: '/accounts/me', _msgid: 'm1' } as NodeMessage);
      const msg = await received;
      assert.match(msg.error.message, bad.says);
      assert.ok(msg.error.message.startsWith(`ConfigError: ${bad.field} `), `the message names ${bad.field}: ${msg.error.message}`);
      assert.equal(msg.errorCode, 'CONFIG');
      assert.equal(msg.payload, '/accounts/me', 'the message that failed reaches Catch');
      assert.ok(!JSON.stringify(msg).includes('secret-pw'));
      const statusCalls = (helper.getNode('probe') as unknown as { status: { args: unknown[][] } }).status.args.map((a) => a[0]);
      assert.deepEqual(statusCalls.at(-1), { fill: 'red', shape: 'ring', text: 'config' });
      assert.equal(server.requests.length, 0, 'nothing was sent');
    });
  }

  it('refuses an unknown service at deploy, naming the field', async () => {
    const f = flow();
    Object.assign(f.nodes[1], { baseUrl: `${server.url}/api/v2`, service: 'enphase' });
    await helper.load([nodeModule('energy-service'), probeNode] as never, f.nodes, f.credentials);
    assert.ok(helper.log().args.some((args: unknown[]) => /Service is \\"enphase\\": choose one of metry, utilityapi, intellimeter, dsmr-reader/.test(JSON.stringify(args))));
    const config = helper.getNode('cfg') as unknown as { getClient(): unknown };
    assert.throws(() => config.getClient(), { code: 'CONFIG', field: 'Service' });
  });

  it('refuses a config node without its token at deploy, naming the field', async () => {
    const f = flow();
    (f.nodes[1] as Record<string, unknown>).baseUrl = `${server.url}/api/v2`;
    await helper.load([nodeModule('energy-service'), probeNode] as never, f.nodes, {});
    assert.ok(helper.log().args.some((args: unknown[]) => /The Metry config node has no API token/.test(JSON.stringify(args))));
    const caught = helper.getNode('caught');
    const received = new Promise<NodeMessage & { error: { message: string }; errorCode: string }>((resolve) => caught.on('input', (msg: any) => resolve(msg)));
    helper.getNode('probe').receive({ payload: '/accounts/me' } as NodeMessage);
    const msg = await received;
    assert.match(msg.error.message, /has no API token\. Open the config node and enter it/);
    assert.equal(msg.errorCode, 'CONFIG');
    assert.equal(server.requests.length, 0);
  });

  it('takes the limits of a good config node, trailing slash and blank fields included', async () => {
    const f = flow();
    Object.assign(f.nodes[1], { baseUrl: ` ${server.url}/api/v2/ `, timeout: '', maxConcurrent: '2', requestsPerSecond: '0' });
    await helper.load([nodeModule('energy-service'), probeNode] as never, f.nodes, f.credentials);
    const config = helper.getNode('cfg') as unknown as { baseUrl: string; getClient(): { baseURL: string; limiter: { maxConcurrent: number; requestsPerSecond: number } } };
    assert.equal(config.baseUrl, `${server.url}/api/v2`);
    const client = config.getClient();
    assert.equal(client.limiter.maxConcurrent, 2);
    assert.equal(client.limiter.requestsPerSecond, 0);
    const out = helper.getNode('out');
    const received = new Promise<NodeMessage>((resolve) => out.on('input', (msg: NodeMessage) => resolve(msg)));
    helper.getNode('probe').receive({ payload: '/accounts/me' } as NodeMessage);
    await received;
    assert.equal(server.requests[0].path, '/api/v2/accounts/me');
  });
});

describe('energy-service editor validation', () => {
  type Validate = (this: Record<string, unknown>, value: unknown) => true | string | false;
  const definition = editorDefinition<{ defaults: Record<string, { validate?: Validate }> }>('energy-service', () => ({ length: 0, val: () => undefined }));

  function verdict(property: string, value: unknown, node: Record<string, unknown> = { service: 'metry' }): true | string | false {
    return definition.defaults[property].validate!.call({ ...node, _: (key: string) => key }, value);
  }

  it('accepts what the runtime accepts and names the reason for the rest', () => {
    for (const good of ['', 'https://app.metry.io/api/v2', 'http://192.168.1.10:7777', 'http://[::1]:7777/dsmr/']) assert.equal(verdict('baseUrl', good), true, good);
    for (const bad of ['ftp://host/x', 'https://host/api?tenant=1', 'https://host/api#x', 'https://user:pw@host/api', 'host/api']) {
      assert.equal(verdict('baseUrl', bad), 'energy-service.errors.baseUrl', bad);
    }
    assert.equal(verdict('baseUrl', '', { service: 'dsmr-reader' }), 'energy-service.errors.baseUrl', 'DSMR-reader has no default');
    assert.equal(verdict('timeout', ''), true);
    assert.equal(verdict('timeout', '3600'), true);
    assert.equal(verdict('timeout', '2147484'), 'energy-service.errors.timeout');
    assert.equal(verdict('timeout', '0'), 'energy-service.errors.timeout');
    assert.equal(verdict('maxConcurrent', '4'), true);
    assert.equal(verdict('maxConcurrent', '2.5'), 'energy-service.errors.maxConcurrent');
    assert.equal(verdict('maxConcurrent', '0'), 'energy-service.errors.maxConcurrent');
    assert.equal(verdict('requestsPerSecond', '0'), true);
    assert.equal(verdict('requestsPerSecond', '0.5'), true);
    assert.equal(verdict('requestsPerSecond', '1000'), 'energy-service.errors.requestsPerSecond');
  });
});

describe('node-kit statuses from the runtime vocabulary', () => {
  const catalog: Record<string, string> = { 'metry-meters.status.listing': 'listing __count__ meters' };
  const RED = {
    _: (id: string, params?: Record<string, string>) => (catalog[id] ?? id).replace(/__(\w+)__/g, (_m, name: string) => String(params?.[name] ?? '')),
  } as unknown as NodeAPI;

  it('shows a core StatusView with its text from the node catalog', () => {
    assert.deepEqual(toNodeStatus(RED, 'metry-meters', statusView('working', 'listing', { count: 12 })), { fill: 'blue', shape: 'dot', text: 'listing 12 meters' });
  });

  it('shows an error code as it is, and a key missing from the catalog as the key', () => {
    assert.deepEqual(toNodeStatus(RED, 'metry-meters', errorStatus('429')), { fill: 'red', shape: 'ring', text: '429' });
    assert.deepEqual(toNodeStatus(RED, 'metry-meters', statusView('stopped')), { fill: 'grey', shape: 'ring', text: 'stopped' });
    assert.deepEqual(toNodeStatus(RED, 'metry-meters', undefined), {});
  });

  it('cuts a status text to 32 characters', () => {
    assert.equal(toNodeStatus(RED, 'metry-meters', statusView('working', 'x'.repeat(40))).text, `${'x'.repeat(31)}…`);
  });
});
