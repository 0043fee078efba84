import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { helper, nodeModule, repoRoot } from '../../testing/runtime';
import { FakeMetry } from '../../testing/fakes/metry';
import { FakeMetryExtras } from '../../testing/fakes/metry-extra';
import { FakeOAuth2, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET } from '../../testing/fakes/oauth2';
import { ManualClock } from '../../testing/manual-clock';
import { getServiceConfig } from '../../src/node-red/energy-service-types';
import { onClose, onInput } from '../../src/node-red/node-kit';
import { OAUTH_CALLBACK_PATH, OAUTH_START_PATH } from '../../src/node-red/metry-oauth';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const editorAuth = require(path.join(repoRoot, 'node_modules/@node-red/editor-api/lib/auth'));

const WRITE_TOKEN = 'admin-write-token-7a6b5c';
const READ_TOKEN = 'admin-read-token-1f2e3d';

/** A user node as the package's own nodes use their config node: GET msg.payload, send the answer. */
function probeNode(RED: NodeAPI): void {
  function Probe(this: Node, def: NodeDef & { service: string }): void {
    RED.nodes.createNode(this, def);
    const node = this;
    let lease: ReturnType<ReturnType<typeof getServiceConfig>['leaseClient']> | undefined;
    onInput(node, async (msg, send) => {
      lease ??= getServiceConfig(RED, def.service, 'metry').leaseClient();
      const response = await lease.request({ path: String(msg.payload), what: 'probing', responseType: 'json' });
      send({ ...msg, payload: response.data });
    });
    onClose(node, () => lease?.close());
  }
  RED.nodes.registerType('energy-probe', Probe as unknown as (this: Node, def: NodeDef) => void);
}

function getRedirect(url: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    http.get(url, (response) => {
      response.resume();
      resolve(response.headers.location);
    }).on('error', reject);
  });
}

