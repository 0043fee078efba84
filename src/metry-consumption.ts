import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import Mustache from 'mustache';
import type { ClientLease } from './core/http/client';
import { ServiceError } from './core/http/errors';
import { MessageBatcher } from './core/metry/batcher';
import { forceRequest, metersFromMessage } from './core/metry/input';
import { ConsumptionExport, ExportEvent, ReadingsEvent } from './core/metry/export';
import { GranularityChoice, toConsumptionMeters } from './core/metry/plan';
import { parseMetrics } from './core/metry/types';
import type { Reading } from './core/readings';
import { contextCursorStore } from './node-red/context-cursor-store';
import { getServiceConfig } from './node-red/energy-service-types';
import { Send, clockFrom, evaluateProperty, onClose, onInput, status } from './node-red/node-kit';

interface MetryConsumptionDef extends NodeDef {
  server: string;
  granularity: GranularityChoice;
  metrics: string;
  mode: 'incremental' | 'period';
  period: string;
  periodType: string;
  cursorScope: 'node' | 'flow';
  cursorStore: string;
  output: 'meter' | 'all';
  includeRaw: boolean;
}

interface Origin {
  msg: NodeMessageInFlow & { force?: unknown };
  send: Send;
}

export = function register(RED: NodeAPI): void {
  function MetryConsumption(this: Node, def: MetryConsumptionDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const cursors = contextCursorStore(node, def.cursorScope === 'flow' ? 'flow' : 'node', def.cursorStore);
    const clock = clockFrom(RED);
    let scope: ClientLease | undefined;
    const progress = { sequence: undefined as string | undefined, done: 0, total: undefined as number | undefined };
    const batcher = new MessageBatcher<Origin>({ maxSize: 100, idleMs: 200, run: (origins) => exportFor(origins, (origins[0].msg.parts as { id: string }).id) });

    async function periodFor(msg: Origin['msg']): Promise<string | undefined> {
      const force = forceRequest(msg.force);
      if (force?.period) return String(force.period);
      if (def.mode !== 'period' && !force) return undefined;
      const type = def.periodType || 'str';
      const text = def.period ?? '';
      const value = type === 'str' ? (text.includes('{{') ? Mustache.render(text, msg) : text) : await evaluateProperty(RED, text, type, node, msg);
      const period = value === undefined || value === null ? '' : String(value).trim();
      if (period === '' && def.mode === 'period' && !force) {
        throw new ServiceError('The node is set to an explicit period but the period is empty. Enter one, e.g. 202403 or 20240101-20240131.', { code: 'CONFIG', service: 'metry' });
      }
      return period === '' ? undefined : period;
    }

    function showProgress(): void {
      node.status(progress.total ? status.progress(progress.done, progress.total, 'meters') : status.working(`${progress.done} meters`));
    }

    /** Exports the meters of one message, or of a batch of one-meter messages of a sequence. */
    async function exportFor(origins: Origin[], sequence?: string): Promise<void> {
      scope ??= getServiceConfig(RED, def.server, 'metry').leaseClient();
      const first = origins[0].msg;
      if (sequence === undefined || sequence !== progress.sequence) Object.assign(progress, { sequence, done: 0, total: undefined });
      const owner = new Map<string, Origin>();
      const items = origins.flatMap((origin) => {
        const meters = metersFromMessage(origin.msg.payload, forceRequest(origin.msg.force));
        for (const meter of toConsumptionMeters(meters)) owner.set(meter.id, origin);
        return meters;
      });
      const exporter = new ConsumptionExport(scope, {
        granularity: def.granularity || 'month',
        metrics: parseMetrics(def.metrics || 'energy'),
        period: await periodFor(first),
        force: !!forceRequest(first.force),
        cursors,
        now: clock?.now() ?? Date.now(),
        concurrency: scope.client.limiter.maxConcurrent || 4,
        includeRaw: !!def.includeRaw,
        onProgress: () => {
          progress.done += 1;
          showProgress();
        },
      });
      const announced = origins.map((o) => (o.msg.parts as { count?: number } | undefined)?.count).find((c) => typeof c === 'number');
      progress.total = sequence === undefined ? items.length : announced ?? progress.total;
      node.status(status.working());
      const partsId = RED.util.generateId();
      const all: Reading[] = [];
      const raw: unknown[] = [];
      const notices: ExportEvent[] = [];
      let held: { origin: Origin; msg: Record<string, unknown> } | undefined;
      let index = 0;
      for await (const event of exporter.run(items)) {
        if (event.type !== 'readings') {
          notices.push(event);
          if (event.type === 'skipped') node.warn(`Skipped Metry meter ${event.meterId}${event.mappedId ? ` (${event.mappedId})` : ''}: ${event.reason}`);
          continue;
        }
        if (def.output === 'all') {
          for (const reading of event.readings) all.push(reading);
          if (event.raw) raw.push(event.raw);
          continue;
        }
        const origin = owner.get(event.meter.id) ?? origins[0];
        if (held) held.origin.send([held.msg as NodeMessage, null]);
        held = { origin, msg: readingsMessage(origin.msg, event, { id: partsId, index, type: 'array' }) };
        index += 1;
      }
      if (held) {
        (held.msg.parts as Record<string, unknown>).count = index;
        held.origin.send([held.msg as NodeMessage, null]);
      }
      const last = origins[origins.length - 1];
      // Messages that stand for the whole batch must not pretend to be part of the input sequence.
      const base: Record<string, unknown> = { ...last.msg };
      if (sequence !== undefined) delete base.parts;
      if (def.output === 'all') last.send([{ ...base, payload: all, ...(def.includeRaw ? { raw } : {}) } as NodeMessage, null]);
      const summary = exporter.summary;
      const report = { ...summary, notices: notices.filter((n) => n.type === 'notice' && n.kind !== 'up-to-date') };
      last.send([null, { ...base, payload: report } as NodeMessage]);
      const text = `${summary.readings} readings, ${summary.meters} meters`;
      node.status(summary.skipped.length > 0 ? status.warning(`${text}, ${summary.skipped.length} skipped`) : status.success(text));
    }

    function readingsMessage(msg: Origin['msg'], event: ReadingsEvent, parts: Record<string, unknown>): Record<string, unknown> {
      const { id, mappedId, name, ean } = event.meter;
      const out: Record<string, unknown> = { ...msg, payload: event.readings, meter: { id, mappedId, name, ean }, granularity: event.granularity, period: event.period, parts };
      if (event.raw) out.raw = event.raw;
      return out;
    }

    onInput(node, async (msg, send) => {
      const origin: Origin = { msg, send };
      const parts = msg.parts as { id?: string; count?: number } | undefined;
      const single = msg.payload !== undefined && msg.payload !== null && !Array.isArray(msg.payload);
      // One meter per message from a sequence (metry-meters "one message per meter"): gather
      // them so they still share /consumptions/multi requests.
      if (parts?.id && single && !forceRequest(msg.force)) return batcher.add(parts.id, origin, parts.count);
      await exportFor([origin]);
    });

    onClose(node, () => {
      // As Node-RED's join node does: messages still gathering are ended, not half-exported.
      const dropped = batcher.discardAll();
      if (dropped > 0) node.warn(`${dropped} meter message(s) were not exported because the flow stopped; the next run picks them up.`);
      scope?.close();
    });
  }

  RED.nodes.registerType('metry-consumption', MetryConsumption as unknown as (this: Node, def: NodeDef) => void);
};
