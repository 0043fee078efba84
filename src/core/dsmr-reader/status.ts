/**
 * The node status for a delivery state, in the package's one status vocabulary: a runtime
 * StatusView whose text is the catalog key `dsmr-reader-out.status.<key>` with numbers and codes
 * as parameters, so every language words it its own way. English (en-US catalog):
 *
 * | key                   | text                                        | look          |
 * |-----------------------|---------------------------------------------|---------------|
 * | ready                 | ready                                       | green dot     |
 * | delivered             | delivered 14:03:05                          | green dot     |
 * | deliveredDropped      | delivered 14:03:05 · dropped 3              | yellow ring   |
 * | sending / …Dropped    | sending 240 [· dropped 3]                   | blue dot / yellow ring |
 * | queued / …Dropped     | queued 12 · 503 [· dropped 3]               | yellow ring   |
 * | paused / …Dropped     | paused · 403 · 12 [· dropped 3]             | red ring      |
 * | deadLettered          | dead letter · 500                           | red ring      |
 * | deadLetters           | dead letters 2                              | yellow ring   |
 * | error                 | the short code of a queue-file problem      | red ring      |
 */
import { statusView, type StatusView } from '../runtime/status';
import type { DeliveryState } from './delivery';

/** Local wall-clock time of a moment, HH:MM:SS. */
function clockTime(ms: number): string {
  const date = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/**
 * `deadLetters` is the number of items waiting in the dead-letter file (they outlive restarts,
 * unlike the counters in `state`).
 */
export function deliveryStatus(state: DeliveryState, deadLetters = 0): StatusView {
  const dropped = state.dropped;
  const withDropped = dropped > 0 ? 'Dropped' : '';
  // Not `code`: an error-kind view with a `code` shows only that code (node-kit toNodeStatus).
  const reason = state.lastError?.statusText ?? '?';
  const queued = state.queued;
  if (state.phase === 'paused') return statusView('error', `paused${withDropped}`, { reason, queued, dropped });
  if (state.phase === 'backoff') return statusView('retrying', `queued${withDropped}`, { reason, queued, dropped });
  // One item in flight while the server answers is the normal state: no need to flash "sending 1".
  if (queued > 1 || (queued === 1 && state.lastDeliveredAt === undefined)) {
    return statusView(dropped > 0 ? 'warning' : 'working', `sending${withDropped}`, { queued, dropped });
  }
  // An item went to the dead-letter file and nothing was delivered since: the user should look.
  if (state.lastError && state.deadLettered > 0) return statusView('error', 'deadLettered', { reason });
  if (deadLetters > 0) return statusView('warning', 'deadLetters', { dead: deadLetters });
  if (state.lastDeliveredAt !== undefined) {
    return statusView(dropped > 0 ? 'warning' : 'success', `delivered${withDropped}`, { time: clockTime(state.lastDeliveredAt), dropped });
  }
  return statusView('success', 'ready');
}
