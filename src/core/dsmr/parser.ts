/**
 * parseTelegram: one P1 telegram into every OBIS line as written (`objects`) plus friendly grouped
 * fields, in three stages:
 *
 * - verify (verify.ts): decrypt a Luxembourg frame, find the last complete telegram in the input,
 *   check its CRC;
 * - scan (scan.ts): cut the lines into OBIS references and bracketed values, as written;
 * - apply (apply.ts, obis-table.ts): read each line with its table row and put the value into the
 *   friendly fields.
 *
 * A parse is a pure function of its input and options: nothing is remembered between calls.
 */
import { applyTable, guessVariant, mbusDevices } from './apply';
import { scanTelegram } from './scan';
import type { ParseOptions, ParsedTelegram } from './types';
import { verifyTelegram } from './verify';

/**
 * Parses one telegram: text, raw bytes, or (with a decryption key) an encrypted Luxembourg Smarty
 * frame. When the input holds more than one telegram (a buffer starting with the tail of the one
 * before), the last complete one is parsed and the bytes before it are counted in `skippedBytes`.
 * Throws a DsmrError (CRC_MISMATCH, INCOMPLETE, MALFORMED, DECRYPTION_FAILED).
 */
export function parseTelegram(input: string | Buffer | Uint8Array, options: ParseOptions = {}): ParsedTelegram {
  const verified = verifyTelegram(input, options);
  const { header, lines, unparsed } = scanTelegram(verified.text, verified.start, verified.bang);
  const { objects, fields } = applyTable(lines);

  const mbus = mbusDevices(fields.channels);
  const telegram: ParsedTelegram = {
    header,
    manufacturer: header.slice(0, 3),
    variant: verified.decrypted ? 'LU' : guessVariant(fields.hints, header),
    objects,
    electricity: fields.electricity,
    mbus,
    crc: verified.crc,
  };
  if (fields.version !== undefined) telegram.version = fields.version;
  if (fields.timestamp !== undefined) telegram.timestamp = fields.timestamp;
  const gas = mbus.find((device) => device.kind === 'gas');
  if (gas !== undefined) telegram.gas = gas;
  if (fields.capacity !== undefined) telegram.capacity = fields.capacity;
  if (fields.textMessage !== undefined) telegram.textMessage = fields.textMessage;
  if (unparsed.length > 0) telegram.unparsedLines = unparsed;
  if (verified.decrypted) telegram.decrypted = true;
  if (verified.start > 0) telegram.skippedBytes = verified.start;
  return telegram;
}
