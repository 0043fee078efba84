/**
 * What Home Assistant should make of a reading: device class, state class, unit and a name.
 *
 * Sources:
 * - Sensor device classes and the units each accepts (energy Wh/kWh/MWh/MJ/GJ, power W/kW,
 *   voltage V, current A, gas m³/ft³/CCF, water L/m³/ft³/gal/CCF) and state classes:
 *   https://developers.home-assistant.io/docs/core/entity/sensor/#available-device-classes and
 *   #available-state-classes (`total_increasing`: a monotonically increasing total such as a
 *   lifetime energy or gas register; `measurement`: a value in present time such as power).
 * - The Energy dashboard takes grid, gas and water sensors only with these classes and units; its
 *   own check reads "do not have the expected units of measurement 'Wh', 'kWh', 'MWh' or 'GJ' for
 *   an energy sensor or 'm³' or 'ft³' for a gas sensor" (home-assistant/frontend#14397), and
 *   https://www.home-assistant.io/docs/energy/electricity-grid/ , /docs/energy/gas/ and
 *   /docs/energy/water/ ask for `total_increasing` (or `total`) registers. Hence `m³`, never `m3`.
 */
import type { Reading } from '../readings';

export type PowerUnit = 'kW' | 'W';

export interface SensorSpec {
  name: string;
  deviceClass?: 'energy' | 'power' | 'voltage' | 'current' | 'gas' | 'water';
  stateClass: 'measurement' | 'total_increasing';
  /** As Home Assistant spells it. */
  unit: string;
  /** Multiplies the reading's value into `unit` (kW → W). */
  scale: number;
}

const ENERGY_UNITS = new Set(['Wh', 'kWh', 'MWh', 'MJ', 'GJ']);
const PHASE = /_(l[123])$/;

/** Home Assistant's spelling of a unit as readings write it. */
export function homeAssistantUnit(unit: string): string {
  if (unit === 'm3') return 'm³';
  if (unit === 'ft3') return 'ft³';
  return unit;
}

function words(metric: string): string {
  const text = metric.replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function phaseSuffix(metric: string): string {
  const phase = PHASE.exec(metric)?.[1];
  return phase ? ` ${phase.toUpperCase()}` : '';
}

/**
 * The sensor for one reading's metric and unit, or undefined for readings Home Assistant cannot
 * take over MQTT: a value that covers a past period (an hour of Metry consumption) would be booked
 * to the hour it arrives in, which is false, so only snapshots (no granularity) are published.
 */
export function sensorFor(reading: Pick<Reading, 'metric' | 'unit' | 'granularity'>, powerUnit: PowerUnit = 'kW'): SensorSpec | undefined {
  if (reading.granularity !== undefined && reading.granularity !== 'instant') return undefined;
  const { metric } = reading;
  const unit = homeAssistantUnit(reading.unit);
  const register = /^electricity_(delivered|returned)_(tariff(\d)|total)$/.exec(metric);
  if (register && ENERGY_UNITS.has(unit)) {
    const what = register[3] ? `tariff ${register[3]}` : 'total';
    return { name: `Energy ${register[1]} ${what}`, deviceClass: 'energy', stateClass: 'total_increasing', unit, scale: 1 };
  }
  const mbus = /^(gas|water|heat|cooling)_delivered(?:_ch(\d+))?$/.exec(metric);
  if (mbus) {
    const name = `${words(mbus[1])}${mbus[2] ? ` (channel ${mbus[2]})` : ''}`;
    if ((mbus[1] === 'gas' || mbus[1] === 'water') && unit === 'm³') return { name, deviceClass: mbus[1], stateClass: 'total_increasing', unit, scale: 1 };
    if (ENERGY_UNITS.has(unit)) return { name, deviceClass: 'energy', stateClass: 'total_increasing', unit, scale: 1 };
  }
  if (/^power_(delivered|returned)(_l[123])?$/.test(metric) && (unit === 'kW' || unit === 'W')) {
    const direction = metric.startsWith('power_delivered') ? 'delivered' : 'returned';
    return { name: `Power ${direction}${phaseSuffix(metric)}`, deviceClass: 'power', stateClass: 'measurement', unit: powerUnit, scale: unit === powerUnit ? 1 : unit === 'kW' ? 1000 : 0.001 };
  }
  return genericSensor(metric, unit);
}

/** Anything else by its unit: registers in energy units are totals, the rest are measurements. */
function genericSensor(metric: string, unit: string): SensorSpec {
  const name = words(metric);
  if (ENERGY_UNITS.has(unit)) return { name, deviceClass: 'energy', stateClass: 'total_increasing', unit, scale: 1 };
  if (unit === 'W' || unit === 'kW') return { name, deviceClass: 'power', stateClass: 'measurement', unit, scale: 1 };
  if (unit === 'V') return { name: metric.startsWith('voltage_') ? `Voltage${phaseSuffix(metric)}` : name, deviceClass: 'voltage', stateClass: 'measurement', unit, scale: 1 };
  if (unit === 'A') return { name: metric.startsWith('current_') ? `Current${phaseSuffix(metric)}` : name, deviceClass: 'current', stateClass: 'measurement', unit, scale: 1 };
  // A volume register whose medium is unknown: a total, but no device class that could be wrong.
  if (unit === 'm³') return { name, stateClass: 'total_increasing', unit, scale: 1 };
  return { name, stateClass: 'measurement', unit, scale: 1 };
}
