/**
 * The dsmr-p1-in settings, checked at deploy: every wrong or out-of-range field is a ConfigError
 * naming it (by its label in the editor) and saying what to enter, before any port is opened.
 */
import type { ParseOptions } from '../dsmr';
import { ConfigError, readChoice, readNumber } from '../runtime/options';
import { expandEnvReferences } from './env';
import { serialModeFromConfig, type SerialMode } from './serial/settings';

/** The node's configuration as the editor stores it (strings; older flows may hold numbers). */
export interface P1InConfig {
  source?: unknown;
  serialPath?: unknown;
  preset?: unknown;
  baudRate?: unknown;
  dataBits?: unknown;
  parity?: unknown;
  stopBits?: unknown;
  host?: unknown;
  port?: unknown;
  filePath?: unknown;
  interval?: unknown;
  silenceTimeout?: unknown;
  crc?: unknown;
  maxTelegramSize?: unknown;
  rateLimit?: unknown;
  topic?: unknown;
  /** 2 since the silence timeout is learned from the meter when left empty. */
  version?: unknown;
}

export interface P1InKeys {
  decryptionKey?: string;
  authenticationKey?: string;
}

export type SourceConfig =
  | { kind: 'serial'; path: string; mode: SerialMode }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'file'; path: string; intervalMs: number };

export interface P1InOptions {
  source: SourceConfig;
  /** Milliseconds without data before an open line is reopened: undefined = learned from the meter, 0 = never. */
  silenceMs: number | undefined;
  maxTelegramBytes: number;
  parse: ParseOptions;
  rateLimitMs: number;
  topic: string;
}

/** Below a few hundred bytes not even a DSMR 2.2 telegram fits; above 64 KiB it is no telegram but a wrong setting. */
export const MAX_TELEGRAM_SIZE = { field: 'Max. telegram', min: 256, max: 64 * 1024, default: 16 * 1024, integer: true, unit: 'bytes' };
const RATE_LIMIT = { field: 'At most 1 per', min: 0, max: 86_400, default: 0, unit: 'seconds' };
const SILENCE = { field: 'Silent after', min: 0, max: 3_600, default: 0, unit: 'seconds' };
const INTERVAL = { field: 'Every (replay interval)', min: 0.01, max: 3_600, default: 10, unit: 'seconds' };
const TCP_PORT = { field: 'Port', min: 1, max: 65_535, default: 23, integer: true, unit: '(ser2net and most dongles use 23 or 2000-8088)' };
/** Before version 2 the editor filled in 60 s; such a flow gets the learned timeout like a new one. */
const OLD_DEFAULT_SILENCE = '60';

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : value === undefined || value === null ? '' : String(value);
}

function required(value: unknown, field: string, hint: string): string {
  const given = text(value);
  if (!given) throw new ConfigError(`${field} is empty: ${hint}`, field);
  return given;
}

function readSilenceMs(config: P1InConfig): number | undefined {
  const given = text(config.silenceTimeout);
  const version = Number(config.version ?? 1);
  if (given === '' || (given === OLD_DEFAULT_SILENCE && !(version >= 2))) return undefined;
  try {
    return readNumber(given, SILENCE) * 1000;
  } catch {
    // readNumber would name 0 as the default; here an empty field means "learned from the meter".
    throw new ConfigError(`${SILENCE.field} is "${given}": enter seconds from 0 to 3600 (0 = never), or leave it empty to learn it from the meter.`, SILENCE.field);
  }
}

/** A key as 32 hex characters (spaces, colons and dashes allowed), or an unset `${NAME}`. */
function readKey(value: string | undefined, field: string): string | undefined {
  const key = text(value);
  if (!key) return undefined;
  const unset = /^\$\{(\S+)\}$/.exec(key);
  if (unset) throw new ConfigError(`${field} refers to the environment variable ${unset[1]}, which is not set: set it before starting Node-RED, or enter the key.`, field);
  if (!/^[0-9a-f]{32}$/i.test(key.replace(/[\s:-]/g, ''))) {
    throw new ConfigError(`${field} is not 32 hexadecimal characters: enter the key exactly as the grid operator supplied it.`, field);
  }
  return key;
}

export function readSource(config: P1InConfig, env: (name: string) => string | undefined): SourceConfig {
  const kind = readChoice(config.source, 'Source', ['serial', 'tcp', 'file'] as const, 'serial');
  if (kind === 'serial') {
    const path = required(config.serialPath, 'Serial port', 'choose the serial port of the P1 cable (e.g. /dev/ttyUSB0 or COM3).');
    return { kind, path, mode: serialModeFromConfig(config) };
  }
  if (kind === 'tcp') {
    const host = required(config.host, 'Host', 'enter the host name or IP address of the P1 dongle or ser2net server.');
    return { kind, host, port: readNumber(config.port, TCP_PORT) };
  }
  const raw = required(config.filePath, 'File', 'enter the path of a file with recorded telegrams.');
  let path: string;
  try {
    path = expandEnvReferences(raw, env);
  } catch (error) {
    throw new ConfigError(`File: ${(error as Error).message}`, 'File');
  }
  return { kind, path, intervalMs: readNumber(config.interval, INTERVAL) * 1000 };
}

export function readP1InOptions(config: P1InConfig, keys: P1InKeys, env: (name: string) => string | undefined): P1InOptions {
  const decryptionKey = readKey(keys.decryptionKey, 'Decryption key');
  const authenticationKey = readKey(keys.authenticationKey, 'Auth. key');
  return {
    source: readSource(config, env),
    silenceMs: readSilenceMs(config),
    maxTelegramBytes: readNumber(config.maxTelegramSize, MAX_TELEGRAM_SIZE),
    parse: { crc: readChoice(config.crc, 'CRC check', ['strict', 'off'] as const, 'strict'), decryptionKey, authenticationKey },
    rateLimitMs: readNumber(config.rateLimit, RATE_LIMIT) * 1000,
    topic: typeof config.topic === 'string' ? config.topic : '',
  };
}
