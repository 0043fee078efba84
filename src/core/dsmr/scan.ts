/**
 * The scan stage: the lines between a telegram's header line and its '!' cut into OBIS references
 * and their bracketed values, as written. Nothing is interpreted here.
 */

export interface ObisLine {
  /** The reference as written, e.g. '1-0:1.8.1', '1-0:1.8.0*255'. */
  reference: string;
  /** The bracketed values without their brackets, e.g. ['001581.123*kWh']. */
  values: string[];
}

export interface ScannedTelegram {
  /** The identification line without '/', e.g. 'ISk5\2MT382-1000'. */
  header: string;
  lines: ObisLine[];
  /** Lines that are not OBIS lines, kept as written. */
  unparsed: string[];
}

const OPEN = 40; // (

/**
 * Whether a line's text before '(' can be an OBIS reference ('1-0:1.8.1', '0-0:96.1.255*255', or
 * IEC 62056-21 'C.1.0'): it starts with a letter or a digit. That also keeps out '__proto__',
 * which as a property key of `objects` would replace its prototype.
 */
function isReference(text: string, start: number, end: number): boolean {
  const c = text.charCodeAt(start);
  const lower = c | 0x20;
  return end > start && ((c >= 48 && c <= 57) || (lower >= 97 && lower <= 122));
}

/** The groups "(a)(b)(c)" from `open` to the line end; an unclosed group runs to the line end, text after the last group is ignored. */
function readGroups(text: string, open: number, lineEnd: number, into: string[]): void {
  let at = open;
  for (;;) {
    let close = text.indexOf(')', at + 1);
    if (close < 0 || close > lineEnd) close = lineEnd;
    into.push(text.slice(at + 1, close));
    at = close + 1;
    if (at >= lineEnd || text.charCodeAt(at) !== OPEN) return;
  }
}

/** Scans text[start, bang): start is the '/' of the header line, bang the '!' of the end line. */
export function scanTelegram(text: string, start: number, bang: number): ScannedTelegram {
  let headerEnd = start + 1;
  while (headerEnd < bang && text.charCodeAt(headerEnd) !== 13 && text.charCodeAt(headerEnd) !== 10) headerEnd++;
  const scanned: ScannedTelegram = { header: text.slice(start + 1, headerEnd).trimEnd(), lines: [], unparsed: [] };
  let previous: ObisLine | undefined;
  for (let pos = headerEnd; pos < bang; ) {
    let newline = text.indexOf('\n', pos);
    if (newline < 0 || newline > bang) newline = bang;
    let lineStart = pos;
    let lineEnd = newline;
    pos = newline + 1;
    while (lineEnd > lineStart && text.charCodeAt(lineEnd - 1) <= 32) lineEnd--; // CR, spaces
    while (lineStart < lineEnd && text.charCodeAt(lineStart) <= 32) lineStart++;
    if (lineStart === lineEnd) continue;
    const open = text.indexOf('(', lineStart);
    if (open >= 0 && open < lineEnd && open === lineStart && previous !== undefined) {
      // A line of values only continues the line before it (DSMR 2.2/3 gas: the reading on its own line).
      readGroups(text, open, lineEnd, previous.values);
    } else if (open >= 0 && open < lineEnd && isReference(text, lineStart, open)) {
      previous = { reference: text.slice(lineStart, open), values: [] };
      readGroups(text, open, lineEnd, previous.values);
      scanned.lines.push(previous);
    } else {
      scanned.unparsed.push(text.slice(lineStart, lineEnd));
      previous = undefined;
    }
  }
  return scanned;
}
