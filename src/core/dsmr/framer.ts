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
 * Each byte is looked at once: the framer is a state machine that resumes where the last chunk
 * ended, and keeps the unfinished telegram as a list of pieces that are joined once, when it is
 * emitted. Memory is bounded: at most `maxTelegramBytes` (16 KiB by default, 64 KiB at most) are
 * held between two pushes. A longer telegram is reported once (TOO_LARGE) and skipped up to the
 * next header.
 *
 * Bytes outside telegrams (the tail of a telegram when joining mid-stream, gateway trailers
 * such as the EasyMeter lines after '!', line noise) are skipped and counted in
 * `stats.skippedBytes`. They become an error only when `maxTelegramBytes` of them arrive without
 * any telegram start (wrong baud rate or parity), or for every run when `reportNoise` is set.
 */
import { DsmrError } from './errors';
import { readFrameLayout } from './decrypt';

export interface FramerOptions {
  /** Largest telegram accepted, in bytes (16 to 65536); also the most the framer ever holds. Default 16 KiB. */
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
/** The largest maxTelegramBytes accepted: far above any real telegram (DSMR 5 with four M-Bus devices is ~2 KiB). */
export const MAX_TELEGRAM_BYTES = 64 * 1024;
const MIN_TELEGRAM_BYTES = 16;

const SLASH = 0x2f;
const BANG = 0x21;
const CR = 0x0d;
const LF = 0x0a;

const enum State {
  /** Outside a telegram, looking for '/'. */
  Seek,
  /** After '/', reading the three letters of the manufacturer code. */
  Header,
  /** Inside a telegram, looking for '!' (or for a '/' that may start a new header). */
  Body,
  /** Inside a telegram after a '/', reading up to three letters: a new header restarts the telegram. */
  BodySlash,
  /** After '!', reading up to four hex digits. */
  Crc,
  /** After the CR that ends the CRC line. */
  CrcLf,
}

function isLetter(c: number): boolean {
  const lower = c | 0x20;
  return lower >= 97 && lower <= 122;
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

function toBuffer(chunk: Buffer | Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'latin1');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export class TelegramFramer {
  private readonly maxBytes: number;
  private readonly encrypted: boolean;
  private readonly reportNoise: boolean;
  private state = State.Seek;
  /** Letters of a header seen so far (Header, BodySlash) or hex digits of the CRC (Crc). */
  private count = 0;
  /** Pieces (copies) of the unfinished telegram from earlier pushes, and their total length. */
  private parts: Buffer[] = [];
  private held = 0;
  /** Where the current telegram's bytes begin in the chunk being pushed. */
  private chunkStart = 0;
  /** BodySlash: the offset of the '/' in the current telegram. */
  private slashAt = 0;
  /** The next '!' in the chunk being pushed: -1 none, -2 not searched yet (so no byte is searched twice). */
  private nextBang = -2;
  /** Skipped bytes of the current run, kept only with reportNoise (capped at maxBytes). */
  private noiseParts: Buffer[] = [];
  private noiseHeld = 0;
  private noiseRun = 0;
  private noiseRunReported = false;
  private noiseNonBlank = false;
  /** After TOO_LARGE: the rest of that telegram is skipped up to the next header without a second error. */
  private discarding = false;
  /** Encrypted mode: the start of a frame (copied pieces), and how many bytes to wait for before looking again. */
  private frameParts: Buffer[] = [];
  private frameHeld = 0;
  private frameNeeded = 0;
  private readonly counters: FramerStats = { telegrams: 0, errors: 0, skippedBytes: 0 };

  constructor(options: FramerOptions = {}) {
    const max = options.maxTelegramBytes ?? DEFAULT_MAX_TELEGRAM_BYTES;
    if (!Number.isInteger(max) || max < MIN_TELEGRAM_BYTES || max > MAX_TELEGRAM_BYTES) {
      throw new RangeError(`maxTelegramBytes is ${String(max)}: it must be a whole number from ${MIN_TELEGRAM_BYTES} to ${MAX_TELEGRAM_BYTES} (64 KiB).`);
    }
    this.maxBytes = max;
    this.encrypted = options.encrypted === true;
    this.reportNoise = options.reportNoise === true;
  }

  /** Bytes currently held between pushes; never above maxTelegramBytes. */
  get bufferedBytes(): number {
    return this.encrypted ? this.frameHeld : this.held + this.noiseHeld;
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
    const bytes = toBuffer(chunk);
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
      if (this.frameHeld > 0) this.fail(events, 'INCOMPLETE', 'An encrypted frame was cut off before its end; it was dropped.', Buffer.concat(this.frameParts));
      this.frameParts = [];
      this.frameHeld = 0;
      this.frameNeeded = 0;
      return events;
    }
    const held = Buffer.concat(this.parts);
    this.parts = [];
    this.held = 0;
    if (this.state === State.Crc || this.state === State.CrcLf) this.emit(events, held);
    else if (this.state === State.Body || this.state === State.BodySlash) this.incomplete(events, held);
    else if (held.length > 0) this.skip(held, 0, held.length, events);
    this.endNoiseRun(events);
    this.state = State.Seek;
    return events;
  }

  /** Forgets any partial telegram (after a reconnect). */
  reset(): void {
    this.state = State.Seek;
    this.parts = [];
    this.held = 0;
    this.noiseParts = [];
    this.noiseHeld = 0;
    this.noiseRun = 0;
    this.noiseRunReported = false;
    this.noiseNonBlank = false;
    this.discarding = false;
    this.frameParts = [];
    this.frameHeld = 0;
    this.frameNeeded = 0;
  }

  private pushText(chunk: Buffer, events: FramerEvent[]): void {
    this.chunkStart = 0;
    this.nextBang = -2;
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case State.Seek:
          i = this.seek(chunk, i, events);
          break;
        case State.Header:
          i = this.header(chunk, i, events);
          break;
        case State.Body:
          i = this.body(chunk, i);
          break;
        case State.BodySlash:
          i = this.bodySlash(chunk, i, events);
          break;
        default:
          i = this.crcLine(chunk, i, events);
      }
    }
    if (this.state !== State.Seek) this.hold(chunk, events);
  }

  private seek(chunk: Buffer, i: number, events: FramerEvent[]): number {
    const slash = chunk.indexOf(SLASH, i);
    const end = slash < 0 ? chunk.length : slash;
    if (end > i) this.skip(chunk, i, end, events);
    if (slash < 0) return chunk.length;
    this.state = State.Header;
    this.count = 0;
    this.chunkStart = slash;
    return slash + 1;
  }

  private header(chunk: Buffer, i: number, events: FramerEvent[]): number {
    if (!isLetter(chunk[i])) {
      // Not a header: the '/' and the letters after it were noise; look at this byte afresh.
      for (const part of this.parts) this.skip(part, 0, part.length, events);
      this.skip(chunk, this.chunkStart, i, events);
      this.parts = [];
      this.held = 0;
      this.state = State.Seek;
      return i;
    }
    if (++this.count === 3) {
      this.endNoiseRun(events);
      this.state = State.Body;
    }
    return i + 1;
  }

  private body(chunk: Buffer, i: number): number {
    if (this.nextBang === -2 || (this.nextBang >= 0 && this.nextBang < i)) this.nextBang = chunk.indexOf(BANG, i);
    const bang = this.nextBang;
    const slash = indexOfByte(chunk, SLASH, i, bang < 0 ? chunk.length : bang);
    if (slash >= 0) {
      this.state = State.BodySlash;
      this.count = 0;
      this.slashAt = this.held + slash - this.chunkStart;
      return slash + 1;
    }
    if (bang < 0) return chunk.length;
    this.state = State.Crc;
    this.count = 0;
    return bang + 1;
  }

  private bodySlash(chunk: Buffer, i: number, events: FramerEvent[]): number {
    if (!isLetter(chunk[i])) {
      this.state = State.Body; // a '/' inside a value
      return i;
    }
    if (++this.count < 3) return i + 1;
    // A new header before the end line: the telegram so far was cut off.
    if (this.slashAt >= this.held) {
      const slash = this.chunkStart + this.slashAt - this.held;
      this.incomplete(events, Buffer.concat([...this.parts, chunk.subarray(this.chunkStart, slash)]));
      this.parts = [];
      this.held = 0;
      this.chunkStart = slash;
    } else {
      const held = Buffer.concat(this.parts);
      this.incomplete(events, held.subarray(0, this.slashAt));
      this.parts = [held.subarray(this.slashAt)];
      this.held = held.length - this.slashAt;
    }
    this.discarding = false;
    this.state = State.Body;
    return i + 1;
  }

  private crcLine(chunk: Buffer, i: number, events: FramerEvent[]): number {
    const c = chunk[i];
    if (this.state === State.Crc && this.count < 4 && isHex(c)) {
      this.count++;
      return i + 1;
    }
    if (this.state === State.Crc && c === CR) {
      this.state = State.CrcLf;
      return i + 1;
    }
    // The CRC line ends here: at its LF, or before the first byte that cannot belong to it.
    const end = c === LF ? i + 1 : i;
    this.emit(events, Buffer.concat([...this.parts, chunk.subarray(this.chunkStart, end)]));
    this.parts = [];
    this.held = 0;
    this.state = State.Seek;
    return end;
  }

  /** Keeps a copy of the unfinished telegram's bytes of this chunk (the caller may reuse its buffer). */
  private hold(chunk: Buffer, events: FramerEvent[]): void {
    const piece = chunk.subarray(this.chunkStart);
    if (this.held + piece.length > this.maxBytes) {
      const raw = Buffer.concat([...this.parts, piece.subarray(0, this.maxBytes - this.held)]);
      this.parts = [];
      this.held = 0;
      this.state = State.Seek;
      this.tooLarge(events, raw);
      return;
    }
    this.parts.push(Buffer.from(piece));
    this.held += piece.length;
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
    if (count <= 0) return;
    this.counters.skippedBytes += count;
    if (this.discarding) return;
    this.noiseRun += count;
    if (this.reportNoise) this.keepNoise(bytes, start, end);
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

  private keepNoise(bytes: Buffer, start: number, end: number): void {
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
      const take = Math.min(room, end - start);
      this.noiseParts.push(Buffer.from(bytes.subarray(start, start + take)));
      this.noiseHeld += take;
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
    if (this.frameHeld + chunk.length < this.frameNeeded) {
      // Still short of the frame's length: keep a copy, join nothing yet.
      this.frameParts.push(Buffer.from(chunk));
      this.frameHeld += chunk.length;
      return;
    }
    const data = this.frameParts.length > 0 ? Buffer.concat([...this.frameParts, chunk]) : chunk;
    this.frameParts = [];
    this.frameHeld = 0;
    this.frameNeeded = 0;
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
      if (layout === 'short') {
        this.frameNeeded = data.length - at + 1;
        break;
      }
      if (layout.totalLength > this.maxBytes) {
        this.tooLarge(events, data.subarray(at, at + Math.min(this.maxBytes, data.length - at)));
        at++;
        continue;
      }
      if (data.length - at < layout.totalLength) {
        this.frameNeeded = layout.totalLength;
        break;
      }
      this.emit(events, Buffer.from(data.subarray(at, at + layout.totalLength)));
      at += layout.totalLength;
    }
    if (skippedFrom >= 0) this.counters.skippedBytes += data.length - skippedFrom;
    if (at < data.length) {
      this.frameParts = [Buffer.from(data.subarray(at))];
      this.frameHeld = data.length - at;
    }
  }
}
