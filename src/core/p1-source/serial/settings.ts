/**
 * Serial line settings for P1 ports. DSMR 2.2/3 meters talk 9600 baud 7E1; DSMR 4/5, the
 * Belgian e-MUCS and the Luxembourg Smarty talk 115200 8N1 (service contracts §5.5).
 */
import { readChoice } from '../../runtime/options';

export type Parity = 'none' | 'even' | 'odd';
export type DataBits = 7 | 8;
export type StopBits = 1 | 2;

export interface SerialSettings {
  baudRate: number;
  dataBits: DataBits;
  parity: Parity;
  stopBits: StopBits;
}

export type SerialPreset = 'auto' | 'dsmr4-5' | 'dsmr2-3' | 'custom';

export const SERIAL_PRESETS: Readonly<Record<'dsmr4-5' | 'dsmr2-3', SerialSettings>> = {
  'dsmr4-5': { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 },
  'dsmr2-3': { baudRate: 9600, dataBits: 7, parity: 'even', stopBits: 1 },
};

/** `auto` tries the modern speed first: almost every meter installed since 2014 is DSMR 4 or 5. */
export const AUTO_CANDIDATES: readonly SerialSettings[] = [SERIAL_PRESETS['dsmr4-5'], SERIAL_PRESETS['dsmr2-3']];

/** How a port is to be opened: one fixed setting, or a list tried in turn until telegrams verify. */
export type SerialMode = { kind: 'fixed'; settings: SerialSettings } | { kind: 'auto'; candidates: readonly SerialSettings[] };

const BAUD_RATES = ['300', '1200', '2400', '4800', '9600', '19200', '38400', '57600', '115200', '230400'] as const;

export interface SerialConfigInput {
  preset?: unknown;
  baudRate?: unknown;
  dataBits?: unknown;
  parity?: unknown;
  stopBits?: unknown;
}

/** Turns the node's configuration into a mode; a wrong field is a ConfigError naming it. */
export function serialModeFromConfig(config: SerialConfigInput): SerialMode {
  const preset = readChoice(config.preset, 'Meter', ['auto', 'dsmr4-5', 'dsmr2-3', 'custom'] as const, 'auto');
  if (preset === 'auto') return { kind: 'auto', candidates: AUTO_CANDIDATES };
  if (preset !== 'custom') return { kind: 'fixed', settings: SERIAL_PRESETS[preset] };
  // Older flows may hold numbers; the editor writes strings.
  const text = (value: unknown): unknown => (typeof value === 'number' ? String(value) : value);
  const baudRate = Number(readChoice(text(config.baudRate), 'Baud rate', BAUD_RATES, '115200'));
  const dataBits = Number(readChoice(text(config.dataBits), 'Data bits', ['7', '8'] as const, '8')) as DataBits;
  const parity = readChoice(config.parity, 'Parity', ['none', 'even', 'odd'] as const, 'none');
  const stopBits = Number(readChoice(text(config.stopBits), 'Stop bits', ['1', '2'] as const, '1')) as StopBits;
  return { kind: 'fixed', settings: { baudRate, dataBits, parity, stopBits } };
}

/** `115200 8N1`, `9600 7E1`. */
export function describeSettings(settings: SerialSettings): string {
  return `${settings.baudRate} ${settings.dataBits}${settings.parity[0].toUpperCase()}${settings.stopBits}`;
}

export function sameSettings(a: SerialSettings, b: SerialSettings): boolean {
  return a.baudRate === b.baudRate && a.dataBits === b.dataBits && a.parity === b.parity && a.stopBits === b.stopBits;
}

export function describeMode(mode: SerialMode): string {
  return mode.kind === 'auto' ? `auto (${mode.candidates.map(describeSettings).join(', then ')})` : describeSettings(mode.settings);
}

export function sameMode(a: SerialMode, b: SerialMode): boolean {
  if (a.kind === 'fixed' && b.kind === 'fixed') return sameSettings(a.settings, b.settings);
  if (a.kind === 'auto' && b.kind === 'auto') return a.candidates.length === b.candidates.length && a.candidates.every((c, i) => sameSettings(c, b.candidates[i]));
  return false;
}
