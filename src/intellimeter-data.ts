import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { IntellimeterApi } from './core/intellimeter/api';
import { DataController, resultFields } from './core/intellimeter/data-controller';
import { DataSettings, IntellimeterDataConfig, OperationInput, readDataSettings } from './core/intellimeter/operation';
import { intellimeterSessionOf } from './core/intellimeter/session';
import { getServiceConfig } from './node-red/energy-service-types';
import { errorStatus } from './core/runtime/status';
import { clockFrom, errorCode, evaluateProperty, onClose, onInput, readSettingsAtDeploy, reportError, toNodeStatus } from './node-red/node-kit';

interface IntellimeterDataDef extends NodeDef, IntellimeterDataConfig {
  server: string;
}

const TYPE = 'intellimeter-data';
const SEEN_KEY = 'intellimeterNewestSeen';

export = function register(RED: NodeAPI): void {
  function IntellimeterData(this: Node, def: IntellimeterDataDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const setup = readSettingsAtDeploy(RED, node, () => {
      const settings = readDataSettings(def);
      const lease = getServiceConfig(RED, def.server, 'intellimeter').leaseClient();
      // The session belongs to the config node; this node holds it so the last user to close logs out.
      const releaseSession = intellimeterSessionOf(lease.client.auth)?.retain(lease.client);
      const controller = new DataController({
        api: new IntellimeterApi(lease),
        settings,
        clock: clockFrom(RED),
        memory: { get: () => node.context().get(SEEN_KEY), set: (state) => node.context().set(SEEN_KEY, state) },
        status: (view) => node.status(toNodeStatus(RED, TYPE, view)),
        warn: (key, params) => node.warn(RED._(`intellimeter-data.warn.${key}`, params)),
      });
      return { settings, lease, releaseSession, controller };
    });
    if (!setup) return;
    const { settings, lease, releaseSession, controller } = setup;

    /** The node's TypedInputs for this message: dates for the history file, the meter for history and meter information. */
    async function inputOf(msg: NodeMessage, operation: DataSettings['operation']): Promise<OperationInput> {
      const value = (field: string, type: string | undefined): Promise<unknown> => evaluateProperty(RED, field, type ?? 'str', node, msg);
      return {
        start: operation === 'file' ? await value(def.start ?? '', def.startType) : undefined,
        end: operation === 'file' ? await value(def.end ?? '', def.endType) : undefined,
        meter: operation === 'file' || operation === 'point' ? await value(def.meter ?? '', def.meterType) : undefined,
      };
    }

    onInput(node, async (msg, send) => {
      const result = await controller.run(await inputOf(msg, settings.operation));
      send(Object.assign(msg, resultFields(result)));
    });

    controller.startPolling(
      (result) => node.send(resultFields(result) as NodeMessage),
      (error, report) => {
        node.status(toNodeStatus(RED, TYPE, errorStatus(errorCode(error))));
        if (report) reportError(node, error, { payload: [], errorCode: (error as { code?: unknown }).code });
      },
    );

    onClose(node, async () => {
      // Abort the request in flight first, so stopping the poller does not wait for it.
      const stopping = controller.stop();
      lease.close();
      await stopping;
      await releaseSession?.();
    });
  }

  RED.nodes.registerType(TYPE, IntellimeterData as unknown as (this: Node, def: NodeDef) => void);
};
