import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { Request, Response } from 'express';
import { listSerialPorts, SerialPortPool, type PortInfoLike, type SerialOpenOptions, type SerialPortLike } from './core/serial';
import {
  createTelegramDetector,
  formatPower,
  openP1Source,
  statusView,
  TelegramPipeline,
  type ConnectionState,
  type P1Source,
  type PipelineOutcome,
  type SourceListener,
  type SourceStateInfo,
} from './core/p1-source';
import type { ParseOptions } from './core/dsmr';
import { errorCode, onClose, reportError, status } from './node-red/node-kit';

interface DsmrP1InDef extends NodeDef {
  source: string;
  serialPath: string;
  preset: string;
  baudRate: string;
  dataBits: string;
  parity: string;
  stopBits: string;
  host: string;
  port: string;
  filePath: string;
  interval: string;
  silenceTimeout: string;
  crc: string;
  maxTelegramSize: string;
  topic: string;
  rateLimit: string;
}

interface DsmrP1InCredentials {
  decryptionKey?: string;
  authenticationKey?: string;
}

interface SerialPortClass {
  new (options: SerialOpenOptions): SerialPortLike;
  list(): Promise<PortInfoLike[]>;
}

/** Runtime settings; tests put serialport's `SerialPortMock` in `dsmrP1InSerialPort`. */
interface DsmrP1InSettings {
  dsmrP1InSerialPort?: SerialPortClass;
  /** Milliseconds before reopening a port or reconnecting (default 5000). */
  dsmrP1InReconnectTime?: number;
  /** Milliseconds an `auto` port may stay without a valid telegram before the next speed (default 25000). */
  dsmrP1InDetectTime?: number;
}

const DEFAULT_MAX_TELEGRAM_BYTES = 16 * 1024;

/** One pool per SerialPort implementation, shared by every node in this runtime. */
const pools = new WeakMap<SerialPortClass, SerialPortPool>();

function number(value: unknown, fallback: number): number {
  const parsed = value === '' || value === undefined || value === null ? NaN : Number(value);
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback;
}

export = function register(RED: NodeAPI): void {
  const settings = RED.settings as unknown as DsmrP1InSettings;

  /** Loaded on first use so the node still loads (file and TCP sources work) without the native serial binding. */
  function serialPortClass(): SerialPortClass {
    if (settings.dsmrP1InSerialPort) return settings.dsmrP1InSerialPort;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return (require('serialport') as { SerialPort: SerialPortClass }).SerialPort;
    } catch (error) {
      throw new Error(`The serialport module could not be loaded (${(error as Error).message}). Reinstall the package for this platform, or use the network or file source.`);
    }
  }

  function pool(): SerialPortPool {
    const SerialPort = serialPortClass();
    let shared = pools.get(SerialPort);
    if (!shared) {
      shared = new SerialPortPool({ createPort: (options) => new SerialPort(options), reconnectMs: settings.dsmrP1InReconnectTime, detectWindowMs: settings.dsmrP1InDetectTime });
      pools.set(SerialPort, shared);
    }
    return shared;
  }

  function DsmrP1In(this: Node<DsmrP1InCredentials>, def: DsmrP1InDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const topic = def.topic ?? '';
    // Below a few hundred bytes not even a DSMR 2.2 telegram fits; the editor refuses it, old flows get the floor.
    const maxTelegramBytes = Math.max(256, Math.floor(number(def.maxTelegramSize, DEFAULT_MAX_TELEGRAM_BYTES)));
    const keys = { decryptionKey: node.credentials?.decryptionKey || undefined, authenticationKey: node.credentials?.authenticationKey || undefined };
    const parse: ParseOptions = { crc: def.crc === 'off' ? 'off' : 'strict', ...keys };
    const pipeline = new TelegramPipeline({ maxTelegramBytes, parse, rateLimitMs: number(def.rateLimit, 0) * 1000 });
    let state: ConnectionState = 'idle';
    let info: SourceStateInfo = {};
    let lastPower: string | undefined;
    let lastInvalidCode: string | undefined;

    function render(): void {
      const view = statusView({ state, info, counts: pipeline.counts, lastPower, lastInvalidCode });
      node.status(view ? { fill: view.fill, shape: view.shape, text: RED._(`dsmr-p1-in.status.${view.key}`, view.params) } : {});
    }

    function deliver(outcome: PipelineOutcome): void {
      if (outcome.type === 'telegram') {
        lastPower = formatPower(outcome.telegram) ?? lastPower;
        lastInvalidCode = undefined;
        node.send({ topic, payload: outcome.telegram, telegram: outcome.text.toString('latin1') } as NodeMessage);
      } else if (outcome.type === 'invalid') {
        lastInvalidCode = (outcome.error as { statusText?: string }).statusText ?? errorCode(outcome.error);
        // The raw bytes go along so a Catch node can store or inspect what the meter really sent.
        reportError(node, outcome.error, { topic, payload: outcome.raw, telegram: outcome.raw.toString('latin1'), errorCode: outcome.error.code });
      }
    }

    const listener: SourceListener = {
      onData(chunk) {
        for (const outcome of pipeline.push(chunk)) deliver(outcome);
        render();
      },
      onState(next, nextInfo) {
        // A telegram cut off by an unplug never gets its tail; start clean on every (re)open,
        // and let the status show the new connection until its first telegram.
        if (next === 'open' && state !== 'open') {
          pipeline.reset();
          lastPower = lastInvalidCode = undefined;
        }
        state = next;
        info = nextInfo;
        render();
      },
      onProblem(error) {
        reportError(node, error, { topic, errorCode: (error as { code?: string }).code });
      },
      onWarning(text) {
        node.warn(text);
      },
    };

    let source: P1Source | undefined;
    try {
      source = openP1Source(
        { ...def, maxTelegramBytes, encrypted: keys.decryptionKey !== undefined },
        {
          pool,
          reconnectMs: settings.dsmrP1InReconnectTime,
          env: (name) => (RED.util as unknown as { getSetting(node: Node, name: string): string | undefined }).getSetting(node, name) ?? process.env[name],
          createDetector: () => createTelegramDetector({ maxTelegramBytes, parse: keys }),
        },
        listener,
      );
    } catch (error) {
      node.status(status.error('config'));
      reportError(node, error, { topic });
    }

    onClose(node, async () => {
      await source?.close();
    });
  }

  RED.nodes.registerType('dsmr-p1-in', DsmrP1In as unknown as (this: Node, def: NodeDef) => void, {
    credentials: { decryptionKey: { type: 'password' }, authenticationKey: { type: 'password' } },
  });

  // The editor's port picker. Listing never fails: without udev (Docker) the editor gets an empty list and a hint.
  RED.httpAdmin.get('/dsmr-p1-in/ports', RED.auth.needsPermission('dsmr-p1-in.read'), (_req: Request, res: Response) => {
    void listSerialPorts(() => serialPortClass().list()).then((listing) => res.json(listing));
  });
};
