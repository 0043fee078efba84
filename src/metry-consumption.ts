import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import Mustache from 'mustache';
import type { ClientLease } from './core/http/client';
import { ConsumptionConfig, ConsumptionController, readConsumptionSettings } from './core/metry/consumption-controller';
import { ExportCursors, keptCursors } from './core/metry/cursor';
import type { StatusView } from './core/runtime/status';
import { keptCursorStore } from './node-red/context-cursor-store';
import { getServiceConfig } from './node-red/energy-service-types';
import { clockFrom, evaluateProperty, onClose, onInput, readSettingsAtDeploy, toNodeStatus } from './node-red/node-kit';

interface MetryConsumptionDef extends NodeDef, ConsumptionConfig {
  server: string;
  period: string;
  periodType: string;
  cursorScope: 'node' | 'flow';
  cursorStore: string;
}

export = function register(RED: NodeAPI): void {
  function MetryConsumption(this: Node, def: MetryConsumptionDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const show = (view: StatusView): void => node.status(toNodeStatus(RED, 'metry-consumption', view));
    const settings = readSettingsAtDeploy(RED, node, () => readConsumptionSettings(def));
    if (!settings) return;
    let lease: ClientLease | undefined;
    let kept: ExportCursors | undefined;

    const controller = new ConsumptionController(settings, {
      connection: () => {
        lease ??= getServiceConfig(RED, def.server, 'metry').leaseClient();
        return { requester: lease, concurrency: lease.client.limiter.maxConcurrent || 4, baseUrlLength: lease.client.baseURL.length };
      },
      keptCursors: () => {
        if (!kept) {
          const { store, where } = keptCursorStore(RED, node, def.cursorScope === 'flow' ? 'flow' : 'node', def.cursorStore);
          node.log(`Export cursors are kept in ${where}.`);
          kept = keptCursors(store);
        }
        return kept;
      },
      clock: clockFrom(RED),
      evaluatePeriod: async (msg) => {
        const type = def.periodType || 'str';
        const text = def.period ?? '';
        const value = type === 'str' ? (text.includes('{{') ? Mustache.render(text, msg) : text) : await evaluateProperty(RED, text, type, node, msg as NodeMessage);
        return value === undefined || value === null ? '' : String(value);
      },
      newId: () => RED.util.generateId(),
      status: show,
      warn: (text) => node.warn(text),
    });

    onInput(node, (msg, send) =>
      controller.receive({
        msg: msg as unknown as Record<string, unknown>,
        send: (port, out) => send(port === 0 ? [out as NodeMessage, null] : [null, out as NodeMessage]),
      }),
    );

    onClose(node, () => {
      // As Node-RED's join node does: messages still gathering are ended, not half-exported.
      const dropped = controller.close();
      if (dropped > 0) node.warn(`${dropped} meter message(s) were not exported because the flow stopped; the next run picks them up.`);
      lease?.close();
    });
  }

  RED.nodes.registerType('metry-consumption', MetryConsumption as unknown as (this: Node, def: NodeDef) => void);
};
