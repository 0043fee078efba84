/**
 * Turns a byte stream (serial port, TCP socket, file) cut into arbitrary chunks into whole
 * telegrams. A telegram starts at a header ('/' and a three-letter manufacturer code) and ends
 * with its CRC line: '!', up to four hex digits, then CR LF. A new header restarts the telegram,
 * so a telegram cut off by a reconnect or a noisy line is reported once (INCOMPLETE) and the
 * framer is back in step at once. A '/' not followed by three letters (inside a text message)
 * does not restart anything.
 *
 * A telegram is emitted when its CRC line ends: at its LF, or at the first byte that cannot be
 * part of it (some meters send no line end). `flush()` at the end of input also emits one whose
 * CRC line is complete but unterminated.
 *
 * Memory is bounded: at most `maxTelegramBytes` are held between two pushes. A longer telegram
 * is reported once (TOO_LARGE) and skipped up to the next header.
 *
 * Bytes outside telegrams (the tail of a telegram when joining mid-stream, gateway trailers
 * such as the EasyMeter lines after '!', line noise) are skipped and counted in
 * `stats.skippedBytes`. They become an error only when `maxTelegramBytes` of them arrive without
 * any telegram start (wrong baud rate or parity), or for every run when `reportNoise` is set.
 */
import { DsmrError } from './errors';
import { readFrameLayout } from './decrypt';

export interface FramerOptions {
  /** Largest telegram accepted, in bytes; also the most the framer ever holds. Default 16 KiB. */
  maxTelegramBytes?: number;
  /** Luxembourg Smarty: the stream carries 0xDB encrypted frames instead of text telegrams. */
  encrypted?: boolean;
  /** Report every run of skipped non-blank bytes between telegrams as a MALFORMED error. */
  reportNoise?: boolean;
}

export type FramerEvent =
  | { type: 'telegram'; raw: Buffer }
  | { type: 'error'; error: DsmrError; raw: Buffer };

export interface FramerStats {
  telegrams: number;
  errors: number;
  skippedBytes: number;
}

export const DEFAULT_MAX_TELEGRAM_BYTES = 16 * 1024;

const SLASH = 0x2f;
const BANG = 0x21;
const CR = 0x0d;
const LF = 0x0a;

const SEEK = 0; // outside a telegram, looking for a header
const BODY = 1; // inside a telegram, looking for '!'
const CRC = 2; // after '!', reading up to four hex digits
const CRC_LF = 3; // after the CR that ends the CRC line

const EMPTY = Buffer.alloc(0);

/** Whether the '/' at bytes[at] starts a header; undefined when the bytes to tell have not arrived. */
function headerAt(bytes: Buffer, at: number): boolean | undefined {
  for (let k = 1; k <= 3; k++) {
    if (at + k >= bytes.length) return undefined;
    const lower = bytes[at + k] | 0x20;
    if (lower < 97 || lower > 122) return false;
  }
  return true;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 102);
}

function isBlank(c: number): boolean {
  return c === CR || c === LF || c === 0x20 || c === 0x09 || c === 0x00 || c === 0xff;
}

function indexOfByte(bytes: Buffer, value: number, start: number, end: number): number {
  // Buffer#indexOf has no end bound: scan short windows here, long ones natively.
  if (end - start > 64) {
    const found = bytes.indexOf(value, start);
    return found >= 0 && found < end ? found : -1;
  }
  for (let i = start; i < end; i++) if (bytes[i] === value) return i;
  return -1;
}

export class TelegramFramer {
  private readonly maxBytes: number;
  private readonly encrypted: boolean;
  private readonly reportNoise: boolean;
  private state = SEEK;
  private crcDigits = 0;
  /** The unfinished telegram (or a '/' not yet known to start a header) from earlier pushes. */
  private held: Buffer = EMPTY;
  /** Where scanning resumes in `held`. */
  private scanFrom = 0;
  /** Skipped bytes of the current run, kept only with reportNoise (capped at maxBytes). */
  private noiseParts: Buffer[] = [];
  private noiseHeld = 0;
  private noiseRun = 0;
  private noiseRunReported = false;
  private noiseNonBlank = false;
  /** After TOO_LARGE: the rest of that telegram is skipped up to the next header without a second error. */
  private discarding = false;
  /** Encrypted mode: bytes not yet consumed. */
  private pending: Buffer = EMPTY;
  private readonly counters: FramerStats = { telegrams: 0, errors: 0, skippedBytes: 0 };

  constructor(options: FramerOptions = {}) {
    const max = options.maxTelegramBytes ?? DEFAULT_MAX_TELEGRAM_BYTES;
    if (!Number.isInteger(max) || max < 16) throw new RangeError('maxTelegramBytes must be an integer of at least 16');
    this.maxBytes = max;
    this.encrypted = options.encrypted === true;
    this.reportNoise = options.reportNoise === true;
  }

