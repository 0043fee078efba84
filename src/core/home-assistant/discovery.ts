/**
 * Home Assistant MQTT discovery: one device per meter, one sensor per metric, one JSON state per
 * meter.
 *
 * Sources (https://www.home-assistant.io/integrations/mqtt/):
 * - "Discovery topic": `<discovery_prefix>/<component>/[<node_id>/]<object_id>/config`; node_id
 *   and object_id only from `[a-zA-Z0-9_-]`. The payload is a JSON dictionary with the options
 *   of the component; the full option names are used here (abbreviations are optional).
 * - "Discovery messages and availability": configs are published retained so Home Assistant
 *   finds them after its own restart; `availability_topic` with `payload_available` /
 *   `payload_not_available` makes entities unavailable when the publisher is gone (the MQTT
 *   broker config's last will).
 * - "Using the birth message": Home Assistant publishes `online` to `<discovery_prefix>/status`
 *   when it (re)starts; devices then publish their discovery configs and states again.
 * - `unique_id` lets Home Assistant keep an entity (its name, area, statistics) across restarts;
 *   it must never change for the same meter and metric.
 * - `device` groups the sensors: `identifiers`, `name`, `manufacturer`, `model`,
 *   `serial_number`, `sw_version`; `origin` names the software that publishes them.
 */
import { createHash } from 'node:crypto';
import type { SensorSpec } from './sensors';

export const ORIGIN = { name: 'node-red-contrib-energy-export', url: 'https://github.com/energy-export/node-red-contrib-energy-export' };

export interface TopicSettings {
  /** Home Assistant's discovery prefix, `homeassistant` unless changed there. */
  discoveryPrefix: string;
  /** Where states and availability go: `<baseTopic>/<node id>/state`, `<baseTopic>/status`. */
  baseTopic: string;
}

export interface MeterDevice {
  meterId: string;
  name: string;
  manufacturer?: string;
  model?: string;
  swVersion?: string;
}

export interface MqttMessage {
  topic: string;
  /** Objects are sent as JSON by Node-RED's `mqtt out` node. */
  payload: Record<string, unknown> | string;
  retain: boolean;
  qos: 0 | 1;
}

/**
 * A topic level and id from any meter id or metric. Ids made only of `[A-Za-z0-9_-]` (P1
 * equipment ids, the package's metric names) stay as they are; any other gets its other characters
 * replaced by `_` and a short hash of the original appended, so `meter 1` and `meter_1` never share
 * a topic or a unique_id, and the result is the same on every run.
 */
export function topicId(text: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(text)) return text;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 8);
  return `${text.replace(/[^A-Za-z0-9_-]/g, '_')}_${hash}`;
}

/** node_id of a meter's sensors and the identifier of its device. */
export function meterNodeId(meterId: string): string {
  return `energy_export_${topicId(meterId)}`;
}

export function stateTopic(settings: TopicSettings, meterId: string): string {
  return `${settings.baseTopic}/${meterNodeId(meterId)}/state`;
}

export function availabilityTopic(settings: TopicSettings): string {
  return `${settings.baseTopic}/status`;
}

/** The retained discovery config of one sensor of a meter. */
export function sensorConfig(settings: TopicSettings, device: MeterDevice, metric: string, spec: SensorSpec): MqttMessage {
  const nodeId = meterNodeId(device.meterId);
  const objectId = topicId(metric);
  const payload: Record<string, unknown> = {
    name: spec.name,
    unique_id: `${nodeId}_${objectId}`,
    state_topic: stateTopic(settings, device.meterId),
    // The state JSON always carries every announced metric (see MeterState), so this never misses.
    value_template: `{{ value_json['${metric.replace(/'/g, "\\'")}'] }}`,
    availability_topic: availabilityTopic(settings),
    payload_available: 'online',
    payload_not_available: 'offline',
    ...(spec.deviceClass ? { device_class: spec.deviceClass } : {}),
    state_class: spec.stateClass,
    unit_of_measurement: spec.unit,
    device: deviceBlock(device),
    origin: { ...ORIGIN },
  };
  return { topic: `${settings.discoveryPrefix}/sensor/${nodeId}/${objectId}/config`, payload, retain: true, qos: 1 };
}

function deviceBlock(device: MeterDevice): Record<string, unknown> {
  return {
    identifiers: [meterNodeId(device.meterId)],
    name: device.name,
    ...(device.manufacturer ? { manufacturer: device.manufacturer } : {}),
    ...(device.model ? { model: device.model } : {}),
    serial_number: device.meterId,
    ...(device.swVersion ? { sw_version: device.swVersion } : {}),
  };
}

/** `online`, retained: what the broker config's last will turns into `offline` when Node-RED goes. */
export function availabilityMessage(settings: TopicSettings): MqttMessage {
  return { topic: availabilityTopic(settings), payload: 'online', retain: true, qos: 1 };
}
