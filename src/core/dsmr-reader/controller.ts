/**
 * Everything dsmr-reader-out does, without Node-RED: it opens the node's queue and dead-letter
 * files, turns each input message into a queued post (or a refusal), runs the delivery worker,
 * reports what happened through the host (error, warn, log) and decides the status, showing a
 * draining backlog's changing count about once a second. The adapter only wires a host to it.
 */
import type { Clock } from '../runtime/clock';
import { errorStatus, type StatusView } from '../runtime/status';
import type { HttpRequester } from '../http/client';
import { toIsoWithOffset } from '../readings';
import { isServiceError } from '../http/errors';
import { RETRY_HINT, V2_PATH, classifyFailure, isStored, repeatedFailureError, sendPost } from './api';
import { DeadLetterFile, deadLetterFilePath } from './dead-letters';
import { DeliveryWorker, type DeliveryState } from './delivery';
import type { DsmrReaderError } from './errors';
import { postTimestamp, preparePost, type DsmrReaderPost } from './prepare';
import { PersistentQueue, queueFilePath, type QueueItem } from './queue';
import type { DsmrReaderOutSettings } from './settings';
import { deliveryStatus } from './status';

/** `msg.topic` that sends every dead letter again. */
export const RETRY_DEAD_LETTERS = 'retry-dead-letters';

/** A draining backlog changes the count on every item: show it about once a second. */
const STATUS_INTERVAL_MS = 1000;

/** A per-node lease on the config node's HTTP client, and the server's base URL. */
export interface ServerLease {
  requester: HttpRequester & { close(): void };
  baseUrl: string;
}

/** What the controller needs from its surroundings (the Node-RED node, or a test). */
export interface ControllerHost {
  clock: Clock;
  /** A lease on the configured DSMR-reader; throws a CONFIG error when the config node is unusable. */
  lease(): ServerLease;
  status(view: StatusView): void;
  /** An error a Catch node should see, with the message it belongs to. */
  error(error: Error, msg: Record<string, unknown>): void;
  warn(text: string): void;
  log(text: string): void;
}

export interface InputMessage {
  telegram?: unknown;
  payload?: unknown;
  topic?: unknown;
  _msgid?: string;
}

interface Opened {
  queue: PersistentQueue<DsmrReaderPost>;
  deadLetters: DeadLetterFile<DsmrReaderPost>;
  worker: DeliveryWorker<DsmrReaderPost>;
}

export class DsmrReaderOutController {
  private readonly ready: Promise<Opened>;
  private opened: Opened | undefined;
  private server: ServerLease | undefined;
  private shown = { signature: '', kind: '', at: -Infinity };
  /** Reasons already logged for sending a telegram as a v2 reading (`v1-v2` mode). */
  private readonly viaLogged = new Set<string>();
  private checkWarned = false;

  constructor(
    private readonly settings: DsmrReaderOutSettings,
    /** The folder of the queue files, and this node's id (one queue per node). */
    files: { dir: string; nodeId: string },
    private readonly host: ControllerHost,
  ) {
    this.ready = this.open(queueFilePath(files.dir, files.nodeId));
    this.ready.catch((error: unknown) => {
      host.error(error instanceof Error ? error : new Error(String(error)), {});
      host.status(errorStatus('queue'));
    });
  }

  /** Queues one input message, or sends the dead letters again; throws a DsmrReaderError to refuse it. */
  async handle(msg: InputMessage): Promise<void> {
    // The red status of a refused message must give way to the next queue status.
    this.shown = { signature: '', kind: '', at: -Infinity };
    if (msg.topic === RETRY_DEAD_LETTERS) {
      await this.retryDeadLetters();
      return;
    }
    const now = this.host.clock.now();
    const receivedAt = toIsoWithOffset(now, -new Date(now).getTimezoneOffset());
    const post = preparePost(this.settings.api, { telegram: msg.telegram, payload: msg.payload, msgid: msg._msgid, topic: msg.topic, receivedAt, now });
    if (post.via && !this.viaLogged.has(post.via)) {
      this.viaLogged.add(post.via);
      this.host.log(`Telegrams are sent as v2 readings when ${post.via} (first seen now; not repeated).`);
    }
    const { worker } = await this.ready;
    await this.push(post);
    worker.notify();
    this.showStatus(worker.state);
  }

