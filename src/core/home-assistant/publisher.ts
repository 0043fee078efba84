/**
 * Decides what goes to MQTT for Home Assistant: discovery configs the first time a meter or
 * metric is seen (and again after Home Assistant's birth message), then one state per meter and
 * update. Lives as long as one deployed node; nothing is kept across deploys, so a deploy
 * announces every meter once again (the configs are retained and identical, so that is harmless).
 */
import { isParsedTelegram, p1MeterId, telegramToReadings } from '../p1-readings';
import type { ParsedTelegram } from '../dsmr/types';
import { validateReading, type Reading } from '../readings';
import { availabilityMessage, sensorConfig, stateTopic, type MeterDevice, type MqttMessage, type TopicSettings } from './discovery';
import { sensorFor, type PowerUnit, type SensorSpec } from './sensors';

export interface PublisherSettings extends TopicSettings {
  powerUnit: PowerUnit;
}

export interface RejectedReading {
  reading: unknown;
  reason: string;
}

export interface PublishResult {
  messages: MqttMessage[];
  /** Readings that were not published, each with the reason (bad shape, or a period value). */
  rejected: RejectedReading[];
}

interface MeterState {
  device: MeterDevice;
  sensors: Map<string, SensorSpec>;
  /** Latest value of every announced metric, so each state carries all of them. */
  values: Record<string, number>;
  times: Record<string, string>;
  announced: boolean;
}

export class HomeAssistantPublisher {
  private readonly meters = new Map<string, MeterState>();
  private availabilitySent = false;

  constructor(private readonly settings: PublisherSettings) {}

  get meterCount(): number {
    return this.meters.size;
  }

  /** A parsed telegram from dsmr-p1-in, or an array of normalized readings. */
  publish(payload: unknown, receivedAt: number): PublishResult {
    if (isParsedTelegram(payload)) return this.publishReadings(telegramToReadings(payload, { receivedAt }), deviceFromTelegram(payload));
    if (Array.isArray(payload)) return this.publishReadings(payload, undefined);
    throw new TypeError('msg.payload must be a parsed P1 telegram (from dsmr-p1-in) or an array of normalized readings.');
  }

  /** Home Assistant (re)started: every config again, then the last state of every meter. */
  birth(): MqttMessage[] {
    const messages: MqttMessage[] = [availabilityMessage(this.settings)];
    for (const meter of this.meters.values()) {
      for (const [metric, spec] of meter.sensors) messages.push(sensorConfig(this.settings, meter.device, metric, spec));
      meter.announced = true;
    }
    for (const meter of this.meters.values()) messages.push(this.state(meter));
    this.availabilitySent = true;
    return messages;
  }

  private publishReadings(readings: unknown[], device: MeterDevice | undefined): PublishResult {
    const rejected: RejectedReading[] = [];
    const configs: MqttMessage[] = [];
    const updated = new Set<MeterState>();
    for (const item of readings) {
      const problems = validateReading((item ?? {}) as Partial<Reading>);
      if (problems.length > 0) {
        rejected.push({ reading: item, reason: problems.join('; ') });
        continue;
      }
      const reading = item as Reading;
      const spec = sensorFor(reading, this.settings.powerUnit);
      if (!spec) {
        rejected.push({ reading, reason: `a value per ${reading.granularity} covers a past period, and Home Assistant would book it to the moment it arrives` });
        continue;
      }
      if (reading.value === null) continue; // missing stays missing: the last known state is kept
      const meter = this.meterFor(reading, device);
      if (!meter.sensors.has(reading.metric)) {
        meter.sensors.set(reading.metric, spec);
        if (meter.announced) configs.push(sensorConfig(this.settings, meter.device, reading.metric, spec));
      }
      // An older snapshot arriving late never replaces a newer one.
      const known = meter.times[reading.metric];
      if (known !== undefined && Date.parse(known) > Date.parse(reading.start)) continue;
      meter.values[reading.metric] = round(reading.value * meter.sensors.get(reading.metric)!.scale);
      meter.times[reading.metric] = reading.start;
      updated.add(meter);
    }
    const messages: MqttMessage[] = [];
    if (!this.availabilitySent && updated.size > 0) {
      messages.push(availabilityMessage(this.settings));
      this.availabilitySent = true;
    }
    for (const meter of updated) {
      if (!meter.announced) {
        for (const [metric, spec] of meter.sensors) messages.push(sensorConfig(this.settings, meter.device, metric, spec));
        meter.announced = true;
      }
    }
    messages.push(...configs);
    for (const meter of updated) messages.push(this.state(meter));
    return { messages, rejected };
  }

  private meterFor(reading: Reading, device: MeterDevice | undefined): MeterState {
    let meter = this.meters.get(reading.meterId);
    if (!meter) {
      meter = { device: device && device.meterId === reading.meterId ? device : deviceFromReading(reading), sensors: new Map(), values: {}, times: {}, announced: false };
      this.meters.set(reading.meterId, meter);
    }
    return meter;
  }

  private state(meter: MeterState): MqttMessage {
    const latest = Object.values(meter.times).reduce<string | undefined>((a, b) => (a === undefined || Date.parse(b) > Date.parse(a) ? b : a), undefined);
    return { topic: stateTopic(this.settings, meter.device.meterId), payload: { ...meter.values, ...(latest ? { timestamp: latest } : {}) }, retain: false, qos: 0 };
  }
}

/** Float noise from unit scaling (0.244 kW × 1000) is not a measured digit. */
function round(value: number): number {
  return Number.parseFloat(value.toPrecision(12));
}

/** Manufacturer and model from the identification line, e.g. `ISk5\2MT382-1000` → `ISk`, `MT382-1000`. */
export function deviceFromTelegram(telegram: ParsedTelegram): MeterDevice {
  const meterId = p1MeterId(telegram);
  // `/XXXZ…`: XXX the manufacturer's FLAG id, Z the baud-rate character, then `\n` (DSMR 4/5: `\2`) and the model.
  const model = telegram.header.slice(4).replace(/^\\\d/, '').trim();
  return {
    meterId,
    name: `P1 meter ${meterId}`,
    manufacturer: telegram.manufacturer || undefined,
    model: model || undefined,
    swVersion: telegram.version ? `P1 ${telegram.version}` : undefined,
  };
}

function deviceFromReading(reading: Reading): MeterDevice {
  const label = reading.mappedId ?? reading.meterId;
  return { meterId: reading.meterId, name: `${reading.source} meter ${label}`, manufacturer: reading.source };
}
