import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { Request, Response } from 'express';
import {
  listSerialPorts,
  loadSerialPort,
  openP1Source,
  P1InController,
  readP1InOptions,
  SerialPortPool,
  type P1InConfig,
  type P1InKeys,
  type P1Source,
  type SerialPortClass,
} from './core/p1-source';
import { errorStatus, type StatusView } from './core/runtime/status';
import { clockFrom, onClose, reportError, toNodeStatus } from './node-red/node-kit';

/** Runtime settings; tests put serialport's `SerialPortMock` in `dsmrP1InSerialPort`. */
interface DsmrP1InSettings {
  dsmrP1InSerialPort?: SerialPortClass;
}

export = function register(RED: NodeAPI): void {
  const settings = RED.settings as unknown as DsmrP1InSettings;
  const serialPortClass = (): SerialPortClass => settings.dsmrP1InSerialPort ?? loadSerialPort();
  /** One pool for every node of this runtime, so nodes reading the same port share it. */
  let sharedPool: SerialPortPool | undefined;
  const pool = (): SerialPortPool => {
    const SerialPort = serialPortClass();
    sharedPool ??= new SerialPortPool({ createPort: (options) => new SerialPort(options), clock: clockFrom(RED) });
    return sharedPool;
  };

  function DsmrP1In(this: Node<P1InKeys>, def: NodeDef & P1InConfig): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const clock = clockFrom(RED);
    const show = (view: StatusView | undefined): void => node.status(toNodeStatus(RED, 'dsmr-p1-in', view));
    const env = (name: string): string | undefined =>
      (RED.util as unknown as { getSetting(node: Node, name: string): string | undefined }).getSetting(node, name) ?? process.env[name];

    let source: P1Source | undefined;
    try {
      const options = readP1InOptions(def, node.credentials ?? {}, env);
      const controller = new P1InController(
        options,
        {
          send: (msg) => node.send(msg as unknown as NodeMessage),
          error: (error, msg) => reportError(node, error, msg),
          warn: (text) => node.warn(text),
          status: show,
        },
        { now: () => clock.now() },
      );
      source = openP1Source(options, { pool, clock }, controller);
    } catch (error) {
      show(errorStatus('config'));
      reportError(node, error, { topic: typeof def.topic === 'string' ? def.topic : '' });
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
