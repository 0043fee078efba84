import os from 'node:os';
import path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { ClientLease } from './core/http/client';
import { toIsoWithOffset } from './core/readings';
import {
  DeliveryState,
  DeliveryWorker,
  DsmrReaderPost,
  ENGLISH_STATUS_WORDS,
  PersistentQueue,
  QueueItem,
  StatusWords,
  classifyFailure,
  deliveryStatus,
  preparePost,
  queueFilePath,
  sendPost,
} from './core/dsmr-reader';
import { getServiceConfig } from './node-red/energy-service-types';
import { clockFrom, onClose, onInput, reportError, status } from './node-red/node-kit';

interface DsmrReaderOutDef extends NodeDef {
  server: string;
  apiVersion: 'v1' | 'v2';
  queueMaxItems: number | string;
  queueMaxMb: number | string;
  retryBaseSeconds: number | string;
  retryMaxSeconds: number | string;
}

/**
 * `dsmrReaderOutQueueDir` puts the queues somewhere other than `<userDir>/dsmr-reader-out`;
 */
interface DsmrReaderOutSettings {
  userDir?: string;
  dsmrReaderOutQueueDir?: string;
}

/** A paused queue (wrong key, API disabled) checks this often whether the user fixed it. */
const PAUSE_PROBE_MS = 5 * 60_000;
const STATUS_INTERVAL_MS = 1000;

function positive(value: unknown, fallback: number): number {
  const number = Number(value);
  return value !== '' && value !== undefined && Number.isFinite(number) && number > 0 ? number : fallback;
}

export = function register(RED: NodeAPI): void {
  function DsmrReaderOut(this: Node, config: DsmrReaderOutDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const settings = RED.settings as unknown as DsmrReaderOutSettings;
    const clock = clockFrom(RED);
    const api = config.apiVersion === 'v2' ? 'v2' : 'v1';
    const maxItems = Math.floor(positive(config.queueMaxItems, 20_000));
    const maxBytes = Math.floor(positive(config.queueMaxMb, 20) * 1024 * 1024);
    const baseDelayMs = positive(config.retryBaseSeconds, 1) * 1000;
    const maxDelayMs = Math.max(baseDelayMs, positive(config.retryMaxSeconds, 60) * 1000);
    const text = (key: string, fallback: string): string => {
      const translated = RED._(`dsmr-reader-out.${key}`);
      return translated && translated !== `dsmr-reader-out.${key}` ? translated : fallback;
    };
    const words = Object.fromEntries(Object.entries(ENGLISH_STATUS_WORDS).map(([key, english]) => [key, text(`status.${key}`, english)])) as unknown as StatusWords;

    let dir = settings.dsmrReaderOutQueueDir;
    if (!dir && settings.userDir) dir = path.join(settings.userDir, 'dsmr-reader-out');
    if (!dir) {
      dir = path.join(os.tmpdir(), 'node-red-dsmr-reader-out');
      node.warn(`Node-RED has no user directory setting, so the queue is kept in ${dir}, which the system may clear. Set userDir or dsmrReaderOutQueueDir in settings.js.`);
    }

    let scope: ClientLease | undefined;
    let baseUrl = '';
    let worker: DeliveryWorker<DsmrReaderPost> | undefined;
    let shown = { fill: '', text: '', at: -Infinity };
    const showStatus = (state: DeliveryState): void => {
      const next = deliveryStatus(state, words);
      const now = clock.now();
      if (next.text === shown.text && next.fill === shown.fill) return;
      // A draining backlog changes the count on every item: show it about once a second.
      if (next.fill === shown.fill && state.phase === 'sending' && now - shown.at < STATUS_INTERVAL_MS) return;
      shown = { fill: next.fill, text: next.text, at: now };
      node.status(next);
    };
    const messageFor = (item: QueueItem<DsmrReaderPost>, status?: number): Record<string, unknown> => {
      const post = item.data;
      const msg: Record<string, unknown> = { _msgid: post.msgid, topic: post.topic, queuedAt: new Date(item.queuedAt).toISOString(), statusCode: status };
      if (post.api === 'v1') msg.telegram = post.telegram;
      else msg.payload = post.reading;
      return msg;
    };

    const ready = PersistentQueue.open<DsmrReaderPost>({ file: queueFilePath(dir, node.id), maxItems, maxBytes, now: () => clock.now() }).then((queue) => {
      if (queue.recovery.recovered > 0) node.log(`Found ${queue.recovery.recovered} undelivered items in ${queue.file}; delivering them first.`);
      if (queue.recovery.damagedRecords > 0) node.warn(`The queue file ${queue.file} had ${queue.recovery.damagedRecords} damaged record(s) (a crash during a write); they were skipped, the rest was kept.`);
      worker = new DeliveryWorker<DsmrReaderPost>({
        queue,
        clock,
        baseDelayMs,
        maxDelayMs,
        pauseProbeMs: Math.max(PAUSE_PROBE_MS, maxDelayMs),
        send: (item, signal) => {
          if (!scope) {
            const server = getServiceConfig(RED, config.server, 'dsmr-reader');
            scope = server.leaseClient();
            baseUrl = server.baseUrl;
          }
          return sendPost(scope, baseUrl, item.data, signal);
        },
        classify: (error, item) => {
          const verdict = classifyFailure(error, item.data.api);
          // A closed client stays closed: the next attempt asks the config node for a fresh one.
          if (verdict.action === 'stop' || verdict.statusText === 'config') scope = undefined;
          return verdict;
        },
        listener: {
          outageStarted: (error) => node.warn(error.message),
          recovered: (failures) => node.log(`DSMR-reader accepts posts again after ${failures} failed attempt(s); delivering the queue in order.`),
          rejected: (item, error) => node.error(error, messageFor(item, error.status) as NodeMessage),
          paused: (error) => node.error(error, { statusCode: error.status, queued: queue.length } as unknown as NodeMessage),
          internalError: (error) => reportError(node, error),
          changed: showStatus,
        },
      });
      worker.start();
      showStatus(worker.state);
      return queue;
    });
    ready.catch((error: unknown) => {
      reportError(node, error);
      node.status(status.error('queue'));
    });

    onInput(node, async (msg) => {
      const record = msg as unknown as Record<string, unknown>;
      const now = clock.now();
      // The red status of a refused message must give way to the next queue status.
      shown = { fill: '', text: '', at: -Infinity };
      const post = preparePost(api, { telegram: record.telegram, payload: msg.payload, msgid: msg._msgid, topic: msg.topic, receivedAt: toIsoWithOffset(now, -new Date(now).getTimezoneOffset()) });
      const queue = await ready;
      const { dropped } = await queue.push(post);
      if (dropped.length > 0) {
        node.warn(`The queue is full (${queue.maxItems} items or ${(queue.maxBytes / 1048576).toFixed(1)} MB): dropped the oldest ${dropped.length} item(s), queued ${new Date(dropped[0].queuedAt).toISOString()}; ${queue.dropped} dropped since the node started. Raise the queue limits or bring DSMR-reader back.`);
      }
      worker?.notify();
      if (worker) showStatus(worker.state);
    });

    onClose(node, async () => {
      const queue = await ready.catch(() => undefined);
      await worker?.stop();
      scope?.close();
      await queue?.close();
    });
  }

  RED.nodes.registerType('dsmr-reader-out', DsmrReaderOut as unknown as (this: Node, def: NodeDef) => void);
};
