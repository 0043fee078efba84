import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTelegram } from '../../../src/core/dsmr';
import { HomeAssistantPublisher, deviceFromTelegram, meterNodeId, readHomeAssistantSettings, isBirthMessage, topicId, type MqttMessage, type PublisherSettings } from '../../../src/core/home-assistant';
import { isConfigError } from '../../../src/core/runtime/options';
import { DSMR5, numberedTelegram } from '../../../testing/dsmr-telegrams';

const settings: PublisherSettings = { discoveryPrefix: 'homeassistant', baseTopic: 'energy-export', powerUnit: 'kW' };
const NOW = Date.parse('2024-03-15T09:15:31Z');
type Config = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const configs = (messages: MqttMessage[]) => messages.filter((m) => m.topic.endsWith('/config'));
const states = (messages: MqttMessage[]) => messages.filter((m) => m.topic.endsWith('/state'));
/** What Home Assistant's value_template `{{ value_json['x'] }}` picks from a state. */
function templateValue(config: Config, state: Record<string, unknown>): unknown {
  const key = /^\{\{ value_json\['([^']+)'\] \}\}$/.exec(config.value_template as string)?.[1];
  assert.ok(key, `template ${config.value_template}`);
  return state[key];
}

describe('Home Assistant MQTT discovery from a P1 telegram', () => {
  it('announces one device with a sensor per metric, retained, then one JSON state that every template reads', () => {
    const publisher = new HomeAssistantPublisher(settings);
    const { messages, rejected } = publisher.publish(parseTelegram(DSMR5), NOW);
    assert.deepEqual(rejected, []);
    assert.deepEqual(messages[0], { topic: 'energy-export/status', payload: 'online', retain: true, qos: 1 });
    const node = 'energy_export_NL0001234567890';
    const announced = configs(messages);
    assert.ok(announced.every((m) => m.retain && m.qos === 1 && m.topic.startsWith(`homeassistant/sensor/${node}/`)));
    const byObject = new Map(announced.map((m) => [m.topic.split('/')[3], m.payload as Config]));
    const expect = (object: string, deviceClass: string | undefined, stateClass: string, unit: string) => {
      const config = byObject.get(object);
      assert.ok(config, `${object} announced`);
      assert.deepEqual([config.device_class, config.state_class, config.unit_of_measurement], [deviceClass, stateClass, unit], object);
      assert.equal(config.unique_id, `${node}_${object}`);
    };
    expect('electricity_delivered_tariff1', 'energy', 'total_increasing', 'kWh');
    expect('electricity_returned_tariff2', 'energy', 'total_increasing', 'kWh');
    expect('power_delivered', 'power', 'measurement', 'kW');
    expect('power_returned_l3', 'power', 'measurement', 'kW');
    expect('voltage_l2', 'voltage', 'measurement', 'V');
    expect('current_l1', 'current', 'measurement', 'A');
    expect('gas_delivered', 'gas', 'total_increasing', 'm³');
    expect('water_delivered', 'water', 'total_increasing', 'm³');
    const sample = byObject.get('gas_delivered')!;
    assert.deepEqual(sample.device, { identifiers: [node], name: 'P1 meter NL0001234567890', manufacturer: 'XMX', model: 'DEMO\\2X000-5000', serial_number: 'NL0001234567890', sw_version: 'P1 50' });
    assert.equal(sample.availability_topic, 'energy-export/status');
    assert.equal(sample.state_topic, `energy-export/${node}/state`);
    assert.equal(sample.name, 'Gas');
    const [state] = states(messages);
    assert.equal(state.retain, false);
    assert.equal(states(messages).length, 1, 'one state per meter');
    const payload = state.payload as Record<string, unknown>;
    assert.equal(templateValue(byObject.get('electricity_delivered_tariff1')!, payload), 4512.734);
    assert.equal(templateValue(byObject.get('gas_delivered')!, payload), 2871.352);
    for (const config of byObject.values()) assert.equal(typeof templateValue(config, payload), 'number', config.name);
    assert.equal(payload.timestamp, '2024-03-15T10:15:30+01:00');
    // The configs come before the state, so Home Assistant subscribes before the first value.
    assert.ok(messages.indexOf(state) > messages.indexOf(announced[announced.length - 1]));
  });

  it('every energy, gas and water sensor is one the Energy dashboard accepts', () => {
    const { messages } = new HomeAssistantPublisher(settings).publish(parseTelegram(DSMR5), NOW);
    for (const { payload } of configs(messages)) {
      const config = payload as Config;
      if (config.device_class === 'energy') assert.ok(['Wh', 'kWh', 'MWh', 'GJ'].includes(config.unit_of_measurement) && config.state_class === 'total_increasing', config.name);
      if (config.device_class === 'gas' || config.device_class === 'water') assert.ok(config.unit_of_measurement === 'm³' && config.state_class === 'total_increasing', config.name);
      assert.notEqual(config.unit_of_measurement, 'm3');
    }
  });

  it('unique ids and topics are the same after a restart, and later telegrams only send states', () => {
    const first = new HomeAssistantPublisher(settings).publish(parseTelegram(numberedTelegram(0)), NOW).messages;
    const restarted = new HomeAssistantPublisher(settings);
    const again = restarted.publish(parseTelegram(numberedTelegram(5)), NOW).messages;
    assert.deepEqual(configs(again), configs(first));
    const next = restarted.publish(parseTelegram(numberedTelegram(6)), NOW).messages;
    assert.deepEqual(next.map((m) => m.topic), [`energy-export/${meterNodeId('NL0001234567890')}/state`]);
    assert.equal((next[0].payload as Record<string, number>).electricity_delivered_tariff1, 4512.74);
  });

  it("Home Assistant's birth message brings every config and the last state again", () => {
    const publisher = new HomeAssistantPublisher(settings);
    const first = publisher.publish(parseTelegram(DSMR5), NOW).messages;
    assert.ok(isBirthMessage(settings, 'homeassistant/status', Buffer.from('online')));
    assert.ok(!isBirthMessage(settings, 'homeassistant/status', 'offline'));
    const birth = publisher.birth();
    assert.deepEqual(birth, first);
  });

  it('manufacturer and model come from the identification line', () => {
    const header = (h: string) => deviceFromTelegram({ ...parseTelegram(DSMR5), header: h, manufacturer: h.slice(0, 3) });
    assert.deepEqual([header('ISk5\\2MT382-1000').manufacturer, header('ISk5\\2MT382-1000').model], ['ISk', 'MT382-1000']);
    assert.equal(header('KFM5KAIFA-METER').model, 'KAIFA-METER');
  });

  it('power in W when chosen: values scaled without float noise', () => {
    const { messages } = new HomeAssistantPublisher({ ...settings, powerUnit: 'W' }).publish(parseTelegram(DSMR5), NOW);
    const power = configs(messages).find((m) => m.topic.includes('/power_delivered_l1/'))!.payload as Config;
    assert.equal(power.unit_of_measurement, 'W');
    const state = states(messages)[0].payload as Record<string, number>;
    assert.equal(state.power_delivered, 1284);
    assert.equal(state.power_delivered_l1, 655);
    assert.equal(state.electricity_delivered_tariff1, 4512.734, 'energy is not scaled');
  });
});

describe('Home Assistant MQTT discovery from normalized readings', () => {
  const register = (meterId: string, value: number | null, start = '2019-10-30T13:15:00-04:00') => ({ source: 'intellimeter', meterId, metric: 'register', unit: 'kWh', start, value });

  it('a register snapshot becomes an energy total; a value for a past period is refused with the reason', () => {
    const publisher = new HomeAssistantPublisher(settings);
    const hourly = { source: 'metry', meterId: 'abc', metric: 'energy', unit: 'kWh', granularity: 'hour', start: '2024-01-01T00:00:00+01:00', end: '2024-01-01T01:00:00+01:00', value: 1.5 };
    const { messages, rejected } = publisher.publish([register('meter 1', 28540.24), hourly, { metric: 'x' }], NOW);
    assert.equal(rejected.length, 2);
    assert.match(rejected[0].reason, /past period/);
    assert.match(rejected[1].reason, /source is missing/);
    const [config] = configs(messages);
    assert.deepEqual([(config.payload as Config).device_class, (config.payload as Config).state_class, (config.payload as Config).unit_of_measurement], ['energy', 'total_increasing', 'kWh']);
    assert.equal(config.topic, `homeassistant/sensor/${meterNodeId('meter 1')}/register/config`);
    assert.deepEqual(states(messages)[0].payload, { register: 28540.24, timestamp: '2019-10-30T13:15:00-04:00' });
  });

  it('an older snapshot arriving after a newer one does not go back in time; null keeps the last value', () => {
    const publisher = new HomeAssistantPublisher(settings);
    publisher.publish([register('m', 10, '2024-01-01T10:00:00Z')], NOW);
    const late = publisher.publish([register('m', 9, '2024-01-01T09:00:00Z'), register('m', null, '2024-01-01T11:00:00Z')], NOW).messages;
    assert.deepEqual(late, []);
    const newer = publisher.publish([register('m', 11, '2024-01-01T12:00:00+01:00')], NOW).messages;
    assert.equal((states(newer)[0].payload as Record<string, number>).register, 11);
  });

  it('topic ids keep letters, digits, _ and - and replace the rest with a hash, so different meters never share one', () => {
    for (const id of ['a.b', 'a_b', 'a b', 'a/b', 'a+b', 'a#b', 'ü']) assert.match(topicId(id), /^[A-Za-z0-9_-]+$/);
    const ids = ['a.b', 'a_b', 'a b', 'a/b', 'a-b'].map(topicId);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(topicId('a b'), topicId('a b'), 'the same on every call');
    assert.equal(topicId('K8EG004046395507'), 'K8EG004046395507');
    assert.equal(topicId('electricity_delivered_tariff1'), 'electricity_delivered_tariff1');
  });
});

describe('energy-home-assistant settings', () => {
  it('defaults, and topic prefixes that cannot work are config errors naming the field', () => {
    assert.deepEqual(readHomeAssistantSettings({}), settings);
    assert.deepEqual(readHomeAssistantSettings({ discoveryPrefix: ' ha ', baseTopic: 'home/p1', powerUnit: 'W' }), { discoveryPrefix: 'ha', baseTopic: 'home/p1', powerUnit: 'W' });
    for (const [field, value, pattern] of [
      ['baseTopic', 'home/#', /Base topic "home\/#" contains a wildcard/],
      ['baseTopic', 'home/', /empty level/],
      ['discoveryPrefix', '/homeassistant', /Discovery prefix .*empty level/],
      ['discoveryPrefix', '$SYS', /reserve/],
      ['powerUnit', 'MW', /Power unit is "MW": choose one of kW, W/],
    ] as const) {
      assert.throws(() => readHomeAssistantSettings({ [field]: value }), (e: unknown) => isConfigError(e) && pattern.test((e as Error).message), `${field}=${value}`);
    }
  });
});
