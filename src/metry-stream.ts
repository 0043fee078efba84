import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { ClientLease } from './core/http/client';
import { StreamConfig, StreamController, readStreamSettings } from './core/metry/stream-controller';
import type { StatusView } from './core/runtime/status';
import { getServiceConfig } from './node-red/energy-service-types';
import { clockFrom, onClose, onInput, readSettingsAtDeploy, reportError, toNodeStatus } from './node-red/node-kit';

interface MetryStreamDef extends NodeDef, StreamConfig {
  server: string;
}

export = function register(RED: NodeAPI): void {
  function MetryStream(this: Node, def: MetryStreamDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const show = (view: StatusView): void => node.status(toNodeStatus(RED, 'metry-stream', view));
    const settings = readSettingsAtDeploy(RED, node, () => readStreamSettings(def));
    if (!settings) return;
    let lease: ClientLease | undefined;

    const controller = new StreamController(settings, {
      requester: () => (lease ??= getServiceConfig(RED, def.server, 'metry').leaseClient()),
      clock: clockFrom(RED),
      newId: () => RED.util.generateId(),
      // Not an input handler's send: the stream runs on its own, so messages start here.
      send: (port, msg) => node.send(port === 0 ? [msg as NodeMessage, null] : [null, msg as NodeMessage]),
      status: show,
      error: (error) => reportError(node, error),
      warn: (text) => node.warn(text),
      log: (text) => node.log(text),
    });

    // The input takes the storage confirmations: the storage node's output, or a Catch on it.
    onInput(node, async (msg) => {
      if (controller.receive(msg as unknown as Record<string, unknown>) === 'ignored') {
        node.warn('Ignored a message without a usable msg.streamBatch: wire only the storage confirmation (the storage node’s output, a complete node or a Catch node on the storage) into metry-stream, and keep msg.streamBatch on the messages you build from the readings.');
      }
    });

    onClose(node, async () => {
      // An unconfirmed batch is not committed: the next start reads it again from last_offset.
      await controller.close();
      lease?.close();
    });

    controller.start();
  }

  RED.nodes.registerType('metry-stream', MetryStream as unknown as (this: Node, def: NodeDef) => void);
};
