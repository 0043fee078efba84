/**
 * Errors of the DSMR-reader output. Refusals (a telegram DSMR-reader cannot store) are raised
 * before anything is sent; delivery errors carry DSMR-reader's own hint text and the action the
 * queue took, so the node can tell the user both what happened and what to do.
 */
export type DsmrReaderErrorCode =
  /** The message holds no telegram or reading the node can use. */
  | 'NO_TELEGRAM'
  /** Not a DSMR telegram (no '/' header, no '!' line, two telegrams glued together…). */
  | 'MALFORMED'
  /** The telegram's own CRC does not match its content: it was damaged on the way. */
  | 'CRC_MISMATCH'
  /** Characters outside ASCII, which DSMR telegrams never contain. */
  | 'NOT_ASCII'
  /** A valid telegram that DSMR-reader cannot store in this API mode. */
  | 'NOT_STORABLE'
  /** A value outside what DSMR-reader's database fields hold. */
  | 'OUT_OF_RANGE'
  /** DSMR-reader answered and the queue acted on it (see `action`). */
  | 'DELIVERY';

/** What the queue does about a failed delivery. */
export type DeliveryAction = 'retry' | 'pause' | 'reject' | 'stop';

export interface DsmrReaderErrorDetails {
  code: DsmrReaderErrorCode;
  status?: number;
  serviceMessage?: string;
  action?: DeliveryAction;
  statusText?: string;
  maybeStored?: boolean;
  failureKey?: string;
  retryAfterMs?: number;
  cause?: unknown;
}

export class DsmrReaderError extends Error {
  readonly code: DsmrReaderErrorCode;
  /** HTTP status when DSMR-reader answered. */
  readonly status?: number;
  /** DSMR-reader's own text (e.g. "Invalid auth key"), already free of secrets. */
  readonly serviceMessage?: string;
  readonly action?: DeliveryAction;
  /** Short text for the node status: '403', 'timeout', 'crc'. */
  readonly statusText: string;
  /** The request may have reached the server and been stored (a timeout, a cut connection, a 5xx). */
  readonly maybeStored: boolean;
  /**
   * Set for a server answer that may belong to the item rather than the server (a 5xx with its
   * text): the same key attempt after attempt sends the item to the dead-letter file.
   */
  readonly failureKey?: string;
  /** How long the server asked to wait (Retry-After), in ms. */
  readonly retryAfterMs?: number;

  constructor(message: string, details: DsmrReaderErrorDetails) {
    super(message, { cause: details.cause });
    this.name = 'DsmrReaderError';
    this.code = details.code;
    this.status = details.status;
    this.serviceMessage = details.serviceMessage;
    this.action = details.action;
    this.statusText = details.statusText ?? (details.status ? String(details.status) : details.code.toLowerCase().replace(/_/g, ' '));
    this.maybeStored = details.maybeStored ?? false;
    this.failureKey = details.failureKey;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** Duck-typed, because tests load both the compiled package and its sources. */
export function isDsmrReaderError(error: unknown): error is DsmrReaderError {
  return error instanceof DsmrReaderError || (error instanceof Error && error.name === 'DsmrReaderError' && typeof (error as { code?: unknown }).code === 'string');
}
