import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { ClientLease } from './core/http/client';
import { runHistoricalCollection } from './core/utilityapi/historical-run';
import { parseCollectionDuration, parseMeterUids, parseWindow, sourceName } from './core/utilityapi/request';
import { HistoricalConfig, readHistoricalSettings } from './core/utilityapi/settings';
import { getServiceConfig } from './node-red/energy-service-types';
import { clockFrom, evaluateProperty, onClose, onInput, readSettingsAtDeploy, reportError, toNodeStatus } from './node-red/node-kit';

interface UtilityApiHistoricalDef extends NodeDef, HistoricalConfig {
  server: string;
  meters: string;
  metersType: string;
  duration: string;
  durationType: string;
}

type Message = NodeMessageInFlow & Record<string, unknown>;

const TYPE = 'utilityapi-historical';

export = function register(RED: NodeAPI): void {
  function UtilityApiHistorical(this: Node, def: UtilityApiHistoricalDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const clock = clockFrom(RED);
    const metersType = def.metersType || 'msg';
    const metersValue = def.meters ?? (metersType === 'msg' ? 'payload' : '');
    const durationType = def.durationType || 'num';
    const durationValue = def.duration ?? '';
    const settings = readSettingsAtDeploy(RED, node, () => readHistoricalSettings(def));
    if (!settings) return;
    let lease: ClientLease | undefined;

    onInput(node, async (input, send) => {
      const msg = input as Message;
      const meters = parseMeterUids(await evaluateProperty(RED, metersValue, metersType, node, msg), sourceName(metersType, metersValue, 'the meters set in the node'));
      // An empty number field means "UtilityAPI's default", not 0 months.
      const rawDuration = durationValue === '' && (durationType === 'num' || durationType === 'str') ? undefined : await evaluateProperty(RED, durationValue, durationType, node, msg);
      const collectionDuration = parseCollectionDuration(rawDuration, durationType === 'num' ? 'the collection duration' : `the collection duration in ${sourceName(durationType, durationValue, 'the node')}`);
      const window = settings.fetchIntervals ? parseWindow(msg.start, msg.end) : undefined;
      lease ??= getServiceConfig(RED, def.server, 'utilityapi').leaseClient();
      const template = RED.util.cloneMessage(msg);
      const copy = (extra: Record<string, unknown>): NodeMessage => Object.assign(RED.util.cloneMessage(template), extra);
      try {
        await runHistoricalCollection(lease, settings, { meters, collectionDuration, window }, {
          status: (view) => node.status(toNodeStatus(RED, TYPE, view)),
          triggered: (result) => send([Object.assign(msg, { payload: result }), null]),
          delivered: ({ outcome, readings, intervals }) => send([null, copy({ payload: outcome, ...(readings ? { readings, intervals } : {}) })]),
          failed: ({ outcome, error, intervals }) =>
            reportError(node, error, { ...copy({ payload: outcome, intervals }), errorCode: error.code, ...(error.status ? { statusCode: error.status } : {}) }),
        }, { clock, signal: lease.signal });
      } catch (error) {
        // Meters already triggered cost money: keep them on the message the Catch node gets.
        const partial = (error as { partial?: unknown }).partial;
        if (partial) msg.payload = partial;
        throw error;
      }
    });

    onClose(node, () => lease?.close());
  }

  RED.nodes.registerType(TYPE, UtilityApiHistorical as unknown as (this: Node, def: NodeDef) => void);
};
