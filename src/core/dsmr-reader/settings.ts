/**
 * The dsmr-reader-out node's settings, checked at deploy with the runtime layer's option
 * readers: a bad value is a CONFIG error naming the field, before any file or request is opened.
 */
import { ConfigError, readChoice, readNumber } from '../runtime/options';
import type { RetryPolicy } from '../runtime/backoff';
import { API_MODES, type ApiMode } from './prepare';

export interface DsmrReaderOutSettings {
  api: ApiMode;
  queueMaxItems: number;
  queueMaxBytes: number;
  /** Backoff during outages; `maxRetries` bounds one item's repeated server errors (then: dead letter). */
  retry: RetryPolicy;
  /** How often a paused queue (wrong key, API off) checks whether the problem is gone. */
  pauseProbeMs: number;
}

/** An item that gets the same server error on this many attempts goes to the dead-letter file. */
export const DEAD_LETTER_AFTER_ATTEMPTS = 5;

/** A paused queue checks at least this seldom whether the user fixed the problem. */
const PAUSE_PROBE_MS = 5 * 60_000;

export function readDsmrReaderOutSettings(config: Record<string, unknown>): DsmrReaderOutSettings {
  const api = readChoice(config.apiVersion, 'API', API_MODES, 'v1');
  const queueMaxItems = readNumber(config.queueMaxItems, { field: 'Max. queue', min: 1, max: 10_000_000, default: 20_000, integer: true, unit: 'telegrams' });
  const queueMaxMb = readNumber(config.queueMaxMb, { field: 'Queue size', min: 0.1, max: 10_240, default: 20, unit: 'MB' });
  const baseSeconds = readNumber(config.retryBaseSeconds, { field: 'First retry', min: 0.1, max: 3600, default: 1, unit: 'seconds' });
  const maxSeconds = readNumber(config.retryMaxSeconds, { field: 'Max. wait', min: 1, max: 86_400, default: 60, unit: 'seconds' });
  if (maxSeconds < baseSeconds) {
    throw new ConfigError(`Max. wait is ${maxSeconds} seconds, shorter than First retry (${baseSeconds} seconds): enter at least ${baseSeconds}.`, 'Max. wait');
  }
  const maxDelayMs = maxSeconds * 1000;
  return {
    api,
    queueMaxItems,
    queueMaxBytes: Math.floor(queueMaxMb * 1024 * 1024),
    retry: { baseDelayMs: baseSeconds * 1000, maxDelayMs, jitter: true, maxRetries: DEAD_LETTER_AFTER_ATTEMPTS - 1, maxRetryAfterMs: Math.max(maxDelayMs, PAUSE_PROBE_MS) },
    pauseProbeMs: Math.max(PAUSE_PROBE_MS, maxDelayMs),
  };
}
