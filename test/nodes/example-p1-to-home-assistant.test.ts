/**
 * The p1-to-home-assistant example as shipped, in the real runtime against a real Mosquitto: what
 * a Home Assistant connecting to that broker would read (retained discovery configs, availability,
 * states), what it gets after its birth message, and that a redeploy keeps every unique_id.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import mqtt from 'mqtt';
import { parseTelegram } from '../../src/core/dsmr';
import { telegramToReadings } from '../../src/core/p1-readings';
import { coreNode, placeExample, readExample, type FlowNode } from '../../testing/examples';
import { until } from '../../testing/manual-clock';
import { fixturePath, helper, nodeModule } from '../../testing/runtime';
import { skipWithout, startMosquitto, type MosquittoServer } from '../../testing/servers';

const FIXTURE = fixturePath('dsmr', 'ndokter_be-emucs-1.7.1-fluvius-peak-gas-water.txt');

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** A client like Home Assistant's: subscribes and records every message with its retain flag. */
async function listen(url: string, topics: string[]): Promise<{ client: mqtt.MqttClient; received: Received[] }> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4 });
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString('utf8'), retain: packet.retain }));
  await client.subscribeAsync(topics, { qos: 1 });
  return { client, received };
}

const json = (m: Received): Record<string, any> => JSON.parse(m.payload); // eslint-disable-line @typescript-eslint/no-explicit-any

