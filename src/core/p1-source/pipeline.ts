/**
 * From raw bytes to what the node sends: frame, parse (CRC, decryption), rate-limit, count.
 * Kept apart from the node so the rules (invalid telegrams are errors, never data; a rate-limited
 * telegram is skipped, not an error) are tested without Node-RED.
 */
import { decryptFrame, isDsmrError, isEncryptedFrame, parseTelegram, TelegramFramer, DsmrError, type ParsedTelegram, type ParseOptions } from '../dsmr';

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
  | { type: 'invalid'; raw: Buffer; error: DsmrError }
  | { type: 'skipped'; raw: Buffer };

export interface PipelineCounts {
  telegrams: number;
  invalid: number;
  skipped: number;
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
    const outcomes: PipelineOutcome[] = [];
    for (const event of this.framer.push(chunk)) {
      if (event.type === 'error') {
        this.counts.invalid += 1;
        outcomes.push({ type: 'invalid', raw: event.raw, error: event.error });
        continue;
      }
      let telegram: ParsedTelegram;
      let text = event.raw;
      try {
        telegram = parseTelegram(event.raw, this.options.parse);
        // Downstream (DSMR-reader's datalogger API) needs the telegram text, not the cipher frame.
        if (telegram.decrypted && isEncryptedFrame(event.raw)) text = decryptFrame(event.raw, this.options.parse ?? {});
      } catch (error) {
        this.counts.invalid += 1;
        outcomes.push({ type: 'invalid', raw: event.raw, error: isDsmrError(error) ? error : new DsmrError('MALFORMED', `The telegram could not be read: ${String(error)}`, event.raw) });
        continue;
      }
      const now = this.now();
      const rateLimitMs = this.options.rateLimitMs ?? 0;
      if (rateLimitMs > 0 && this.lastSentAt !== undefined && now - this.lastSentAt < rateLimitMs) {
        this.counts.skipped += 1;
        outcomes.push({ type: 'skipped', raw: event.raw });
        continue;
      }
      this.lastSentAt = now;
      this.counts.telegrams += 1;
      outcomes.push({ type: 'telegram', raw: event.raw, text, telegram });
    }
    return outcomes;
  }

  /** Forgets a partial telegram after a reconnect: its tail will never come. */
  reset(): void {
    this.framer.reset();
  }
}

/** Net power for the status line: `1.234 kW`, negative while returning to the grid. */
export function formatPower(telegram: ParsedTelegram): string | undefined {
  const { currentDelivered, currentReturned } = telegram.electricity;
  if (currentDelivered === undefined && currentReturned === undefined) return undefined;
  const net = (currentDelivered ?? 0) - (currentReturned ?? 0);
  return `${net.toFixed(3)} kW`;
}
