/** Settings of the energy-home-assistant node, checked at deploy. */
import { ConfigError, readChoice } from '../runtime/options';
import type { PublisherSettings } from './publisher';

export interface HomeAssistantNodeConfig {
  discoveryPrefix?: unknown;
  baseTopic?: unknown;
  powerUnit?: unknown;
}

/** Topics are at most 65,535 bytes (MQTT 3.1.1 §1.5.3); a prefix this long is a typing accident. */
const MAX_TOPIC_PREFIX = 200;

/**
 * An MQTT topic prefix we publish under: no wildcards (`+`, `#`: only for subscribing, MQTT
 * 3.1.1 §4.7.1), no empty levels or leading/trailing `/` (they would make topics Home Assistant
 * does not match), no `$` start (reserved for the broker, §4.7.2).
 */
export function readTopicPrefix(value: unknown, field: string, fallback: string): string {
  const text = typeof value === 'string' ? value.trim() : value === undefined || value === null ? '' : String(value);
  if (text === '') return fallback;
  const problem =
    /[+#]/.test(text) ? 'contains a wildcard (+ or #), which is only for subscribing'
    : text.startsWith('$') ? 'starts with $, which brokers reserve for themselves'
    : text.split('/').some((level) => level === '') ? 'has an empty level (a leading, trailing or double /)'
    : /[\u0000-\u001f]/.test(text) ? 'contains a control character'
    : text.length > MAX_TOPIC_PREFIX ? `is longer than ${MAX_TOPIC_PREFIX} characters`
    : undefined;
  if (problem) throw new ConfigError(`${field} "${text}" ${problem}: enter topic levels separated by single slashes, e.g. ${fallback}.`, field);
  return text;
}

export function readHomeAssistantSettings(config: HomeAssistantNodeConfig): PublisherSettings {
  return {
    discoveryPrefix: readTopicPrefix(config.discoveryPrefix, 'Discovery prefix', 'homeassistant'),
    baseTopic: readTopicPrefix(config.baseTopic, 'Base topic', 'energy-export'),
    powerUnit: readChoice(config.powerUnit, 'Power unit', ['kW', 'W'] as const, 'kW'),
  };
}

/** Home Assistant's birth message: `online` on `<discovery prefix>/status`. */
export function isBirthMessage(settings: PublisherSettings, topic: unknown, payload: unknown): boolean {
  const text = Buffer.isBuffer(payload) ? payload.toString('utf8') : payload;
  return topic === `${settings.discoveryPrefix}/status` && text === 'online';
}

/** Any other message on the status topic (`offline`) is Home Assistant's will: nothing to do. */
export function isStatusMessage(settings: PublisherSettings, topic: unknown): boolean {
  return topic === `${settings.discoveryPrefix}/status`;
}
