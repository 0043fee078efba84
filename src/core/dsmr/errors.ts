/**
 * Every failure of the DSMR core is a DsmrError with a short `code` for a node status and a
 * sentence that tells the user what to check. The offending bytes travel along in `raw` so an
 * adapter can hand them to a Catch node; they are never part of the message text (a telegram
 * holds equipment ids, and a message text ends up in logs).
 */
export type DsmrErrorCode = 'CRC_MISMATCH' | 'INCOMPLETE' | 'MALFORMED' | 'DECRYPTION_FAILED' | 'TOO_LARGE';

export class DsmrError extends Error {
  readonly code: DsmrErrorCode;
  readonly raw?: Buffer;

  constructor(code: DsmrErrorCode, message: string, raw?: Buffer) {
    super(message);
    this.name = 'DsmrError';
    this.code = code;
    if (raw !== undefined) this.raw = raw;
  }

  /** Short text for a node status, e.g. "crc" or "incomplete". */
  get statusText(): string {
    switch (this.code) {
      case 'CRC_MISMATCH':
        return 'crc';
      case 'DECRYPTION_FAILED':
        return 'decryption';
      case 'TOO_LARGE':
        return 'too large';
      default:
        return this.code.toLowerCase();
    }
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, bytes: this.raw?.length };
  }
}

/**
 * True for a DsmrError, also one made by another copy of this module (tests load both the
 * compiled package and its sources), where `instanceof` alone would say no.
 */
export function isDsmrError(error: unknown): error is DsmrError {
  return (
    error instanceof DsmrError ||
    (error instanceof Error && error.name === 'DsmrError' && typeof (error as { code?: unknown }).code === 'string')
  );
}
