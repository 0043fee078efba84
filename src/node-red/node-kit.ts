/**
 * Node conventions in one place, so every adapter behaves alike: the status vocabulary,
 * input handling that always ends in exactly one `done`, errors a Catch node can see, and
 * close handlers that release everything before calling `done`.
 */
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import { isServiceError } from '../core/http/errors';
import { systemClock, type Clock } from '../core/runtime/clock';
import { shortStatusText, statusView, type StatusKind, type StatusView } from '../core/runtime/status';

export type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type Done = (err?: Error) => void;

/** A status of the runtime vocabulary's `kind` with a text given as it is (not a catalog key). */
function look(kind: StatusKind, text: string): NodeStatus {
  const { fill, shape } = statusView(kind);
  return { fill, shape, text: shortStatusText(text) };
}

/**
 * Statuses with literal texts, in the runtime layer's vocabulary (src/core/runtime/status.ts).
 * @deprecated Kept while adapters move to a core StatusView shown with `toNodeStatus`, whose
 * text comes from the node's catalog; remove once no adapter imports it.
 */
export const status = {
  connecting: (text = 'connecting'): NodeStatus => look('connecting', text),
  retrying: (text = 'retrying'): NodeStatus => look('retrying', text),
  connected: (text = 'connected'): NodeStatus => look('connected', text),
  disconnected: (text = 'not connected'): NodeStatus => look('disconnected', text),
  working: (text = 'requesting'): NodeStatus => look('working', text),
  progress: (done: number, total: number, unit = ''): NodeStatus => look('working', `${done}/${total}${unit ? ` ${unit}` : ''}`),
  success: (text: string): NodeStatus => look('success', text),
  warning: (text: string): NodeStatus => look('warning', text),
  rateLimited: (text = 'rate limited'): NodeStatus => look('retrying', text),
  error: (code: string): NodeStatus => look('error', code),
  stopped: (text = 'stopped'): NodeStatus => look('stopped', text),
  clear: (): NodeStatus => ({}),
};

/**
 * A core StatusView as a Node-RED status: its text is `<type>.status.<key>` from the node's
 * message catalog, with the view's params (`__name__` in the catalog). An error status shows
 * its code untranslated; a key missing from the catalog shows as the key itself.
 */
export function toNodeStatus(RED: NodeAPI, type: string, view: StatusView | undefined): NodeStatus {
  if (!view) return {};
  if (view.kind === 'error' && view.params?.code !== undefined) return look('error', String(view.params.code));
  const id = `${type}.status.${view.key}`;
  const translated = RED._(id, view.params as Record<string, string>);
  return look(view.kind, translated && translated !== id ? translated : view.key);
}

/** A short status code for any error: `401`, `timeout`, `crc`. */
export function errorCode(error: unknown): string {
  if (isServiceError(error)) return error.statusText;
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && code) return code.toLowerCase().replace(/_/g, ' ');
  return 'error';
}

export function toError(error: unknown): Error {
  if (error instanceof Error) return error;
  return new Error(typeof error === 'string' ? error : JSON.stringify(error));
}

/**
 * Registers an input handler whose every path ends in exactly one `done`. A failure sets a red
 * status with a short code, puts `msg.statusCode`/`msg.errorCode` on the message and calls
 * `done(err)`, which the runtime turns into `node.error(err, msg)` for Catch nodes.
 */
export function onInput(node: Node, handler: (msg: NodeMessageInFlow, send: Send) => Promise<void>): void {
  node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
    let finished = false;
    const finish = (err?: Error): void => {
      if (finished) return;
      finished = true;
      done(err);
    };
    handler(msg, send).then(
      () => finish(),
      (error: unknown) => {
        const err = toError(error);
        node.status(status.error(errorCode(error)));
        const record = msg as unknown as Record<string, unknown>;
        if (isServiceError(error)) {
          if (error.status) record.statusCode = error.status;
          record.errorCode = error.code;
        } else if (typeof (error as { code?: unknown })?.code === 'string') {
          record.errorCode = (error as { code: string }).code;
        }
        finish(err);
      },
    );
  });
}

/**
 * Registers a close handler that awaits `release` and only then calls `done`, so a redeploy
 * never races an old connection; errors while releasing are logged, never thrown.
 */
export function onClose(node: Node, release: (removed: boolean) => Promise<void> | void): void {
  node.on('close', (removed: boolean, done: () => void) => {
    Promise.resolve()
      .then(() => release(removed))
      .catch((error: unknown) => node.warn(`Error while closing: ${toError(error).message}`))
      .finally(() => {
        node.status(status.clear());
        done();
      });
  });
}

/** Reports an error raised outside an input handler (timers, sockets) so Catch nodes see it. */
export function reportError(node: Node, error: unknown, msg: Record<string, unknown> = {}): void {
  node.error(toError(error), msg as NodeMessage);
}

/** Evaluates a TypedInput per message; `flow`/`global` need the callback form, wrapped here once. */
export function evaluateProperty(RED: NodeAPI, value: string, type: string, node: Node, msg: NodeMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    RED.util.evaluateNodeProperty(value, type, node, msg, (err: Error | null, result: unknown) => {
      if (err) reject(err);
      else resolve(result);
    });
  });
}

/**
 * The clock every node of the package uses. Tests replace real time for all of them at once
 * with `energyExportClock` in the Node-RED settings; production never sets it.
 */
export function clockFrom(RED: NodeAPI): Clock {
  return (RED.settings as unknown as { energyExportClock?: Clock }).energyExportClock ?? systemClock;
}
