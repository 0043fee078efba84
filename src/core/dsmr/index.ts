/**
 * DSMR P1 core: CRC, framing, parsing and Luxembourg decryption, with no Node-RED dependency.
 * Published as `node-red-contrib-energy-export/dsmr` for programmatic use.
 */
export { DsmrError, isDsmrError } from './errors';
export type { DsmrErrorCode } from './errors';
export { crc16arc, crc16arcString, formatCrc } from './crc';
export { parseTelegram } from './parser';
export { TelegramFramer, DEFAULT_MAX_TELEGRAM_BYTES, MAX_TELEGRAM_BYTES } from './framer';
export type { FramerEvent, FramerOptions, FramerStats } from './framer';
export { decryptFrame, isEncryptedFrame, DEFAULT_SMARTY_AUTHENTICATION_KEY } from './decrypt';
export { parseTimestamp, isCentralEuropeanSummerTime } from './timestamps';
export type {
  CapacityValue,
  DsmrVariant,
  ElectricityValues,
  MbusDevice,
  MbusKind,
  ObisEntry,
  ObisValue,
  ParseOptions,
  ParsedTelegram,
  PeakHistoryEntry,
  PhaseValues,
  PowerFailure,
} from './types';
