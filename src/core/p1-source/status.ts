/**
 * What the node's status line shows, decided without Node-RED: the connection state first, then
 * the last power value with the counts of invalid and rate-limited telegrams. Texts are catalog
 * keys (`dsmr-p1-in.status.*`) with parameters; the adapter translates them.
 */
import type { ConnectionState } from './connection-state';
import type { PipelineCounts } from './pipeline';
import type { SourceStateInfo } from './source';

export interface StatusView {
  fill: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape: 'ring' | 'dot';
  key: string;
  params?: Record<string, string | number>;
}

export interface StatusInput {
  state: ConnectionState;
  info: SourceStateInfo;
  counts: PipelineCounts;
  /** `1.234 kW` of the last valid telegram since the connection opened. */
  lastPower?: string;
  /** The code of the last telegram when it was invalid (`crc`, `incomplete`). */
  lastInvalidCode?: string;
}

export function statusView(input: StatusInput): StatusView | undefined {
  const { state, info, counts } = input;
  switch (state) {
    case 'idle':
    case 'closing':
      return undefined;
    case 'opening':
      return { fill: 'yellow', shape: 'ring', key: info.retrying ? 'retrying' : 'connecting' };
    case 'waiting-to-retry': {
      const code = (info.error as { code?: unknown } | undefined)?.code;
      return typeof code === 'string' ? { fill: 'red', shape: 'ring', key: 'down', params: { code } } : { fill: 'red', shape: 'ring', key: 'not-connected' };
    }
    case 'open':
      break;
  }
  if (info.detecting) return { fill: 'yellow', shape: 'ring', key: 'detecting', params: { settings: info.detail ?? '' } };
  if (input.lastInvalidCode) return { fill: 'red', shape: 'ring', key: 'invalid', params: { code: input.lastInvalidCode, invalid: counts.invalid } };
  // Without a power value (a heat-only meter, or no telegram yet since this connection opened).
  if (!input.lastPower) return { fill: 'green', shape: 'dot', key: 'connected' };
  const params = { power: input.lastPower, invalid: counts.invalid, skipped: counts.skipped };
  const key = counts.invalid > 0 ? (counts.skipped > 0 ? 'power-invalid-skipped' : 'power-invalid') : counts.skipped > 0 ? 'power-skipped' : 'power';
  return { fill: 'green', shape: 'dot', key, params };
}
