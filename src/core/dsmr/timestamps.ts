/**
 * P1 timestamps are the meter's local wall-clock time, YYMMDDhhmmss followed by S (summer time,
 * CEST, +02:00) or W (winter time, CET, +01:00). The flag is what makes the repeated autumn hour
 * unambiguous, so it wins over any rule. DSMR 2.2/3 capture times have no flag: for those the
 * EU rule for CET/CEST (the zone of every DSMR country) is applied: summer time from the last
 * Sunday of March 02:00 to the last Sunday of October 03:00 local time. In the repeated hour
 * (02:00-02:59 on that October Sunday) such a time is read as summer time, its first occurrence.
 */

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digitsAt(text: string, start: number, count: number): boolean {
  for (let i = start; i < start + count; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function two(text: string, at: number): number {
  return (text.charCodeAt(at) - 48) * 10 + (text.charCodeAt(at + 1) - 48);
}

/** Day of month of the last Sunday of a 31-day month (March, October). */
function lastSunday(year: number, monthIndex: number): number {
  return 31 - new Date(Date.UTC(year, monthIndex, 31)).getUTCDay();
}

/** Whether a local CET/CEST wall-clock time falls in summer time (EU rule). */
export function isCentralEuropeanSummerTime(year: number, month: number, day: number, hour: number): boolean {
  if (month < 3 || month > 10) return false;
  if (month > 3 && month < 10) return true;
  if (month === 3) {
    const march = lastSunday(year, 2);
    return day > march || (day === march && hour >= 2);
  }
  const october = lastSunday(year, 9);
  return day < october || (day === october && hour < 3);
}

/**
 * Reads YYMMDDhhmmss[S|W] at text[start, end) and returns ISO-8601 with offset, or undefined when
 * it is not a real date (placeholders such as 632525252525 or 000000000000).
 */
export function parseTimestamp(text: string, start: number, end: number): string | undefined {
  const length = end - start;
  if (length !== 12 && length !== 13) return undefined;
  if (!digitsAt(text, start, 12)) return undefined;
  const month = two(text, start + 2);
  const day = two(text, start + 4);
  const hour = two(text, start + 6);
  const minute = two(text, start + 8);
  const second = two(text, start + 10);
  if (month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1] || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  let summer: boolean;
  if (length === 13) {
    const flag = text.charCodeAt(start + 12) | 0x20; // lower-case: some meters write s/w
    if (flag === 0x73) summer = true;
    else if (flag === 0x77) summer = false;
    else return undefined;
  } else {
    summer = isCentralEuropeanSummerTime(2000 + two(text, start), month, day, hour);
  }
  const year = 2000 + two(text, start);
  if (month === 2 && day === 29 && (year % 4 !== 0 || (year % 100 === 0 && year % 400 !== 0))) return undefined;
  // One allocation for the whole ISO string instead of a dozen slices and concatenations.
  const t = text;
  const s = start;
  return String.fromCharCode(
    50, 48, t.charCodeAt(s), t.charCodeAt(s + 1), 45, t.charCodeAt(s + 2), t.charCodeAt(s + 3), 45, t.charCodeAt(s + 4), t.charCodeAt(s + 5),
    84, t.charCodeAt(s + 6), t.charCodeAt(s + 7), 58, t.charCodeAt(s + 8), t.charCodeAt(s + 9), 58, t.charCodeAt(s + 10), t.charCodeAt(s + 11),
    43, 48, summer ? 50 : 49, 58, 48, 48,
  );
}

/** True when text[start, end) has the shape of a P1 timestamp, valid or not. */
export function looksLikeTimestamp(text: string, start: number, end: number): boolean {
  const length = end - start;
  if (length === 13) {
    const flag = text.charCodeAt(start + 12) | 0x20;
    return (flag === 0x73 || flag === 0x77) && digitsAt(text, start, 12);
  }
  return false;
}

/**
 * Meters write a fixed time where they have nothing to report: 2000-01-01 (`000101…`, the meter
 * clock's origin: an empty power-failure log entry, a gas meter never read) and 1970-01-01
 * (`700101…`, the Unix epoch, which as YYMMDD would read as 2070). Impossible dates such as
 * `632525252525` are refused by parseTimestamp itself.
 */
export function isPlaceholderTime(text: string, start: number): boolean {
  const c0 = text.charCodeAt(start);
  return (c0 === 48 || c0 === 55) && text.charCodeAt(start + 1) === 48 && text.startsWith('0101', start + 2);
}

/** A time the meter really captured, as ISO-8601 with offset; undefined for placeholders and impossible dates. */
export function readCaptureTime(text: string, start = 0, end = text.length): string | undefined {
  return isPlaceholderTime(text, start) ? undefined : parseTimestamp(text, start, end);
}
