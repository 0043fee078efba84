/**
 * Node conventions in one place, so every adapter behaves alike: showing a core status,
 * input handling that always ends in exactly one `done`, errors a Catch node can see, and
 * close handlers that release everything before calling `done`.
 */
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import { isServiceError } from '../core/http/errors';
import { systemClock, type Clock } from '../core/runtime/clock';
import { errorStatus, shortStatusText, statusView, type StatusKind, type StatusView } from '../core/runtime/status';

export type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type Done = (err?: Error) => void;

/** A status of the runtime vocabulary's `kind` with a text given as it is (not a catalog key). */
function look(kind: StatusKind, text: string): NodeStatus {
  const { fill, shape } = statusView(kind);
  return { fill, shape, text: shortStatusText(text) };
}

/**
 * A core StatusView as a Node-RED status: its text is `<type>.status.<key>` from the node's
 * message catalog, with the view's params (`__name__` in the catalog). An error status shows
 * its code untranslated; a key missing from the catalog shows as the key itself.
 */
export function toNodeStatus(RED: NodeAPI, type: string, view: StatusView | undefined): NodeStatus {
  if (!view) return {};
  // errorStatus(code): a short code such as `401` or `crc` reads the same in every language.
  if (view.key === 'error' && view.params?.code !== undefined) return look('error', String(view.params.code));
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
        node.status(look('error', errorCode(error)));
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
        node.status({});
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
 * Reads a node's settings at deploy. A bad one (a CONFIG error naming the field) is reported once
 * with a red "config" status, and every message the node then receives fails with the same error,
 * so a Catch node says why; the node does nothing else. Returns undefined in that case.
 */
export function readSettingsAtDeploy<T>(RED: NodeAPI, node: Node, read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    node.status(toNodeStatus(RED, node.type, errorStatus('config')));
    reportError(node, error);
    onInput(node, () => Promise.reject(error));
    return undefined;
  }
}
