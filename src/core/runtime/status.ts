/**
 * The package's one status vocabulary. A core module says *what* state it is in (a kind and a
 * catalog key with parameters); the adapter translates the key from the node's message catalog
 * (`<node-type>.status.<key>`), so every node looks alike and `nl` works.
 *
 * | kind          | look         | used for                                   |
 * |---------------|--------------|--------------------------------------------|
 * | connecting    | yellow ring  | opening a port, socket or session          |
 * | retrying      | yellow ring  | waiting before another attempt             |
 * | connected     | green dot    | open and data flowing                      |
 * | disconnected  | red ring     | down, will reopen                          |
 * | working       | blue dot     | a request or export in progress            |
 * | success       | green dot    | finished; the text says what               |
 * | warning       | yellow ring  | works, but something needs attention       |
 * | error         | red ring     | failed; the text is a short code           |
 * | stopped       | grey ring    | deliberately not running                   |
 */
export type StatusFill = 'red' | 'green' | 'yellow' | 'blue' | 'grey';
export type StatusShape = 'ring' | 'dot';

const LOOKS = {
  connecting: { fill: 'yellow', shape: 'ring' },
  retrying: { fill: 'yellow', shape: 'ring' },
  connected: { fill: 'green', shape: 'dot' },
  disconnected: { fill: 'red', shape: 'ring' },
  working: { fill: 'blue', shape: 'dot' },
  success: { fill: 'green', shape: 'dot' },
  warning: { fill: 'yellow', shape: 'ring' },
  error: { fill: 'red', shape: 'ring' },
  stopped: { fill: 'grey', shape: 'ring' },
} as const satisfies Record<string, { fill: StatusFill; shape: StatusShape }>;

export type StatusKind = keyof typeof LOOKS;
export type StatusParams = Record<string, string | number>;

/** A status decided by the core: how it looks, and the catalog key of its text. */
export interface StatusView {
  kind: StatusKind;
  fill: StatusFill;
  shape: StatusShape;
  /** Key under `<node-type>.status.` in the node's message catalog. */
  key: string;
  params?: StatusParams;
}

export function statusView(kind: StatusKind, key: string = kind, params?: StatusParams): StatusView {
  return { kind, ...LOOKS[kind], key, ...(params ? { params } : {}) };
}

/** A red status whose text is the error's short code (`401`, `timeout`, `crc`): codes are not translated. */
export function errorStatus(code: string): StatusView {
  return statusView('error', 'error', { code });
}

/** Node-RED shows about 32 characters of a status before it crowds the canvas. */
export const MAX_STATUS_TEXT = 32;

export function shortStatusText(text: string): string {
  return text.length > MAX_STATUS_TEXT ? `${text.slice(0, MAX_STATUS_TEXT - 1)}…` : text;
}