  async close(): Promise<void> {
    const opened = await this.ready.catch(() => undefined);
    await opened?.worker.stop();
    this.releaseServer();
    await opened?.queue.close();
    await opened?.deadLetters.close();
  }

  private async open(queueFile: string): Promise<Opened> {
    const { settings, host } = this;
    const queue = await PersistentQueue.open<DsmrReaderPost>({ file: queueFile, maxItems: settings.queueMaxItems, maxBytes: settings.queueMaxBytes, now: () => host.clock.now() });
    if (queue.recovery.recovered > 0) host.log(`Found ${queue.recovery.recovered} undelivered items in ${queue.file}; delivering them first.`);
    if (queue.recovery.damagedRecords > 0) host.warn(`The queue file ${queue.file} had ${queue.recovery.damagedRecords} damaged record(s) (a crash during a write); they were skipped, the rest was kept.`);
    const deadLetters = await DeadLetterFile.open<DsmrReaderPost>(deadLetterFilePath(queue.file), settings.queueMaxBytes);
    if (deadLetters.count > 0) host.warn(`${deadLetters.count} dead letter(s) wait in ${deadLetters.file}. ${RETRY_HINT}`);
    const worker = new DeliveryWorker<DsmrReaderPost>({
      queue,
      clock: host.clock,
      retry: settings.retry,
      pauseProbeMs: settings.pauseProbeMs,
      send: (item, signal) => sendPost(this.lease().requester, this.lease().baseUrl, item.data, signal),
      isStored: (item, signal) => this.isStored(item, signal),
      needsCheck: (item) => item.data.verify === true,
      classify: (error, item) => {
        const verdict = classifyFailure(error, item.data);
        // A closed client stays closed: the next attempt asks the config node for a fresh one.
        if (verdict.action === 'stop' || verdict.statusText === 'config') this.releaseServer();
        return verdict;
      },
      deadLetter: (item, error, attempts) => this.deadLetter(item, error, attempts),
      listener: {
        outageStarted: (error) => host.warn(error.message),
        recovered: (failures) => host.log(`DSMR-reader accepts posts again after ${failures} failed attempt(s); delivering the queue in order.`),
        alreadyStored: (item) => host.log(`DSMR-reader had already stored the reading of ${postTimestamp(item.data)} from an attempt that timed out or was cut off; it was not sent again.`),
        paused: (error) => host.error(error, { statusCode: error.status, queued: queue.length }),
        internalError: (error) => host.error(error instanceof Error ? error : new Error(String(error)), {}),
        changed: (state) => this.showStatus(state),
      },
    });
    this.opened = { queue, deadLetters, worker };
    worker.start();
    this.showStatus(worker.state);
    return this.opened;
  }

  /**
   * Asks DSMR-reader whether it stored an item. A server (or reverse proxy) without the v2 list
   * endpoint (404/405) cannot tell: the item is sent again, with a warning once, because holding
   * the queue forever would be worse than a possible duplicate.
   */
  private async isStored(item: QueueItem<DsmrReaderPost>, signal: AbortSignal): Promise<boolean | undefined> {
    try {
      return await isStored(this.lease().requester, this.lease().baseUrl, item.data, signal);
    } catch (error) {
      if (!isServiceError(error) || (error.status !== 404 && error.status !== 405)) throw error;
      if (!this.checkWarned) {
        this.checkWarned = true;
        this.host.warn(`DSMR-reader answered HTTP ${error.status} to GET ${V2_PATH}, so the node cannot check whether a post that timed out was stored, and sends it again; DSMR-reader may then store it twice. Make the v2 API reachable at the base URL (a reverse proxy may pass only /api/v1).`);
      }
      return undefined;
    }
  }

