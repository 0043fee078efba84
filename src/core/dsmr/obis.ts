/**
 * Low-level readers for one bracketed value of an OBIS line: a decimal number, a unit, hex-encoded
 * text. They read a range of a string, so a value is converted without cutting it out first.
 */

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/**
 * A decimal number at text[start, end) ("004512.734", "-063", "0.48"), or NaN if the range holds
 * anything else. Digits are accumulated as an integer and divided once by a power of ten: both
 * are exact doubles, so the quotient is the correctly rounded value, the same as parseFloat.
 */
export function decimalAt(text: string, start: number, end: number): number {
  if (start >= end) return NaN;
  let i = start;
  let negative = false;
  const first = text.charCodeAt(i);
  if (first === 45 /* - */ || first === 43 /* + */) {
    negative = first === 45;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let decimals = -1;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      if (decimals >= 0) decimals++;
    } else if (c === 46 /* . */ && decimals < 0) {
      decimals = 0;
    } else {
      return NaN;
    }
  }
  if (digits === 0) return NaN;
  if (mantissa > 9007199254740991 || decimals > 22) return Number(text.slice(start, end));
  const value = decimals > 0 ? mantissa / POW10[decimals] : mantissa;
  return negative ? -value : value;
}

/** Units interned so that a telegram does not allocate a new 'kWh' string per line. */
export function readUnit(text: string, start: number, end: number): string {
  const length = end - start;
  const c0 = text.charCodeAt(start);
  if (length === 1) {
    if (c0 === 86) return 'V';
    if (c0 === 65) return 'A';
    if (c0 === 87) return 'W';
    if (c0 === 115) return 's';
  } else if (length === 2) {
    const c1 = text.charCodeAt(start + 1);
    if (c0 === 107 && c1 === 87) return 'kW';
    if (c0 === 109 && c1 === 51) return 'm3';
    if (c0 === 87 && c1 === 104) return 'Wh';
    if (c0 === 71 && c1 === 74) return 'GJ';
    if (c0 === 72 && c1 === 122) return 'Hz';
  } else if (length === 3) {
    const c1 = text.charCodeAt(start + 1);
    const c2 = text.charCodeAt(start + 2);
    if (c0 === 107 && c1 === 87 && c2 === 104) return 'kWh';
    if (c0 === 118 && c1 === 97 && c2 === 114) return 'var';
    if (c0 === 107 && c1 === 86 && c2 === 65) return 'kVA';
  }
  return text.slice(start, end);
}

function hexNibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/**
 * Equipment ids and text messages are ASCII written as hex ("4B38..." is "K8..."). Returns the
 * decoded text, or undefined when the range is not hex of printable ASCII: then the value is
 * kept as written (some meters write plain ids, such as "ADC3100000158491").
 */
export function decodeHexText(text: string, start: number, end: number, identifier = false): string | undefined {
  const length = end - start;
  if (length === 0 || length % 2 !== 0) return undefined;
  const codes = new Array<number>(length / 2);
  let n = 0;
  for (let i = start; i < end; i += 2) {
    const high = hexNibble(text.charCodeAt(i));
    const low = hexNibble(text.charCodeAt(i + 1));
    if (high < 0 || low < 0) return undefined;
    const code = high * 16 + low;
    if (code < 0x20 || code > 0x7e || (identifier && !isIdentifierChar(code))) {
      // Trailing NUL padding is common in fixed-width fields; anything else is not text.
      if (code === 0 && allZero(text, i, end)) break;
      return undefined;
    }
    codes[n++] = code;
  }
  if (n === 0) return undefined;
  codes.length = n;
  return String.fromCharCode(...codes);
}

/**
 * Ids decode to letters, digits and a few separators. Requiring that keeps ids that merely look
 * like hex ("2222222222222222") as written instead of turning them into '""'.
 */
function isIdentifierChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) ||
    code === 32 || code === 45 || code === 46 || code === 47 || code === 95
  );
}

function allZero(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (text.charCodeAt(i) !== 48) return false;
  return true;
}

/** A value in Wh/W (or MWh/MW) expressed in kWh/kW. Values without a unit or with another unit pass unchanged. */
export function toKilo(value: number, unit: string | undefined): number {
  switch (unit) {
    case 'Wh':
    case 'W':
      // 737.28 / 1000 is 0.7372799999999999 in binary; 15 significant digits give back 0.73728.
      return Number((value / 1000).toPrecision(15));
    case 'MWh':
    case 'MW':
      return Number((value * 1000).toPrecision(15));
    default:
      return value;
  }
}
