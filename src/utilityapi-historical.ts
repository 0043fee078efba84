import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { ClientLease, RetryEvent } from './core/http/client';
import { triggerHistoricalCollection } from './core/utilityapi/collection';
import { fetchMeterReadings } from './core/utilityapi/intervals';
import { parseBatchSize, parseCollectionDuration, parseMeterUids } from './core/utilityapi/request';
import { waitForCollection } from './core/utilityapi/collection-poller';
import { getServiceConfig } from './node-red/energy-service-types';
import { evaluateProperty, onClose, onInput, status } from './node-red/node-kit';

interface UtilityApiHistoricalDef extends NodeDef {
  server: string;
  meters: string;
  metersType: string;
  duration: string;
  durationType: string;
  batchSize: number | string;
  wait: boolean;
  /** Seconds between status checks. */
  pollInterval: number | string;
  /** Minutes to wait at most. */
  waitTimeout: number | string;
  fetchIntervals: boolean;
}

function positive(value: unknown, fallback: number): number {
  const number = Number(value);
  return value !== '' && value !== null && Number.isFinite(number) && number > 0 ? number : fallback;
}

/** Where a value came from, in the words an error text should use. */
function sourceName(type: string, value: string, configured: string): string {
  if (type === 'msg' || type === 'flow' || type === 'global') return `${type}.${value}`;
  if (type === 'env') return `the environment variable ${value}`;
  return configured;
}

export = function register(RED: NodeAPI): void {
  function UtilityApiHistorical(this: Node, def: UtilityApiHistoricalDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const metersType = def.metersType || 'msg';
    const metersValue = def.meters ?? (metersType === 'msg' ? 'payload' : '');
    const durationType = def.durationType || 'num';
    const durationValue = def.duration ?? '';
    const batchSize = parseBatchSize(def.batchSize);
    const intervalMs = positive(def.pollInterval, 60) * 1000;
    const timeoutMs = positive(def.waitTimeout, 60) * 60_000;
    let scope: ClientLease | undefined;

    const onRetry = (event: RetryEvent): void => {
      const seconds = Math.ceil(event.delayMs / 1000);
      node.status(event.error.code === 'RATE_LIMITED' ? status.rateLimited(`429, retry in ${seconds} s`) : status.retrying(`${event.error.statusText}, retry ${event.attempt}`));
    };

    onInput(node, async (msg, send) => {
      const meters = parseMeterUids(await evaluateProperty(RED, metersValue, metersType, node, msg), sourceName(metersType, metersValue, 'the meters set in the node'));
      // An empty number field means "UtilityAPI's default", not 0 months.
      const rawDuration = durationValue === '' && (durationType === 'num' || durationType === 'str') ? undefined : await evaluateProperty(RED, durationValue, durationType, node, msg);
      const collectionDuration = parseCollectionDuration(rawDuration, durationType === 'num' ? 'the collection duration' : `the collection duration in ${sourceName(durationType, durationValue, 'the node')}`);

      scope ??= getServiceConfig(RED, def.server, 'utilityapi').leaseClient();
      const active = scope;
      const template = RED.util.cloneMessage(msg);
      node.status(status.working('triggering'));
      let result;
      try {
        result = await triggerHistoricalCollection(active, { meters, collectionDuration, batchSize }, {
          signal: active.signal,
          onRetry,
          onBatch: (batch, batches) => batches > 1 && node.status(status.progress(batch, batches, 'batches')),
        });
      } catch (error) {
        // Meters already triggered cost money: keep them on the message the Catch node gets.
        const partial = (error as { partial?: unknown }).partial;
        if (partial) msg.payload = partial;
        throw error;
      }
      msg.payload = result;
      send([msg, null]);
      const summary = `${result.triggered.length} triggered${result.ignored.length ? `, ${result.ignored.length} ignored` : ''}`;
      if (!def.wait || result.triggered.length === 0) {
        node.status(result.ignored.length ? status.warning(summary) : status.success(summary));
        return;
      }

      node.status(status.working(`waiting 0/${result.triggered.length}`));
      let withProblems = 0;
      const outcomes = waitForCollection(active, result.triggered, {
        intervalMs,
        timeoutMs,
        clock: active.client.clock,
        signal: active.signal,
        batchSize,
        onRetry,
        onProgress: (finished, total) => node.status(status.working(`waiting ${finished}/${total}`)),
      });
      for await (const outcome of outcomes) {
        const out = RED.util.cloneMessage(template) as NodeMessageInFlow & { readings?: unknown };
        out.payload = outcome;
        if (outcome.problems.length) withProblems += 1;
        if (def.fetchIntervals && outcome.meter) {
          node.status(status.working(`intervals ${outcome.uid}`));
          out.readings = await fetchMeterReadings(active, outcome.uid, { signal: active.signal, onRetry });
        }
        send([null, out as NodeMessage]);
      }
      const collected = `${result.triggered.length} collected`;
      node.status(withProblems ? status.warning(`${collected}, ${withProblems} with notes`) : status.success(collected));
    });

    onClose(node, () => scope?.close());
  }

  RED.nodes.registerType('utilityapi-historical', UtilityApiHistorical as unknown as (this: Node, def: NodeDef) => void);
};