describe('Metry OAuth2 in the Node-RED runtime', () => {
  let metry: FakeMetry;
  let oauth: FakeOAuth2;
  let RED: NodeAPI;
  // Auto-advancing: the config node's rate limiter spaces requests on this clock.
  const clock = ManualClock.autoAdvancing(Date.parse('2024-05-01T08:00:00Z'));

  const capture = (red: NodeAPI): void => {
    RED = red;
    red.auth = editorAuth;
  };

  before(async () => {
    metry = await new FakeMetry().start();
    oauth = new FakeMetryExtras(metry).enableOAuth(clock);
    metry.addMeters(2);
    // After startServer: starting the runtime initialises the admin API's auth without adminAuth.
    await new Promise<void>((resolve) => helper.startServer(resolve));
    await editorAuth.init(
      {
        adminAuth: {
          type: 'credentials',
          users: [
            { username: 'editor', password: 'unused', permissions: '*' },
            { username: 'viewer', password: 'unused', permissions: 'read' },
          ],
          tokens: [
            { token: WRITE_TOKEN, user: 'editor', scope: ['*'] },
            { token: READ_TOKEN, user: 'viewer', scope: ['read'] },
          ],
        },
      },
      { getSessions: async () => ({}), saveSessions: async () => undefined },
    );
  });
  after(async () => {
    await editorAuth.init({}, {});
    helper.settings({ energyExportClock: undefined } as never);
    await helper.stopServer();
    await metry.stop();
  });
  beforeEach(() => {
    helper.settings({ energyExportClock: clock } as never);
    metry.server.reset();
  });
  afterEach(() => helper.unload());

  const flow = (extra: Record<string, unknown>[] = []) => [
    { id: 'f1', type: 'tab', label: 'customer 17' },
    { id: 'cfg', z: 'f1', type: 'energy-service', service: 'metry', baseUrl: metry.baseUrl, authMode: 'oauth2' },
    { id: 'probe', z: 'f1', type: 'energy-probe', service: 'cfg', wires: [['out']] },
    { id: 'out', z: 'f1', type: 'helper' },
    { id: 'catcher', z: 'f1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'f1', type: 'helper' },
    ...extra,
  ];

  async function load(credentials: Record<string, string>) {
    await helper.load([capture, nodeModule('energy-service'), probeNode] as never, flow() as never, { cfg: credentials } as never);
  }

  function nextMessage(id: string): Promise<NodeMessage & Record<string, unknown>> {
    return new Promise((resolve) => helper.getNode(id).once('input', resolve));
  }

  const REDIRECT = (): string => `${helper.url()}${OAUTH_CALLBACK_PATH}`;

  it('authorizes from the editor\'s endpoints: write permission to start, single-use state, refresh token into the credential store only', async () => {
    oauth.redirectUris.length = 0;
    await load({ clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET });
    const body = { nodeId: 'cfg', baseUrl: metry.baseUrl, clientId: OAUTH_CLIENT_ID, clientSecret: '__PWRD__', redirectUri: REDIRECT() };
    await helper.request().post(OAUTH_START_PATH).send(body).expect(401);
    await helper.request().post(OAUTH_START_PATH).set('Authorization', `Bearer ${READ_TOKEN}`).send(body).expect(401);
    const started = await helper.request().post(OAUTH_START_PATH).set('Authorization', `Bearer ${WRITE_TOKEN}`).send(body).expect(200);
    const authorizeUrl = new URL(started.body.authorizeUrl as string);
    assert.equal(authorizeUrl.origin + authorizeUrl.pathname, `${metry.server.url}/oauth/authorize`);
    assert.ok(!started.text.includes(OAUTH_CLIENT_SECRET), 'the stored secret was used, not sent back');

    const back = new URL((await getRedirect(authorizeUrl.toString()))!);
    assert.equal(back.pathname, OAUTH_CALLBACK_PATH);
    const forged = await helper.request().get(`${OAUTH_CALLBACK_PATH}?code=${back.searchParams.get('code')}&state=forged`).expect(400);
    assert.match(forged.text, /unknown, expired or was already used/);
    const page = await helper.request().get(`${back.pathname}${back.search}`).expect(200);
    assert.match(page.text, /authorized\. Deploy to start using it/);
    const stored = RED.nodes.getCredentials('cfg') as Record<string, string>;
    assert.ok(stored.refreshToken && oauth.liveRefreshTokens().includes(stored.refreshToken));
    assert.equal(stored.clientSecret, OAUTH_CLIENT_SECRET);
    for (const secret of [stored.refreshToken, OAUTH_CLIENT_SECRET]) assert.ok(!page.text.includes(secret), 'no secret on the page');
    const replay = await helper.request().get(`${back.pathname}${back.search}`).expect(400);
    assert.match(replay.text, /already used/);
    // The editor only learns that a refresh token exists, never its value.
    const editorView = await helper.request().get('/credentials/energy-service/cfg').set('Authorization', `Bearer ${WRITE_TOKEN}`);
    assert.ok(!editorView.text.includes(stored.refreshToken) && !editorView.text.includes(OAUTH_CLIENT_SECRET));
  });

  it('uses the authorized account, keeps a rotated refresh token for the next start, and reports a revoked grant without secrets', async () => {
    const first = oauth.issueRefreshToken();
    await load({ clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET, refreshToken: first });
    let out = nextMessage('out');
    helper.getNode('probe').receive({ payload: '/accounts/me' } as NodeMessage);
    assert.equal(((await out).payload as { data: { _id: string } }).data._id, 'acc0000000000000000000001');
    const rotated = (RED.nodes.getCredentials('cfg') as Record<string, string>).refreshToken;
    assert.notEqual(rotated, first, 'Metry rotated the refresh token and the store has the new one');
    assert.ok(!oauth.liveRefreshTokens().includes(first));

    // Node-RED starts again from the credential store: the rotated token works, the first would not.
    const store = { ...(RED.nodes.getCredentials('cfg') as Record<string, string>) };
    await helper.unload();
    await load(store);
    out = nextMessage('out');
    helper.getNode('probe').receive({ payload: '/accounts/me' } as NodeMessage);
    await out;

    // The customer removes the app's access in Metry.
    oauth.revoke();
    clock.advance(3_600_000);
    const caught = nextMessage('caught');
    helper.getNode('probe').receive({ payload: '/accounts/me' } as NodeMessage);
    const failure = await caught;
    const error = failure.error as { message: string };
    assert.match(error.message, /revoked the access.*click Authorize/);
    const secrets = [OAUTH_CLIENT_SECRET, first, rotated, ...Object.values(RED.nodes.getCredentials('cfg') as Record<string, string>).filter((v) => v !== OAUTH_CLIENT_ID)];
    const logged = helper.log().args.map((args: unknown[]) => JSON.stringify(args)).join('\n');
    for (const secret of secrets) {
      assert.ok(!JSON.stringify(failure).includes(secret), 'no secret in the message');
      assert.ok(!logged.includes(secret), 'no secret in the log');
    }
    for (const request of metry.server.requests) for (const secret of secrets) assert.ok(!`${request.path}?${request.query}`.includes(secret), 'no secret in a URL');
  });

  it('refuses an OAuth2 config node that was never authorized at deploy, saying to click Authorize', async () => {
    await load({ clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET });
    const caught = nextMessage('caught');
    helper.getNode('probe').receive({ payload: '/accounts/me' } as NodeMessage);
    assert.match(((await caught).error as { message: string }).message, /not authorized.*click Authorize/);
    assert.equal(metry.server.requests.length, 0, 'nothing was sent');
  });
});
