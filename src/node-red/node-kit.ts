/**
 * Node conventions in one place, so every adapter behaves alike: the status vocabulary,
 * input handling that always ends in exactly one `done`, errors a Catch node can see, and
 * close handlers that release everything before calling `done`.
 */
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import { isServiceError } from '../core/http/errors';
import { systemClock, type Clock } from '../core/runtime/clock';
import { shortStatusText, type StatusView } from '../core/runtime/status';

export type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type Done = (err?: Error) => void;

const MAX_STATUS_TEXT = 32;

function short(text: string): string {
  return text.length > MAX_STATUS_TEXT ? `${text.slice(0, MAX_STATUS_TEXT - 1)}…` : text;
}

/** The status vocabulary of the package (see the style guide's status table). */
export const status = {
  connecting: (text = 'connecting'): NodeStatus => ({ fill: 'yellow', shape: 'ring', text: short(text) }),
  retrying: (text = 'retrying'): NodeStatus => ({ fill: 'yellow', shape: 'ring', text: short(text) }),
  connected: (text = 'connected'): NodeStatus => ({ fill: 'green', shape: 'dot', text: short(text) }),
  disconnected: (text = 'not connected'): NodeStatus => ({ fill: 'red', shape: 'ring', text: short(text) }),
  working: (text = 'requesting'): NodeStatus => ({ fill: 'blue', shape: 'dot', text: short(text) }),
  progress: (done: number, total: number, unit = ''): NodeStatus => ({ fill: 'blue', shape: 'dot', text: short(`${done}/${total}${unit ? ` ${unit}` : ''}`) }),
  success: (text: string): NodeStatus => ({ fill: 'green', shape: 'dot', text: short(text) }),
  warning: (text: string): NodeStatus => ({ fill: 'yellow', shape: 'ring', text: short(text) }),
  rateLimited: (text = 'rate limited'): NodeStatus => ({ fill: 'yellow', shape: 'ring', text: short(text) }),
  error: (code: string): NodeStatus => ({ fill: 'red', shape: 'ring', text: short(code) }),
  stopped: (text = 'stopped'): NodeStatus => ({ fill: 'grey', shape: 'ring', text: short(text) }),
  clear: (): NodeStatus => ({}),
};

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

/**
 * Shows a status decided by a core module (src/core/runtime/status.ts); its text comes from the
 * node's message catalog, `<node-type>.status.<key>`, so `nl` works.
 */
export function showStatus(node: Node, RED: NodeAPI, view: StatusView): void {
  node.status({ fill: view.fill, shape: view.shape, text: shortStatusText(RED._(`${node.type}.status.${view.key}`, view.params)) });
}
