/**
 * What the node's status line shows, decided without Node-RED: the connection state first, then
 * a late telegram, then the last power value with the counts of invalid and rate-limited
 * telegrams. Looks and texts come from the runtime's one status vocabulary; the texts are the
 * catalog keys `dsmr-p1-in.status.*` (en-US, nl) with parameters, translated by the adapter.
 */
import { errorStatus, statusView, type StatusView } from '../runtime/status';
import { wallTimeAt } from '../time-zone';
import type { ConnectionState } from './connection-state';
import type { PipelineCounts } from './pipeline';
import type { SourceStateInfo } from './source';

export interface P1StatusInput {
  state: ConnectionState;
  info: SourceStateInfo;
  counts: PipelineCounts;
  /** `1.234 kW` of the last valid telegram since the connection opened. */
  lastPower?: string;
  /** The code of the last telegram when it was invalid (`crc`, `incomplete`). */
  lastInvalidCode?: string;
  /** The zone in which a late telegram's time is shown: the host's. */
  timeZone: string;
}

/** `12:03:04` in the given zone. */
export function clockTime(ms: number, timeZone: string): string {
  const wall = wallTimeAt(ms, timeZone);
  return [wall.hour, wall.minute, wall.second].map((part) => String(part).padStart(2, '0')).join(':');
}

export function p1Status(input: P1StatusInput): StatusView | undefined {
  const { state, info, counts } = input;
  switch (state) {
    case 'idle':
    case 'closing':
      return undefined;
    case 'opening':
      return info.retrying ? statusView('retrying') : statusView('connecting');
    case 'waiting-to-retry': {
      const code = (info.error as { code?: unknown } | undefined)?.code;
      return typeof code === 'string' ? errorStatus(code) : statusView('disconnected');
    }
    case 'open':
      break;
  }
  if (info.detecting) return statusView('connecting', 'detecting', { settings: info.detail ?? '' });
  if (info.lateSince !== undefined) return statusView('warning', 'late', { time: clockTime(info.lateSince, input.timeZone) });
  if (input.lastInvalidCode) return statusView('error', 'invalid', { code: input.lastInvalidCode, invalid: counts.invalid });
  // Without a power value (a heat-only meter, or no telegram yet since this connection opened).
  if (!input.lastPower) return statusView('connected');
  const params = { power: input.lastPower, invalid: counts.invalid, skipped: counts.skipped };
  const key = counts.invalid > 0 ? (counts.skipped > 0 ? 'power-invalid-skipped' : 'power-invalid') : counts.skipped > 0 ? 'power-skipped' : 'power';
  return statusView('connected', key, params);
}
