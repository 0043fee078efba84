import os from 'node:os';
import path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { DsmrReaderOutController, readDsmrReaderOutSettings } from './core/dsmr-reader';
import type { StatusView } from './core/runtime/status';
import { getServiceConfig } from './node-red/energy-service-types';
import { clockFrom, onClose, onInput, readSettingsAtDeploy, toNodeStatus } from './node-red/node-kit';

interface DsmrReaderOutDef extends NodeDef {
  server: string;
  apiVersion: string;
  queueMaxItems: number | string;
  queueMaxMb: number | string;
  retryBaseSeconds: number | string;
  retryMaxSeconds: number | string;
}

/** `dsmrReaderOutQueueDir` puts the queues somewhere other than `<userDir>/dsmr-reader-out`. */
interface QueueDirSettings {
  userDir?: string;
  dsmrReaderOutQueueDir?: string;
}

export = function register(RED: NodeAPI): void {
  function DsmrReaderOut(this: Node, config: DsmrReaderOutDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const showStatus = (view: StatusView): void => node.status(toNodeStatus(RED, 'dsmr-reader-out', view));

    // A bad setting stops the node at deploy, before any file or request.
    const settings = readSettingsAtDeploy(RED, node, () => readDsmrReaderOutSettings(config as unknown as Record<string, unknown>));
    if (!settings) return;

    const runtimeSettings = RED.settings as unknown as QueueDirSettings;
    let dir = runtimeSettings.dsmrReaderOutQueueDir;
    if (!dir && runtimeSettings.userDir) dir = path.join(runtimeSettings.userDir, 'dsmr-reader-out');
    if (!dir) {
      dir = path.join(os.tmpdir(), 'node-red-dsmr-reader-out');
      node.warn(`Node-RED has no user directory setting, so the queue is kept in ${dir}, which the system may clear. Set userDir or dsmrReaderOutQueueDir in settings.js.`);
    }

    const controller = new DsmrReaderOutController(settings, { dir, nodeId: node.id }, {
      clock: clockFrom(RED),
      lease: () => {
        const server = getServiceConfig(RED, config.server, 'dsmr-reader');
        return { requester: server.leaseClient(), baseUrl: server.baseUrl };
      },
      status: showStatus,
      error: (error, msg) => node.error(error, msg as NodeMessage),
      warn: (text) => node.warn(text),
      log: (text) => node.log(text),
    });

    onInput(node, (msg) => controller.handle(msg as unknown as Record<string, unknown>));
    onClose(node, () => controller.close());
  }

  RED.nodes.registerType('dsmr-reader-out', DsmrReaderOut as unknown as (this: Node, def: NodeDef) => void);
};
