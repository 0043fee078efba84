/**
 * The node status for a delivery state, e.g. "queued 12 · 503" or "paused · 403 · 12". Words are
 * passed in so the adapter can hand over translated ones; numbers and codes stay as they are.
 */
import type { DeliveryState } from './delivery';

export interface StatusWords {
  ready: string;
  sending: string;
  queued: string;
  paused: string;
  delivered: string;
  dropped: string;
  rejected: string;
}

export const ENGLISH_STATUS_WORDS: StatusWords = {
  ready: 'ready',
  sending: 'sending',
  queued: 'queued',
  paused: 'paused',
  delivered: 'delivered',
  dropped: 'dropped',
  rejected: 'rejected',
};

export interface DeliveryStatus {
  fill: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape: 'ring' | 'dot';
  text: string;
}

/** Local wall-clock time of a moment, HH:MM:SS. */
function clockTime(ms: number): string {
  const date = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function deliveryStatus(state: DeliveryState, words: StatusWords = ENGLISH_STATUS_WORDS): DeliveryStatus {
  const dropped = state.dropped > 0 ? ` · ${words.dropped} ${state.dropped}` : '';
  const code = state.lastError?.statusText;
  if (state.phase === 'paused') {
    return { fill: 'red', shape: 'ring', text: `${words.paused} · ${code ?? '?'} · ${state.queued}${dropped}` };
  }
  if (state.phase === 'backoff') {
    return { fill: 'yellow', shape: 'ring', text: `${words.queued} ${state.queued}${code ? ` · ${code}` : ''}${dropped}` };
  }
  // One item in flight while the server answers is the normal state: no need to flash "sending 1".
  if (state.queued > 1 || (state.queued === 1 && state.lastDeliveredAt === undefined)) {
    return { fill: dropped ? 'yellow' : 'blue', shape: dropped ? 'ring' : 'dot', text: `${words.sending} ${state.queued}${dropped}` };
  }
  if (state.lastError?.action === 'reject') {
    return { fill: 'red', shape: 'ring', text: `${words.rejected} · ${code}${dropped}` };
  }
  if (state.lastDeliveredAt !== undefined) {
    return { fill: dropped ? 'yellow' : 'green', shape: dropped ? 'ring' : 'dot', text: `${words.delivered} ${clockTime(state.lastDeliveredAt)}${dropped}` };
  }
  return { fill: dropped ? 'yellow' : 'green', shape: dropped ? 'ring' : 'dot', text: `${words.ready}${dropped}` };
}
