/**
 * Serial line settings for P1 ports. DSMR 2.2/3 meters talk 9600 baud 7E1; DSMR 4/5, the
 * Belgian e-MUCS and the Luxembourg Smarty talk 115200 8N1 (service contracts §5.5).
 */
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

const BAUD_RATES = [300, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400];

export interface SerialConfigInput {
  preset?: string;
  baudRate?: unknown;
  dataBits?: unknown;
  parity?: unknown;
  stopBits?: unknown;
}

/** Turns the node's configuration into a mode, or throws an error saying which field is wrong. */
export function serialModeFromConfig(config: SerialConfigInput): SerialMode {
  const preset = config.preset || 'auto';
  if (preset === 'auto') return { kind: 'auto', candidates: AUTO_CANDIDATES };
  if (preset === 'dsmr4-5' || preset === 'dsmr2-3') return { kind: 'fixed', settings: SERIAL_PRESETS[preset] };
  if (preset !== 'custom') throw new Error(`Unknown serial preset "${preset}". Choose auto, DSMR 4/5, DSMR 2.2/3 or custom.`);
  const baudRate = Number(config.baudRate);
  if (!BAUD_RATES.includes(baudRate)) throw new Error(`Baud rate "${String(config.baudRate)}" is not supported. Use one of ${BAUD_RATES.join(', ')}.`);
  const dataBits = Number(config.dataBits);
  if (dataBits !== 7 && dataBits !== 8) throw new Error('Data bits must be 7 or 8.');
  const parity = String(config.parity);
  if (parity !== 'none' && parity !== 'even' && parity !== 'odd') throw new Error('Parity must be none, even or odd.');
  const stopBits = Number(config.stopBits);
  if (stopBits !== 1 && stopBits !== 2) throw new Error('Stop bits must be 1 or 2.');
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
