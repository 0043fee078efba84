/**
 * The P1 source: bytes from a serial port (shared through a pool), a TCP connection to a network
 * dongle or ser2net, or a recorded file, each a `ReconnectingSource`; then the pipeline (framer →
 * parser → rate limit) and the controller that turns its outcomes into messages and a status.
 */
import type { Clock } from '../runtime/clock';
import { createTelegramDetector } from './detector';
import { FileSource } from './file-source';
import type { P1InOptions } from './options';
import type { SerialPortPool } from './serial/pool';
import type { P1Source, SourceListener } from './source';
import { TcpSource } from './tcp-source';

export * from './cadence';
export * from './connection-state';
export * from './controller';
export * from './detector';
export * from './env';
export * from './file-source';
export * from './options';
export * from './pipeline';
export * from './reconnecting-source';
export * from './serial';
export * from './source';
export * from './status';
export * from './tcp-source';

export interface P1SourceDeps {
  /** The runtime's one serial pool; asked for only when the source is a serial port. */
  pool: () => SerialPortPool;
  clock?: Clock;
}

export function openP1Source(options: P1InOptions, deps: P1SourceDeps, listener: SourceListener): P1Source {
  const { source, silenceMs, maxTelegramBytes } = options;
  const encrypted = options.parse.decryptionKey !== undefined;
  switch (source.kind) {
    case 'serial': {
      // The CRC is always checked while detecting the speed, whatever the node's CRC mode.
      const keys = { decryptionKey: options.parse.decryptionKey, authenticationKey: options.parse.authenticationKey };
      const createDetector = () => createTelegramDetector({ maxTelegramBytes, parse: keys });
      return deps.pool().subscribe({ path: source.path, mode: source.mode, silenceMs, createDetector }, listener);
    }
    case 'tcp':
      return new TcpSource({ host: source.host, port: source.port, silenceMs, clock: deps.clock }, listener);
    case 'file':
      return new FileSource({ path: source.path, intervalMs: source.intervalMs, maxTelegramBytes, encrypted, clock: deps.clock }, listener);
  }
}
