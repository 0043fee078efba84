/**
 * Decides, for the serial `auto` mode, whether the bytes read at one speed are real telegrams.
 * At a wrong speed or framing the line yields garbage or telegrams whose CRC fails (reading 7E1
 * as 8N1 sets the top bit of half the characters), so "one telegram parses with its CRC checked"
 * is a reliable sign the setting is right.
 */
import { parseTelegram, TelegramFramer, type ParseOptions } from '../dsmr';

/**
 * Watches the bytes of one `auto` attempt. Returns the bytes from the first valid telegram on
 * (so that telegram is not lost) once one verifies, otherwise `undefined`.
 */
export interface BaudDetector {
  push(chunk: Buffer): Buffer | undefined;
}

export interface DetectorOptions {
  maxTelegramBytes?: number;
  /** Decryption keys for Luxembourg meters; the CRC is always checked here, whatever the node's CRC mode. */
  parse?: Omit<ParseOptions, 'crc'>;
}

export function createTelegramDetector(options: DetectorOptions = {}): BaudDetector {
  const maxTelegramBytes = options.maxTelegramBytes ?? 16 * 1024;
  const framer = new TelegramFramer({ maxTelegramBytes, encrypted: options.parse?.decryptionKey !== undefined });
  // The last bytes seen, so the first valid telegram and whatever followed it can be handed on
  // unchanged once detection succeeds.
  let recent = Buffer.alloc(0);
  return {
    push(chunk: Buffer): Buffer | undefined {
      recent = Buffer.concat([recent, chunk]);
      if (recent.length > 2 * maxTelegramBytes) recent = recent.subarray(recent.length - 2 * maxTelegramBytes);
      for (const event of framer.push(chunk)) {
        if (event.type !== 'telegram') continue;
        try {
          parseTelegram(event.raw, { ...options.parse, crc: 'strict' });
        } catch {
          continue;
        }
        const start = recent.indexOf(event.raw);
        return start >= 0 ? Buffer.from(recent.subarray(start)) : event.raw;
      }
      return undefined;
    },
  };
}