  /** Bytes currently held between pushes; never above maxTelegramBytes. */
  get bufferedBytes(): number {
    return this.encrypted ? this.pending.length : this.held.length + this.noiseHeld;
  }

  get maxTelegramBytes(): number {
    return this.maxBytes;
  }

  /** Counts since construction (reset() does not clear them). */
  get stats(): Readonly<FramerStats> {
    return { ...this.counters };
  }

  /** Feeds a chunk; returns the telegrams and errors it completed, in stream order. */
  push(chunk: Buffer | Uint8Array | string): FramerEvent[] {
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'latin1')
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const events: FramerEvent[] = [];
    if (bytes.length === 0) return events;
    if (this.encrypted) this.pushEncrypted(bytes, events);
    else this.pushText(bytes, events);
    return events;
  }

  /**
   * End of input (a file replayed to its end, or the line went quiet): a telegram whose CRC line
   * is complete but has no line end is emitted; a partial one is reported as INCOMPLETE.
   */
  flush(): FramerEvent[] {
    const events: FramerEvent[] = [];
    if (this.encrypted) {
      if (this.pending.length > 0) {
        this.fail(events, 'INCOMPLETE', 'An encrypted frame was cut off before its end; it was dropped.', this.pending);
        this.pending = EMPTY;
      }
      return events;
    }
    const held = this.held;
    this.held = EMPTY;
    this.scanFrom = 0;
    if (this.state === CRC || this.state === CRC_LF) this.emit(events, held);
    else if (this.state === BODY) this.incomplete(events, held);
    else if (held.length > 0) this.skip(held, 0, held.length, events);
    this.endNoiseRun(events);
    this.state = SEEK;
    return events;
  }

  /** Forgets any partial telegram (after a reconnect). */
  reset(): void {
    this.state = SEEK;
    this.held = EMPTY;
    this.scanFrom = 0;
    this.noiseParts = [];
    this.noiseHeld = 0;
    this.noiseRun = 0;
    this.noiseRunReported = false;
    this.noiseNonBlank = false;
    this.discarding = false;
    this.pending = EMPTY;
  }

  private pushText(chunk: Buffer, events: FramerEvent[]): void {
    // `bytes` is what was held from earlier pushes followed by this chunk.
    const bytes = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    const n = bytes.length;
    let i = this.held.length > 0 ? this.scanFrom : 0;
    let start = this.state === SEEK ? -1 : 0; // where the current telegram begins in `bytes`
    let keepFrom = n; // first byte to hold for the next push
    this.held = EMPTY;
    this.scanFrom = 0;
    while (i < n) {
      if (this.state === SEEK) {
        const slash = bytes.indexOf(SLASH, i);
        if (slash < 0) {
          this.skip(bytes, i, n, events);
          i = n;
          break;
        }
        if (slash > i) this.skip(bytes, i, slash, events);
        const header = headerAt(bytes, slash);
        if (header === undefined) {
          keepFrom = slash;
          i = slash;
          break;
        }
        if (!header) {
          this.skip(bytes, slash, slash + 1, events);
          i = slash + 1;
          continue;
        }
        this.endNoiseRun(events);
        this.state = BODY;
        start = slash;
        i = slash + 4;
      } else if (this.state === BODY) {
        const bang = bytes.indexOf(BANG, i);
        const limit = bang < 0 ? n : bang;
        let restart = -1;
        let undecided = -1;
        for (let slash = indexOfByte(bytes, SLASH, i, limit); slash >= 0; slash = indexOfByte(bytes, SLASH, slash + 1, limit)) {
          const header = headerAt(bytes, slash);
          if (header === undefined) {
            undecided = slash;
            break;
          }
          if (header) {
            restart = slash;
            break;
          }
        }
        if (restart >= 0) {
          // A new header before the end line: the telegram so far was cut off.
          this.incomplete(events, Buffer.from(bytes.subarray(start, restart)));
          start = restart;
          this.discarding = false;
          i = restart + 4;
          continue;
        }
        if (undecided >= 0 || bang < 0) {
          i = undecided >= 0 ? undecided : n;
          break;
        }
        this.state = CRC;
        this.crcDigits = 0;
        i = bang + 1;
      } else if (this.state === CRC) {
        const c = bytes[i];
        if (this.crcDigits < 4 && isHex(c)) {
          this.crcDigits++;
          i++;
        } else if (c === CR) {
          this.state = CRC_LF;
          i++;
        } else {
          if (c === LF) i++;
          this.emit(events, Buffer.from(bytes.subarray(start, i)));
          this.state = SEEK;
        }
      } else {
        if (bytes[i] === LF) i++;
        this.emit(events, Buffer.from(bytes.subarray(start, i)));
        this.state = SEEK;
      }
    }
    if (this.state !== SEEK) keepFrom = start;
    if (keepFrom < n) {
      if (n - keepFrom > this.maxBytes) {
        this.tooLarge(events, Buffer.from(bytes.subarray(keepFrom, keepFrom + this.maxBytes)));
        this.state = SEEK;
        return;
      }
      // A copy: the caller may reuse its chunk buffer, and a view would pin the whole chunk.
      this.held = Buffer.from(bytes.subarray(keepFrom, n));
      this.scanFrom = i - keepFrom;
    }
  }

  private emit(events: FramerEvent[], raw: Buffer): void {
    if (raw.length > this.maxBytes) {
      this.tooLarge(events, raw.subarray(0, this.maxBytes));
      return;
    }
    this.counters.telegrams++;
    events.push({ type: 'telegram', raw });
  }

  private incomplete(events: FramerEvent[], raw: Buffer): void {
    if (raw.length > this.maxBytes) {
      this.tooLarge(events, raw.subarray(0, this.maxBytes));
      return;
    }
    this.fail(events, 'INCOMPLETE', `A telegram was cut off after ${raw.length} bytes (the next one started before its end line); it was dropped.`, raw);
  }

  private tooLarge(events: FramerEvent[], raw: Buffer): void {
    this.discarding = true;
    this.fail(
      events,
      'TOO_LARGE',
      `A telegram grew beyond ${this.maxBytes} bytes without an end line; it was dropped. Check the serial settings, or raise the maximum telegram size.`,
      raw,
    );
  }

  private fail(events: FramerEvent[], code: 'INCOMPLETE' | 'TOO_LARGE' | 'MALFORMED', message: string, raw: Buffer): void {
    this.counters.errors++;
    const copy = Buffer.from(raw);
    events.push({ type: 'error', error: new DsmrError(code, message, copy), raw: copy });
  }

  private skip(bytes: Buffer, start: number, end: number, events: FramerEvent[]): void {
    const count = end - start;
    this.counters.skippedBytes += count;
    if (this.discarding) return;
    this.noiseRun += count;
    if (this.reportNoise) {
      if (!this.noiseNonBlank) {
        for (let i = start; i < end; i++) {
          if (!isBlank(bytes[i])) {
            this.noiseNonBlank = true;
            break;
          }
        }
      }
      const room = this.maxBytes - this.noiseHeld;
      if (room > 0 && !this.noiseRunReported) {
        const take = Math.min(room, count);
        this.noiseParts.push(Buffer.from(bytes.subarray(start, start + take)));
        this.noiseHeld += take;
      }
    }
    if (this.noiseRun >= this.maxBytes && !this.noiseRunReported) {
      this.noiseRunReported = true;
      const raw = this.reportNoise ? Buffer.concat(this.noiseParts) : bytes.subarray(Math.max(start, end - this.maxBytes), end);
      this.noiseParts = [];
      this.noiseHeld = 0;
      this.fail(
        events,
        'MALFORMED',
        `${this.noiseRun} bytes arrived without any telegram start ("/"). Check the baud rate and parity (DSMR 2.2/3: 9600 7E1; DSMR 4/5: 115200 8N1) or, for a Luxembourg meter, enable decryption.`,
        raw,
      );
    }
  }

  private endNoiseRun(events: FramerEvent[]): void {
    this.discarding = false;
    if (this.reportNoise && this.noiseNonBlank && !this.noiseRunReported && this.noiseHeld > 0) {
      this.fail(events, 'MALFORMED', `${this.noiseRun} bytes outside any telegram were skipped.`, Buffer.concat(this.noiseParts));
    }
    this.noiseParts = [];
    this.noiseHeld = 0;
    this.noiseRun = 0;
    this.noiseRunReported = false;
    this.noiseNonBlank = false;
  }

  private pushEncrypted(chunk: Buffer, events: FramerEvent[]): void {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    let skippedFrom = -1;
    while (at < data.length) {
      const layout = readFrameLayout(data, at);
      if (layout === null) {
        if (skippedFrom < 0) skippedFrom = at;
        const next = data.indexOf(0xdb, at + 1);
        at = next < 0 ? data.length : next;
        continue;
      }
      if (skippedFrom >= 0) {
        this.counters.skippedBytes += at - skippedFrom;
        skippedFrom = -1;
      }
      if (layout === 'short') break;
      if (layout.totalLength > this.maxBytes) {
        this.tooLarge(events, data.subarray(at, at + Math.min(this.maxBytes, data.length - at)));
        at++;
        continue;
      }
      if (data.length - at < layout.totalLength) break;
      this.emit(events, Buffer.from(data.subarray(at, at + layout.totalLength)));
      at += layout.totalLength;
    }
    if (skippedFrom >= 0) this.counters.skippedBytes += data.length - skippedFrom;
    this.pending = at < data.length ? Buffer.from(data.subarray(at)) : EMPTY;
  }
}
