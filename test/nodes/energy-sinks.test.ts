/**
 * energy-home-assistant and energy-readings in the real runtime: what they send, what goes to a
 * Catch node, and settings refused at deploy.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import { parseTelegram } from '../../src/core/dsmr';
import { coreNode } from '../../testing/examples';
import { until } from '../../testing/manual-clock';
import { DSMR5 } from '../../testing/dsmr-telegrams';
import { helper, nodeModule } from '../../testing/runtime';
import { editorDefinition } from '../../testing/editor-definition';
import { readTopicPrefix } from '../../src/core/home-assistant';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const modules = () => [nodeModule('energy-home-assistant'), nodeModule('energy-readings'), coreNode('common/25-catch.js')] as never;

function flow(type: string, config: Record<string, unknown> = {}): Record<string, unknown>[] {
  return [
    { id: 'tab', type: 'tab', label: 'test' },
    { id: 'n1', z: 'tab', type, name: '', ...config, wires: [['out']] },
    { id: 'out', z: 'tab', type: 'helper' },
    { id: 'catcher', z: 'tab', type: 'catch', scope: ['n1'], uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];
}

async function run(type: string, config: Record<string, unknown>, inputs: Record<string, unknown>[], expected: (out: Msg[], caught: Msg[]) => boolean): Promise<{ out: Msg[]; caught: Msg[] }> {
  await helper.load(modules(), flow(type, config) as never);
  const out: Msg[] = [];
  const caught: Msg[] = [];
  helper.getNode('out').on('input', (msg: Msg) => out.push(msg));
  helper.getNode('caught').on('input', (msg: Msg) => caught.push(msg));
  for (const input of inputs) helper.getNode('n1').receive(input as NodeMessage);
  await until(() => expected(out, caught), `${type} to answer`);
  return { out, caught };
}

const hourly = { source: 'metry', meterId: 'm1', metric: 'energy', unit: 'kWh', granularity: 'hour', start: '2024-01-01T00:00:00+01:00', value: 1.5 };
const register = { source: 'intellimeter', meterId: 'meter1', metric: 'register', unit: 'kWh', start: '2019-10-30T13:15:00-04:00', value: 28540.24 };

describe('energy-home-assistant node', () => {
  before(() => new Promise<void>((resolve) => helper.startServer(resolve)));
  after(() => new Promise<void>((resolve) => helper.stopServer(resolve)));
  afterEach(() => helper.unload());

  it('sends fresh MQTT messages for mqtt out, one per config and state, nothing of the input message', async () => {
    const { out } = await run('energy-home-assistant', {}, [{ payload: parseTelegram(DSMR5), qos: 2, retain: true, userProperties: { a: 1 } }], (o) => o.some((m) => m.topic.endsWith('/state')));
    assert.ok(out.length > 20);
    for (const msg of out) assert.deepEqual(Object.keys(msg).filter((k) => k !== '_msgid').sort(), ['payload', 'qos', 'retain', 'topic']);
    assert.ok(out.filter((m) => m.topic.endsWith('/config')).every((m) => m.retain === true && m.qos === 1));
  });

  it("Home Assistant's birth message republishes; its offline will is ignored; readings it cannot take go to Catch", async () => {
    const { out, caught } = await run(
      'energy-home-assistant',
      { discoveryPrefix: 'ha' },
      [{ payload: [register, hourly] }, { topic: 'ha/status', payload: 'offline' }, { topic: 'ha/status', payload: Buffer.from('online') }],
      (o, c) => o.filter((m) => m.topic.endsWith('/state')).length === 2 && c.length === 1,
    );
    assert.deepEqual(out.map((m) => m.topic), [
      'energy-export/status',
      'ha/sensor/energy_export_meter1/register/config',
      'energy-export/energy_export_meter1/state',
      'energy-export/status',
      'ha/sensor/energy_export_meter1/register/config',
      'energy-export/energy_export_meter1/state',
    ]);
    assert.match(caught[0].error.message, /1 reading\(s\) not published to Home Assistant: a value per hour covers a past period/);
    assert.deepEqual(caught[0].payload.map((r: { reading: unknown }) => r.reading), [hourly]);
  });

  it('a base topic with a wildcard is refused at deploy, naming the field, and every message fails with it', async () => {
    const { out, caught } = await run('energy-home-assistant', { baseTopic: 'p1/#' }, [{ payload: parseTelegram(DSMR5) }], (_o, c) => c.length === 1);
    assert.deepEqual(out, []);
    assert.match(caught[0].error.message, /Base topic "p1\/#" contains a wildcard/);
  });

  it('something that is neither a telegram nor readings is an error saying what to wire', async () => {
    const { caught } = await run('energy-home-assistant', {}, [{ payload: 'hello' }], (_o, c) => c.length === 1);
    assert.match(caught[0].error.message, /parsed P1 telegram \(from dsmr-p1-in\) or an array of normalized readings/);
  });
});

describe('energy-readings node', () => {
  before(() => new Promise<void>((resolve) => helper.startServer(resolve)));
  after(() => new Promise<void>((resolve) => helper.stopServer(resolve)));
  afterEach(() => helper.unload());

  it('telegram → normalized readings, other properties kept', async () => {
    const { out } = await run('energy-readings', { output: 'readings' }, [{ payload: parseTelegram(DSMR5), topic: 'p1' }], (o) => o.length === 1);
    assert.equal(out[0].topic, 'p1');
    assert.ok(out[0].payload.some((r: { metric: string; value: number }) => r.metric === 'gas_delivered' && r.value === 2871.352));
  });

  it('telegram → one InfluxDB point; readings → points; invalid items to Catch, the rest sent', async () => {
    const { out, caught } = await run('energy-readings', { output: 'influxdb' }, [{ payload: parseTelegram(DSMR5) }, { payload: [hourly, { ...hourly, start: 'soon' }] }], (o, c) => o.length === 2 && c.length === 1);
    const [fields, tags] = out[0].payload;
    assert.deepEqual(tags, { meterId: 'NL0001234567890', source: 'dsmr-p1' });
    assert.equal(fields.power_delivered, 1.284);
    assert.deepEqual(out[1].payload, [[{ time: new Date('2023-12-31T23:00:00Z'), energy: 1.5 }, { meterId: 'm1', source: 'metry', granularity: 'hour' }]]);
    assert.match(caught[0].error.message, /1 item\(s\) of msg.payload are not valid readings: start is not an ISO-8601 instant/);
  });

  it('an unknown output is refused at deploy', async () => {
    const { caught } = await run('energy-readings', { output: 'csv' }, [{ payload: [] }], (_o, c) => c.length === 1);
    assert.match(caught[0].error.message, /Output is "csv": choose one of readings, influxdb/);
  });
});

describe('energy-home-assistant editor', () => {
  it('the editor refuses exactly the topic prefixes the runtime refuses', () => {
    type Def = { defaults: Record<string, { validate: (this: unknown, v: string) => unknown }> };
    const def = editorDefinition<Def>('energy-home-assistant', () => ({ length: 0 }));
    for (const value of ['homeassistant', 'home/p1', '', ' ha ', 'a/#', 'a/+/b', '$SYS', '/ha', 'ha/', 'a//b', 'x'.repeat(201)]) {
      let runtimeOk = true;
      try {
        readTopicPrefix(value, 'Base topic', 'energy-export');
      } catch {
        runtimeOk = false;
      }
      for (const field of ['discoveryPrefix', 'baseTopic']) assert.equal(def.defaults[field].validate.call({}, value) === true, runtimeOk, `${field} ${JSON.stringify(value)}`);
    }
  });
});
