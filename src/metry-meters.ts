import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { Request, Response } from 'express';
import type { ClientLease } from './core/http/client';
import { isServiceError } from './core/http/errors';
import { MappingRow, createMapper, summariseMeter } from './core/metry/meter-mapping';
import { MeterFilters, listMeters, listSubaccounts } from './core/metry/meters';
import { loadMeterTable } from './core/metry/dialog';
import { withLast } from './core/metry/stream';
import type { MetryMeter } from './core/metry/types';
import { getServiceConfig } from './node-red/energy-service-types';
import { evaluateProperty, onClose, onInput, status } from './node-red/node-kit';

interface MetryMetersDef extends NodeDef {
  server: string;
  mode: 'meters' | 'subaccounts';
  output: 'all' | 'each';
  subaccount: string;
  subaccountType: string;
  treeNode: string;
  treeNodeType: string;
  tags: string;
  tagsType: string;
  ean: string;
  eanType: string;
  meterType: string;
  box: string;
  mappings: MappingRow[];
  useTags: boolean;
  tagPrefix: string;
}

const FILTER_FIELDS = ['subaccount', 'treeNode', 'tags', 'ean'] as const;

export = function register(RED: NodeAPI): void {
  function MetryMeters(this: Node, def: MetryMetersDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const rows = Array.isArray(def.mappings) ? def.mappings : [];
    const mapping = rows.length > 0 || def.useTags ? createMapper({ table: rows, useTags: !!def.useTags, tagPrefix: def.tagPrefix }) : undefined;
    let scope: ClientLease | undefined;

    async function filtersFor(msg: NodeMessageInFlow): Promise<MeterFilters> {
      const filters: MeterFilters = { box: def.box === 'any' ? '' : def.box || 'active' };
      if (def.meterType) filters.type = def.meterType;
      for (const field of FILTER_FIELDS) {
        const record = def as unknown as Record<string, string>;
        const value = record[field] ? await evaluateProperty(RED, record[field], record[`${field}Type`] || 'str', node, msg) : undefined;
        if (value !== undefined && value !== null && value !== '') filters[field] = String(value);
      }
      return filters;
    }

    onInput(node, async (msg, send) => {
      scope ??= getServiceConfig(RED, def.server, 'metry').leaseClient();
      const onPage = (received: number, count: number | undefined): void => node.status(status.progress(received, count ?? received, def.mode === 'subaccounts' ? 'subaccounts' : 'meters'));
      node.status(status.working());
      const unmapped: Record<string, unknown>[] = [];
      const source: AsyncIterable<MetryMeter> = def.mode === 'subaccounts'
        ? (listSubaccounts(scope, { onPage }) as AsyncIterable<MetryMeter>)
        : mapped(listMeters(scope, await filtersFor(msg), { onPage }));

      async function* mapped(meters: AsyncIterable<MetryMeter>): AsyncGenerator<MetryMeter> {
        for await (const meter of meters) {
          if (!mapping) {
            yield meter;
            continue;
          }
          const result = mapping(meter);
          if (result.mappedId) yield { ...meter, mappedId: result.mappedId };
          else unmapped.push({ ...summariseMeter(meter), reason: result.reason });
        }
      }

      const all: MetryMeter[] = [];
      const partsId = RED.util.generateId();
      let sent = 0;
      for await (const { item, index, last } of withLast(source)) {
        if (def.output !== 'each') {
          all.push(item);
          continue;
        }
        const parts: Record<string, unknown> = { id: partsId, index, type: 'array' };
        if (last) parts.count = index + 1;
        if (msg.parts) parts.parts = msg.parts;
        send([{ ...msg, payload: item, parts } as NodeMessage, null]);
        sent += 1;
      }
      if (def.output !== 'each') {
        send([{ ...msg, payload: all } as NodeMessage, null]);
        sent = all.length;
      }
      if (unmapped.length > 0) send([null, { ...msg, payload: unmapped } as NodeMessage]);
      const noun = def.mode === 'subaccounts' ? 'subaccounts' : 'meters';
      node.status(unmapped.length > 0 ? status.warning(`${sent} ${noun}, ${unmapped.length} unmapped`) : status.success(`${sent} ${noun}`));
    });

    onClose(node, () => scope?.close());
  }

  RED.nodes.registerType('metry-meters', MetryMeters as unknown as (this: Node, def: NodeDef) => void);

  // The Map meters dialog asks the deployed config node to list meters with its stored token;
  // the browser only ever receives meter metadata.
  RED.httpAdmin.post('/metry-meters/:configId/meters', RED.auth.needsPermission('metry-meters.read'), (req: Request, res: Response) => {
    let scope: ClientLease | undefined;
    res.on('close', () => scope?.close());
    void (async () => {
      try {
        const configId = String(req.params.configId);
        if (!RED.nodes.getNode(configId)) {
          res.status(404).json({ code: 'NOT_DEPLOYED', error: 'This config node is not deployed yet. Deploy first, then load the meters.' });
          return;
        }
        scope = getServiceConfig(RED, configId, 'metry').getClient().lease();
        const body = (req.body ?? {}) as { own?: unknown; filters?: MeterFilters };
        const table = await loadMeterTable(scope, { own: typeof body.own === 'string' ? body.own : '', filters: body.filters });
        res.json(table);
      } catch (error) {
        const code = isServiceError(error) ? error.code : 'ERROR';
        const message = isServiceError(error) ? error.message : 'Listing meters failed; see the Node-RED log.';
        if (!isServiceError(error)) RED.log.warn(`metry-meters: ${String((error as Error)?.message ?? error)}`);
        if (!res.headersSent) res.status(code === 'CONFIG' ? 400 : 502).json({ error: message, code });
      }
    })();
  });
};
