import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { NodeMessage } from 'node-red';
import { helper, nodeModule, repoRoot } from '../../testing/runtime';
import { FakeMetry, METRY_TEST_TOKEN } from '../../testing/fakes/metry';
import { ManualClock } from '../../testing/manual-clock';
import { withCatalogs } from '../../testing/catalog';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const joinNode = require(path.join(repoRoot, 'node_modules/@node-red/nodes/core/sequence/17-split.js'));
// Node-RED's own admin authentication (the module behind RED.auth in a real runtime).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const editorAuth = require(path.join(repoRoot, 'node_modules/@node-red/editor-api/lib/auth'));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Msg = Record<string, any>;

function collector(id: string): { messages: Msg[]; next: () => Promise<Msg> } {
  const messages: Msg[] = [];
  let waiting: ((msg: Msg) => void)[] = [];
  helper.getNode(id).on('input', (msg: Msg) => {
    messages.push(msg);
    const resolvers = waiting;
    waiting = [];
    resolvers.forEach((resolve) => resolve(msg));
  });
  return { messages, next: () => new Promise((resolve) => waiting.push(resolve)) };
}

describe('metry-meters in the Node-RED runtime', () => {
  let metry: FakeMetry;

  before(async () => {
    metry = await new FakeMetry().start();
    await new Promise<void>((resolve) => helper.startServer(resolve));
  });
  after(async () => {
    helper.settings({ energyExportClock: undefined } as never);
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await metry.stop();
  });
  beforeEach(() => {
    helper.settings({ energyExportClock: ManualClock.autoAdvancing() } as never);
    metry.clearMeters();
    metry.subaccounts.length = 0;
  });
  afterEach(async () => {
    await helper.unload();
    metry.server.reset();
  });

  async function load(props: Record<string, unknown> = {}, extra: { modules?: unknown[]; nodes?: Record<string, unknown>[]; token?: string } = {}) {
    const nodes = [
      { id: 'f1', type: 'tab', label: 'metry' },
      { id: 'cfg', z: 'f1', type: 'energy-service', service: 'metry', baseUrl: metry.baseUrl },
      { id: 'mm1', z: 'f1', type: 'metry-meters', server: 'cfg', mode: 'meters', output: 'all', subaccount: '', subaccountType: 'str', treeNode: '', treeNodeType: 'str', tags: '', tagsType: 'str', ean: '', eanType: 'str', meterType: '', box: 'active', mappings: [], useTags: false, tagPrefix: 'mapped:', wires: [['out1'], ['out2']], ...props },
      { id: 'out1', z: 'f1', type: 'helper' },
      { id: 'out2', z: 'f1', type: 'helper' },
      { id: 'catcher', z: 'f1', type: 'catch', scope: ['mm1'], uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'f1', type: 'helper' },
      ...(extra.nodes ?? []),
    ];
    await helper.load([nodeModule('energy-service'), withCatalogs(nodeModule('metry-meters')), ...(extra.modules ?? [])] as never, nodes as never, { cfg: { token: extra.token ?? METRY_TEST_TOKEN } });
  }

  function statuses(id = 'mm1'): { text?: string; fill?: string }[] {
    return (helper.getNode(id) as unknown as { status: { args: unknown[][] } }).status.args.map((a) => a[0] as { text?: string });
  }

  it('lists every page and sends all meters in one message, with progress in the status', async () => {
    metry.addMeters(120);
    await load();
    const out = collector('out1');
    helper.getNode('mm1').receive({ payload: 'go', topic: 'nightly' } as NodeMessage);
    const msg = await out.next();
    assert.equal(msg.payload.length, 120);
    assert.equal(msg.topic, 'nightly', 'the rest of the message is kept');
    assert.equal(msg.payload[119].root._id, FakeMetry.rootId(119));
    assert.ok(msg.payload[0].consumption_stats.energy.month.first);
    const texts = statuses().map((s) => s.text);
    assert.ok(texts.includes('50/120 meters'));
    assert.ok(texts.includes('100/120 meters'));
    assert.equal(texts.at(-1), '120 meters');
  });

  it('sends one message per meter with msg.parts that a join node reassembles', async () => {
    metry.addMeters(51);
    await load({ output: 'each', wires: [['out1', 'joiner'], ['out2']] }, {
      modules: [joinNode],
      nodes: [
        { id: 'joiner', z: 'f1', type: 'join', mode: 'auto', build: 'array', property: 'payload', propertyType: 'msg', timeout: '', count: '', wires: [['joined']] },
        { id: 'joined', z: 'f1', type: 'helper' },
      ],
    });
    const out = collector('out1');
    const joined = collector('joined');
    const done = joined.next();
    helper.getNode('mm1').receive({ payload: 'go' } as NodeMessage);
    const all = await done;
    assert.equal(out.messages.length, 51);
    assert.deepEqual(out.messages.map((m) => m.parts.index), Array.from({ length: 51 }, (_, i) => i));
    assert.ok(out.messages.every((m) => m.parts.count === 51), 'sent once the list is whole, each message knows the count');
    assert.equal(new Set(out.messages.map((m) => m.parts.id)).size, 1);
    assert.deepEqual(all.payload.map((m: any) => m.name), Array.from({ length: 51 }, (_, i) => `Meter ${i}`));
  });

  it('sends nothing when the listing fails on page 3, so no join waits for a sequence that never ends', async () => {
    metry.addMeters(120);
    metry.beforeListPage = (skip) => {
      if (skip === 50) metry.server.fail({ kind: 'status', status: 401 }, 1, /\/meters$/);
    };
    await load({ output: 'each' });
    const out = collector('out1');
    const caught = collector('caught');
    helper.getNode('mm1').receive({ payload: 'go' } as NodeMessage);
    const msg = await caught.next();
    assert.equal(msg.statusCode, 401);
    assert.equal(metry.server.requestsTo('/api/v2/meters').length, 3, 'two pages came before the failure');
    assert.equal(out.messages.length, 0);
    assert.equal(statuses().at(-1)!.text, '401');
  });

  it('lists again when the meter list changes while it is paged: each active meter once', async () => {
    metry.addMeters(60);
    let added: number | undefined;
    metry.beforeListPage = (skip) => {
      if (skip === 50 && added === undefined) added = metry.insertMeterAtFront();
    };
    await load();
    const out = collector('out1');
    helper.getNode('mm1').receive({ payload: 'go' } as NodeMessage);
    const msg = await out.next();
    const ids = msg.payload.map((m: any) => m.root._id);
    assert.equal(ids.length, 61);
    assert.equal(new Set(ids).size, 61);
    assert.ok(ids.includes(FakeMetry.rootId(added!)));
    assert.deepEqual(msg.listing, { count: 61, sent: 61, passes: 2, duplicates: 0, complete: true });
  });

  it('maps meters by table and tag, and lists the unmapped ones on the second output', async () => {
    metry.addMeters(4, (i) => ({ tags: i === 1 ? ['mapped:BLD-TAG'] : i === 3 ? ['mapped:A', 'mapped:B'] : [] }));
    await load({ mappings: [{ meter: FakeMetry.rootId(0), mappedId: 'BLD-0' }], useTags: true, tagPrefix: 'mapped:' });
    const out1 = collector('out1');
    const out2 = collector('out2');
    helper.getNode('mm1').receive({ payload: 'go' } as NodeMessage);
    const [mapped, unmapped] = await Promise.all([out1.next(), out2.next()]);
    assert.deepEqual(mapped.payload.map((m: any) => [m.name, m.mappedId]), [['Meter 0', 'BLD-0'], ['Meter 1', 'BLD-TAG']]);
    assert.deepEqual(unmapped.payload.map((m: any) => [m.id, m.reason]), [
      [FakeMetry.rootId(2), 'no tag starting with "mapped:"'],
      [FakeMetry.rootId(3), 'several tags could be the id (A, B)'],
    ]);
    assert.deepEqual(Object.keys(unmapped.payload[0]).sort(), ['address', 'ean', 'id', 'name', 'reason', 'tags', 'type']);
    assert.equal(statuses().at(-1)!.text, '2 meters, 2 unmapped');
  });

  it('takes filters from the message and sends them under Metry’s names', async () => {
    metry.addMeters(60, (i) => ({ subaccount: i < 55 ? 'sub0000000000000000000001' : undefined, type: i % 2 ? 'heat' : 'electricity' }));
    await load({ subaccount: 'customer', subaccountType: 'msg', meterType: 'heat', box: 'any' });
    const out = collector('out1');
    helper.getNode('mm1').receive({ payload: 'go', customer: 'sub0000000000000000000001' } as NodeMessage);
    const msg = await out.next();
    assert.equal(msg.payload.length, 27);
    const query = metry.server.requestsTo('/api/v2/meters')[0].query;
    assert.equal(query.get('assigner._id'), 'sub0000000000000000000001');
    assert.equal(query.get('type'), 'heat');
    assert.equal(query.get('revoked'), 'false');
    assert.equal(query.has('box'), false);
  });

  it('lists subaccounts, every page', async () => {
    for (let i = 0; i < 55; i += 1) metry.subaccounts.push({ _id: `sub${String(i).padStart(21, '0')}`, name: `Customer ${i}`, custom_identifier: `C-${i}` });
    await load({ mode: 'subaccounts' });
    const out = collector('out1');
    helper.getNode('mm1').receive({ payload: 'go' } as NodeMessage);
    const msg = await out.next();
    assert.deepEqual(msg.payload.map((s: any) => s.custom_identifier).slice(53), ['C-53', 'C-54']);
    assert.equal(statuses().at(-1)!.text, '55 subaccounts');
  });

  it('reports a wrong token to a catch node without leaking it', async () => {
    metry.addMeters(3);
    await load({}, { token: 'wrong-token-0123456789' });
    const caught = collector('caught');
    helper.getNode('mm1').receive({ payload: 'go' } as NodeMessage);
    const msg = await caught.next();
    assert.match(msg.error.message, /did not accept the credentials/);
    assert.equal(msg.statusCode, 401);
    assert.ok(!JSON.stringify(msg).includes('wrong-token-0123456789'));
  });

  describe('the Map meters admin endpoint', () => {
    const READ_TOKEN = 'admin-read-token-1f2e3d';
    const FLOWS_ONLY_TOKEN = 'admin-flows-token-4c5b6a';
    const EDITOR_TOKEN = 'admin-editor-token-7a8b9c';

    before(async () => {
      // A runtime with adminAuth, as settings.js configures it: one user who may read
      // everything, one who may only read flows, and one who may edit.
      await editorAuth.init(
        {
          adminAuth: {
            type: 'credentials',
            users: [
              { username: 'viewer', password: 'unused', permissions: 'read' },
              { username: 'flows-reader', password: 'unused', permissions: 'flows.read' },
              { username: 'editor', password: 'unused', permissions: '*' },
            ],
            tokens: [
              { token: READ_TOKEN, user: 'viewer', scope: ['read'] },
              { token: FLOWS_ONLY_TOKEN, user: 'flows-reader', scope: ['flows.read'] },
              { token: EDITOR_TOKEN, user: 'editor', scope: ['*'] },
            ],
          },
        },
        { getSessions: async () => ({}), saveSessions: async () => undefined },
      );
    });
    after(() => editorAuth.init({}, {}));

    const withRealAuth = (RED: Record<string, unknown>) => {
      RED.auth = editorAuth;
      return (nodeModule('metry-meters') as (red: unknown) => void)(RED);
    };

    async function loadWithAuth() {
      const nodes = [
        { id: 'f1', type: 'tab', label: 'metry' },
        { id: 'cfg', z: 'f1', type: 'energy-service', service: 'metry', baseUrl: metry.baseUrl },
        { id: 'other', z: 'f1', type: 'energy-service', service: 'utilityapi', baseUrl: metry.baseUrl },
        { id: 'mm1', z: 'f1', type: 'metry-meters', server: 'cfg', mode: 'meters', output: 'all', mappings: [], wires: [[], []] },
      ];
      await helper.load([nodeModule('energy-service'), withRealAuth] as never, nodes, { cfg: { token: METRY_TEST_TOKEN }, other: { token: 'uapi-token-000000' } });
    }

    it('refuses a request without a token, and a user who may only read: using the stored token needs the right to edit', async () => {
      metry.addMeters(2);
      await loadWithAuth();
      await helper.request().post('/metry-meters/cfg/meters').send({}).expect(401);
      await helper.request().post('/metry-meters/cfg/meters').set('Authorization', 'Bearer not-a-token').send({}).expect(401);
      await helper.request().post('/metry-meters/cfg/meters').set('Authorization', `Bearer ${FLOWS_ONLY_TOKEN}`).send({}).expect(401);
      await helper.request().post('/metry-meters/cfg/meters').set('Authorization', `Bearer ${READ_TOKEN}`).send({}).expect(401);
      assert.equal(metry.server.requests.length, 0, 'Metry is never asked for a refused request');
      await helper.request().post('/metry-meters/cfg/meters').set('Authorization', `Bearer ${EDITOR_TOKEN}`).send({}).expect(200);
    });

    it('lists meter metadata with suggestions and never returns a credential', async () => {
      metry.addMeters(60, (i) => ({ name: i === 42 ? 'Kungsgatan 12 el' : `Meter ${i}`, tags: i === 7 ? ['north'] : [] }));
      await loadWithAuth();
      const response = await helper.request()
        .post('/metry-meters/cfg/meters')
        .set('Authorization', `Bearer ${EDITOR_TOKEN}`)
        .send({ own: 'BLD-7;735999200000000007\nBLD-K;Kungsgatan 12' })
        .expect(200);
      const body = response.body as { meters: Record<string, unknown>[]; suggestions: { meterId: string; candidates: { ownId: string; reason: string }[] }[]; count: number };
      assert.equal(body.meters.length, 60);
      assert.equal(body.count, 60);
      for (const meter of body.meters) assert.deepEqual(Object.keys(meter).sort(), ['address', 'ean', 'id', 'name', 'tags', 'type']);
      assert.deepEqual(body.meters[7].tags, ['north']);
      const byId = new Map(body.suggestions.map((s) => [s.meterId, s.candidates]));
      assert.deepEqual(byId.get(FakeMetry.rootId(7))!.map((c) => [c.ownId, c.reason]), [['BLD-7', 'ean']]);
      assert.equal(byId.get(FakeMetry.rootId(42))![0].ownId, 'BLD-K');
      assert.deepEqual((response.body as { proposed: Record<string, string> }).proposed, { [FakeMetry.rootId(7)]: 'BLD-7', [FakeMetry.rootId(42)]: 'BLD-K' });
      assert.ok(!response.text.includes(METRY_TEST_TOKEN), 'the token is not in the answer');
      assert.equal(metry.server.requests[0].headers.authorization, `Bearer ${METRY_TEST_TOKEN}`, 'the server used the stored token');
    });

    it('says "deploy first" for a config node the runtime does not have, and refuses other services', async () => {
      await loadWithAuth();
      const missing = await helper.request().post('/metry-meters/not-deployed/meters').set('Authorization', `Bearer ${EDITOR_TOKEN}`).send({}).expect(404);
      assert.equal(missing.body.code, 'NOT_DEPLOYED');
      assert.match(missing.body.error, /Deploy first/);
      const other = await helper.request().post('/metry-meters/other/meters').set('Authorization', `Bearer ${EDITOR_TOKEN}`).send({}).expect(400);
      assert.match(other.body.error, /is for UtilityAPI, not Metry/);
      assert.ok(!other.text.includes('uapi-token-000000'));
    });

    it('passes on Metry errors without the token', async () => {
      await loadWithAuth();
      metry.server.fail({ kind: 'status', status: 401 }, 1);
      const response = await helper.request().post('/metry-meters/cfg/meters').set('Authorization', `Bearer ${EDITOR_TOKEN}`).send({}).expect(502);
      assert.match(response.body.error, /did not accept the credentials/);
      assert.ok(!response.text.includes(METRY_TEST_TOKEN));
    });
  });
});
