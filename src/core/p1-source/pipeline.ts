/**
 * From raw bytes to what the node sends: frame, parse (CRC, decryption), rate-limit, count.
 * Kept apart from the node so the rules (invalid telegrams are errors, never data; a rate-limited
 * telegram is skipped, not an error) are tested without Node-RED.
 */
import { decryptFrame, isDsmrError, isEncryptedFrame, parseTelegram, TelegramFramer, DsmrError, type FramerEvent, type ParsedTelegram, type ParseOptions } from '../dsmr';

export interface PipelineOptions {
  maxTelegramBytes?: number;
  parse?: ParseOptions;
  /** At most one telegram per this many milliseconds reaches the output; 0 = all. */
  rateLimitMs?: number;
  now?: () => number;
}

export type PipelineOutcome =
  /** `text` is the telegram as text bytes: `raw` itself, or the plaintext of an encrypted frame. */
  | { type: 'telegram'; raw: Buffer; text: Buffer; telegram: ParsedTelegram }
  /** `framed`: the bytes were a whole telegram (it failed CRC, decryption or parsing) rather than a cut-off or noise. */
  | { type: 'invalid'; raw: Buffer; error: DsmrError; framed: boolean }
  | { type: 'skipped'; raw: Buffer };

export interface PipelineCounts {
  telegrams: number;
  invalid: number;
  skipped: number;
}

/** Whole telegrams among the outcomes, valid or not: the meter's sign of life. */
export function framedTelegrams(outcomes: readonly PipelineOutcome[]): number {
  return outcomes.filter((outcome) => outcome.type !== 'invalid' || outcome.framed).length;
}

export class TelegramPipeline {
  readonly counts: PipelineCounts = { telegrams: 0, invalid: 0, skipped: 0 };
  private readonly framer: TelegramFramer;
  private readonly now: () => number;
  private lastSentAt: number | undefined;

  constructor(private readonly options: PipelineOptions = {}) {
    this.framer = new TelegramFramer({ maxTelegramBytes: options.maxTelegramBytes, encrypted: options.parse?.decryptionKey !== undefined });
    this.now = options.now ?? Date.now;
  }

  push(chunk: Buffer): PipelineOutcome[] {
    return this.framer.push(chunk).map((event) => this.outcome(event));
  }

  /**
   * The connection went away (`why`, e.g. "the serial port was unplugged"): a telegram cut off
   * by it will never get its tail, so it is reported as INCOMPLETE with the bytes that arrived,
   * never dropped silently. A telegram that lacked only its final line end is still delivered.
   */
  flush(why: string): PipelineOutcome[] {
    return this.framer.flush().map((event) => {
      if (event.type === 'error' && event.error.code === 'INCOMPLETE') {
        const error = new DsmrError('INCOMPLETE', `A telegram was cut off after ${event.raw.length} bytes because ${why}; it was not sent.`, event.raw);
        return this.outcome({ ...event, error });
      }
      return this.outcome(event);
    });
  }

  /** Forgets a partial telegram without reporting it (the node is being closed). */
  reset(): void {
    this.framer.reset();
  }

  private outcome(event: FramerEvent): PipelineOutcome {
    if (event.type === 'error') {
      this.counts.invalid += 1;
      return { type: 'invalid', raw: event.raw, error: event.error, framed: false };
    }
    let telegram: ParsedTelegram;
    let text = event.raw;
    try {
      telegram = parseTelegram(event.raw, this.options.parse);
      // Downstream (DSMR-reader's datalogger API) needs the telegram text, not the cipher frame.
      if (telegram.decrypted && isEncryptedFrame(event.raw)) text = decryptFrame(event.raw, this.options.parse ?? {});
    } catch (error) {
      this.counts.invalid += 1;
      const invalid = isDsmrError(error) ? error : new DsmrError('MALFORMED', `The telegram could not be read: ${String(error)}`, event.raw);
      return { type: 'invalid', raw: event.raw, error: invalid, framed: true };
    }
    const now = this.now();
    const rateLimitMs = this.options.rateLimitMs ?? 0;
    if (rateLimitMs > 0 && this.lastSentAt !== undefined && now - this.lastSentAt < rateLimitMs) {
      this.counts.skipped += 1;
      return { type: 'skipped', raw: event.raw };
    }
    this.lastSentAt = now;
    this.counts.telegrams += 1;
    return { type: 'telegram', raw: event.raw, text, telegram };
  }
}

/** Net power for the status line: `1.234 kW`, negative while returning to the grid. */
export function formatPower(telegram: ParsedTelegram): string | undefined {
  const { currentDelivered, currentReturned } = telegram.electricity;
  if (currentDelivered === undefined && currentReturned === undefined) return undefined;
  const net = (currentDelivered ?? 0) - (currentReturned ?? 0);
  return `${net.toFixed(3)} kW`;
}