describe('example p1-to-home-assistant with Mosquitto', { skip: skipWithout('mosquitto') }, () => {
  let broker: MosquittoServer;
  const clients: mqtt.MqttClient[] = [];
  const telegram = parseTelegram(fs.readFileSync(FIXTURE));
  const readings = telegramToReadings(telegram);
  const node = `energy_export_${telegram.electricity.equipmentId}`;

  before(async () => {
    broker = await startMosquitto();
    await new Promise<void>((resolve) => helper.startServer(resolve));
  });
  after(async () => {
    await helper.unload();
    for (const client of clients) await client.endAsync();
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await broker.stop();
  });

  function load(): Promise<void> {
    const flow = readExample('p1-to-home-assistant.json');
    const placed = placeExample(flow, (n: FlowNode) => {
      // The serial P1 cable becomes the recorded telegram; one telegram per deploy.
      if (n.type === 'dsmr-p1-in') Object.assign(n, { source: 'file', filePath: FIXTURE, interval: '3600' });
      if (n.type === 'mqtt-broker') Object.assign(n, { broker: '127.0.0.1', port: String(broker.port) });
    });
    const modules = [nodeModule('dsmr-p1-in'), nodeModule('energy-home-assistant'), coreNode('network/10-mqtt.js'), coreNode('common/25-catch.js'), coreNode('common/90-comment.js')];
    return helper.load(modules as never, placed.nodes as never);
  }

  it('says what it needs, and Home Assistant finds the meter: retained configs, availability, a state that every sensor reads', async () => {
    const flow = readExample('p1-to-home-assistant.json');
    assert.equal(flow[0].type, 'comment');
    assert.match(flow[0].info, /\*\*Modules\*\*/);
    assert.ok(flow.every((n) => !n.credentials), 'no credentials in the example');

    const live = await listen(broker.url, ['homeassistant/#', 'energy-export/#']);
    clients.push(live.client);
    await load();
    await until(() => live.received.some((m) => m.topic.endsWith('/state')), 'the first state');

    // Home Assistant starting now gets what is retained: every config and the availability.
    const ha = await listen(broker.url, ['homeassistant/#', 'energy-export/#']);
    clients.push(ha.client);
    await until(() => ha.received.filter((m) => m.topic.endsWith('/config')).length === readings.length && ha.received.some((m) => m.topic === 'energy-export/status'), 'the retained configs');
    const configs = ha.received.filter((m) => m.topic.endsWith('/config'));
    assert.ok(configs.every((m) => m.retain), 'configs are retained');
    assert.deepEqual(configs.map((m) => m.topic).sort(), readings.map((r) => `homeassistant/sensor/${node}/${r.metric}/config`).sort());
    assert.deepEqual(ha.received.find((m) => m.topic === 'energy-export/status'), { topic: 'energy-export/status', payload: 'online', retain: true });
    assert.ok(!ha.received.some((m) => m.topic.endsWith('/state')), 'states are not retained');

    const byMetric = new Map(configs.map((m) => [m.topic.split('/')[3], json(m)]));
    const expectSensor = (metric: string, deviceClass: string, stateClass: string, unit: string): void => {
      const config = byMetric.get(metric)!;
      assert.deepEqual([config.device_class, config.state_class, config.unit_of_measurement], [deviceClass, stateClass, unit], metric);
      assert.equal(config.unique_id, `${node}_${metric}`);
      assert.equal(config.state_topic, `energy-export/${node}/state`);
      assert.equal(config.availability_topic, 'energy-export/status');
      assert.deepEqual(config.device.identifiers, [node]);
    };
    expectSensor('electricity_delivered_tariff1', 'energy', 'total_increasing', 'kWh');
    expectSensor('electricity_returned_tariff2', 'energy', 'total_increasing', 'kWh');
    expectSensor('power_delivered', 'power', 'measurement', 'kW');
    expectSensor('voltage_l1', 'voltage', 'measurement', 'V');
    expectSensor('current_l3', 'current', 'measurement', 'A');
    expectSensor('gas_delivered', 'gas', 'total_increasing', 'm³');
    expectSensor('water_delivered', 'water', 'total_increasing', 'm³');
    assert.equal(byMetric.get('gas_delivered')!.device.manufacturer, 'FLU');

    // The state as sent; each sensor's template picks its value (values from the fixture's text).
    const state = json(live.received.find((m) => m.topic === `energy-export/${node}/state`)!);
    const value = (metric: string) => state[/value_json\['([^']+)'\]/.exec(byMetric.get(metric)!.value_template)![1]];
    assert.equal(value('electricity_delivered_tariff2'), 15.758);
    assert.equal(value('electricity_returned_tariff2'), 0.011);
    assert.equal(value('voltage_l2'), 234.7);
    assert.equal(value('gas_delivered'), 112.384);
    assert.equal(value('water_delivered'), 872.234);
    for (const metric of byMetric.keys()) assert.equal(typeof value(metric), 'number', metric);
  });

  it("after Home Assistant's birth message every config and the state come again; a redeploy keeps every unique_id", async () => {
    const watcher = await listen(broker.url, ['homeassistant/sensor/#', 'energy-export/#']);
    clients.push(watcher.client);
    await until(() => watcher.received.filter((m) => m.topic.endsWith('/config')).length === readings.length, 'the retained configs');
    const before = watcher.received.filter((m) => m.topic.endsWith('/config')).map((m) => json(m).unique_id).sort();
    watcher.received.length = 0;

    await watcher.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await until(() => watcher.received.some((m) => m.topic.endsWith('/state')), 'the state after the birth message');
    assert.equal(watcher.received.filter((m) => m.topic.endsWith('/config')).length, readings.length, 'every config again');

    // Stopping the flow: the broker config's close message marks the sensors unavailable.
    watcher.received.length = 0;
    await helper.unload();
    await until(() => watcher.received.some((m) => m.topic === 'energy-export/status' && m.payload === 'offline'), 'offline on close');

    watcher.received.length = 0;
    await load();
    await until(() => watcher.received.some((m) => m.topic.endsWith('/state')), 'the state after the redeploy');
    const after = watcher.received.filter((m) => m.topic.endsWith('/config')).map((m) => json(m).unique_id).sort();
    assert.deepEqual(after, before, 'the same unique_ids after a redeploy');
    assert.ok(watcher.received.some((m) => m.topic === 'energy-export/status' && m.payload === 'online'));
  });
});
