import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { Request, Response } from 'express';
import type { ClientLease } from './core/http/client';
import { loadMeterTable, meterTableError } from './core/metry/dialog';
import { ListingConfig, meterFilters, readListingSettings, runListing } from './core/metry/meter-listing';
import type { MeterFilters } from './core/metry/meters';
import type { StatusView } from './core/runtime/status';
import { getServiceConfig } from './node-red/energy-service-types';
import { evaluateProperty, onClose, onInput, readSettingsAtDeploy, toNodeStatus } from './node-red/node-kit';

interface MetryMetersDef extends NodeDef {
  server: string;
  [field: string]: unknown;
}

const FILTER_FIELDS = ['subaccount', 'treeNode', 'tags', 'ean'] as const;

export = function register(RED: NodeAPI): void {
  function MetryMeters(this: Node, def: MetryMetersDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const show = (view: StatusView): void => node.status(toNodeStatus(RED, 'metry-meters', view));
    const settings = readSettingsAtDeploy(RED, node, () => readListingSettings(def as ListingConfig));
    if (!settings) return;
    let lease: ClientLease | undefined;

    onInput(node, async (msg, send) => {
      lease ??= getServiceConfig(RED, def.server, 'metry').leaseClient();
      const evaluated: Partial<Record<(typeof FILTER_FIELDS)[number], unknown>> = {};
      for (const field of FILTER_FIELDS) {
        const value = def[field];
        if (typeof value === 'string' && value !== '') evaluated[field] = await evaluateProperty(RED, value, String(def[`${field}Type`] || 'str'), node, msg);
      }
      const output = await runListing(settings, {
        requester: lease,
        filters: meterFilters(settings, evaluated),
        parentParts: msg.parts,
        sequenceId: RED.util.generateId(),
        onStatus: show,
      });
      if (output.warning) node.warn(output.warning);
      send([output.items.map((body) => ({ ...msg, ...body }) as NodeMessage), output.unmapped ? ({ ...msg, ...output.unmapped } as NodeMessage) : null]);
      show(output.status);
    });

    onClose(node, () => lease?.close());
  }

  RED.nodes.registerType('metry-meters', MetryMeters as unknown as (this: Node, def: NodeDef) => void);

  // The Map meters dialog asks the deployed config node to list meters with its stored token;
  // the browser only receives meter metadata. Using the token needs the right to edit flows.
  RED.httpAdmin.post('/metry-meters/:configId/meters', RED.auth.needsPermission('metry-meters.write'), (req: Request, res: Response) => {
    let lease: ClientLease | undefined;
    res.on('close', () => lease?.close());
    void (async () => {
      try {
        const configId = String(req.params.configId);
        if (!RED.nodes.getNode(configId)) {
          res.status(404).json({ code: 'NOT_DEPLOYED', error: 'This config node is not deployed yet. Deploy first, then load the meters.' });
          return;
        }
        lease = getServiceConfig(RED, configId, 'metry').getClient().lease();
        const body = (req.body ?? {}) as { own?: unknown; filters?: MeterFilters };
        res.json(await loadMeterTable(lease, { own: typeof body.own === 'string' ? body.own : '', filters: body.filters }));
      } catch (error) {
        const answer = meterTableError(error);
        if (answer.log) RED.log.warn(`metry-meters: ${answer.log}`);
        if (!res.headersSent) res.status(answer.status).json(answer.body);
      }
    })();
  });
};