  private lease(): ServerLease {
    this.server ??= this.host.lease();
    return this.server;
  }

  private releaseServer(): void {
    this.server?.requester.close();
    this.server = undefined;
  }

  private async push(post: DsmrReaderPost): Promise<void> {
    const { queue } = await this.ready;
    const { dropped, compactionError } = await queue.push(post);
    // Queued safely, but the file could not be compacted (disk nearly full): worth knowing early.
    if (compactionError) this.host.warn(compactionError.message);
    if (dropped.length > 0) {
      this.host.warn(
        `The queue is full (${queue.maxItems} items or ${(queue.maxBytes / 1048576).toFixed(1)} MB): dropped the oldest ${dropped.length} item(s), queued ${new Date(dropped[0].queuedAt).toISOString()}; ${queue.dropped} dropped since the node started. Raise the queue limits or bring DSMR-reader back.`,
      );
    }
  }

  /** Keeps the item in the dead-letter file, then tells the user once, with the message it came from. */
  private async deadLetter(item: QueueItem<DsmrReaderPost>, error: DsmrReaderError, attempts: number): Promise<void> {
    const { deadLetters } = await this.ready;
    const report = attempts > 1 ? repeatedFailureError(error, item.data, attempts) : error;
    const kept = await deadLetters.append({
      deadAt: new Date(this.host.clock.now()).toISOString(),
      queuedAt: new Date(item.queuedAt).toISOString(),
      attempts,
      status: error.status,
      answer: error.serviceMessage,
      reason: report.message,
      item: { ...item.data, verify: undefined },
    });
    const full = kept ? '' : ` The dead-letter file ${deadLetters.file} is full (${(deadLetters.maxBytes / 1048576).toFixed(1)} MB), so this item is kept only in this message; send the dead letters again or remove the file.`;
    const message = full ? new Error(`${report.message}${full}`) : report;
    this.host.error(message, this.messageFor(item, error.status, deadLetters.file));
  }

  private messageFor(item: QueueItem<DsmrReaderPost>, statusCode: number | undefined, deadLetterFile: string): Record<string, unknown> {
    const post = item.data;
    const msg: Record<string, unknown> = { _msgid: post.msgid, topic: post.topic, queuedAt: new Date(item.queuedAt).toISOString(), statusCode, deadLetterFile };
    if (post.api === 'v1') msg.telegram = post.telegram;
    else msg.payload = post.reading;
    return msg;
  }

  private async retryDeadLetters(): Promise<void> {
    const { deadLetters, worker } = await this.ready;
    const { letters, damaged } = await deadLetters.readAll();
    if (letters.length === 0 && damaged === 0) {
      this.host.warn(`There are no dead letters to send again (${deadLetters.file} is empty).`);
      return;
    }
    // Checked with DSMR-reader before their first attempt: a dead letter queued twice (a crash
    // between queueing and emptying the file) or stored after all is never stored twice.
    for (const letter of letters) await this.push({ ...letter.item, verify: true });
    await deadLetters.clear();
    this.host.log(`Queued ${letters.length} dead letter(s) again from ${deadLetters.file}.`);
    if (damaged > 0) this.host.warn(`${damaged} damaged line(s) in ${deadLetters.file} could not be read and were removed.`);
    worker.notify();
    this.showStatus(worker.state);
  }

  private showStatus(state: DeliveryState): void {
    const view = deliveryStatus(state, this.opened?.deadLetters.count ?? 0);
    const signature = `${view.key} ${JSON.stringify(view.params ?? {})}`;
    const now = this.host.clock.now();
    if (signature === this.shown.signature) return;
    if (view.kind === this.shown.kind && state.phase === 'sending' && now - this.shown.at < STATUS_INTERVAL_MS) return;
    this.shown = { signature, kind: view.kind, at: now };
    this.host.status(view);
  }
}
