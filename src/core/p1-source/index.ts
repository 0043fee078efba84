/**
 * Opening a P1 source from the node's configuration: a serial port (shared through a pool), a
 * TCP connection to a network dongle or ser2net, or a recorded file. Validation errors are
 * thrown as sentences that say which field to fix.
 */
import { serialModeFromConfig, type BaudDetector, type SerialPortPool } from '../serial';
import { expandEnvReferences } from './env';
import { FileSource } from './file-source';
import { TcpSource, tcpEndpointFromConfig } from './tcp-source';
import type { P1Source, SourceListener } from './source';
import type { Clock } from '../runtime/clock';

export * from './connection-state';
export * from './source';
export * from './env';
export * from './tcp-source';
export * from './file-source';
export * from './detector';
export * from './pipeline';
export * from './status';

export type SourceKind = 'serial' | 'tcp' | 'file';

export interface P1SourceConfig {
  source: SourceKind | string;
  serialPath?: string;
  preset?: string;
  baudRate?: unknown;
  dataBits?: unknown;
  parity?: unknown;
  stopBits?: unknown;
  host?: string;
  port?: unknown;
  filePath?: string;
  /** Seconds between replayed telegrams. */
  interval?: unknown;
  /** Seconds without data that count as a fault (serial, tcp); 0 = off. */
  silenceTimeout?: unknown;
  maxTelegramBytes?: number;
  /** Luxembourg: recordings hold encrypted frames (set when a decryption key is configured). */
  encrypted?: boolean;
}

export interface P1SourceDeps {
  pool: () => SerialPortPool;
  clock?: Clock;
  reconnectMs?: number;
  /** Looks up `${NAME}` in file paths (flow/global env, then process env). */
  env: (name: string) => string | undefined;
  /** Recognises valid telegrams for the serial `auto` mode. */
  createDetector?: () => BaudDetector;
}

function seconds(value: unknown, fallback: number, field: string): number {
  if (value === undefined || value === null || value === '') return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new Error(`${field} must be a number of seconds (0 or more), not "${String(value)}".`);
  return number;
}

/** A short description of where the data comes from, for logs: `serial /dev/ttyUSB0`. */
export function describeSource(config: P1SourceConfig): string {
  if (config.source === 'tcp') return `tcp ${config.host ?? ''}:${String(config.port ?? '')}`;
  if (config.source === 'file') return `file ${config.filePath ?? ''}`;
  return `serial ${config.serialPath ?? ''}`;
}

export function openP1Source(config: P1SourceConfig, deps: P1SourceDeps, listener: SourceListener): P1Source {
  const silenceMs = seconds(config.silenceTimeout, 60, 'The silence timeout') * 1000;
  switch (config.source) {
    case 'serial': {
      const path = (config.serialPath ?? '').trim();
      if (!path) throw new Error('Choose the serial port of the P1 cable (e.g. /dev/ttyUSB0 or COM3).');
      return deps.pool().subscribe({ path, mode: serialModeFromConfig(config), silenceMs, createDetector: deps.createDetector }, listener);
    }
    case 'tcp': {
      const endpoint = tcpEndpointFromConfig(config.host, config.port);
      return new TcpSource({ ...endpoint, silenceMs, clock: deps.clock, reconnectMs: deps.reconnectMs }, listener);
    }
    case 'file': {
      const raw = (config.filePath ?? '').trim();
      if (!raw) throw new Error('Enter the path of a file with recorded telegrams.');
      const intervalMs = seconds(config.interval, 10, 'The replay interval') * 1000;
      if (intervalMs <= 0) throw new Error('The replay interval must be more than 0 seconds.');
      return new FileSource(
        { path: expandEnvReferences(raw, deps.env), intervalMs, maxTelegramBytes: config.maxTelegramBytes, encrypted: config.encrypted, clock: deps.clock, reconnectMs: deps.reconnectMs },
        listener,
      );
    }
    default:
      throw new Error(`Unknown source "${String(config.source)}". Choose serial, tcp or file.`);
  }
}
