/**
 * Telegrams for the DSMR-reader tests, composed (invented values) after the examples in
 * docs/service-contracts.md §5.9. `withCrc` joins lines with CR LF and appends the CRC computed by
 * the fake server's independent reference implementation.
 */
import { referenceCrc16 } from './fakes/dsmr-reader';

export function hex4(crc: number): string {
  return crc.toString(16).toUpperCase().padStart(4, '0');
}

/** Lines from '/' up to (not including) '!' → a complete telegram with a correct CRC. */
export function withCrc(lines: string[]): string {
  const body = `${lines.join('\r\n')}\r\n!`;
  return `${body}${hex4(referenceCrc16(body))}\r\n`;
}

/** A. DSMR 5.0 NL, three phases, gas on channel 1, water on channel 2 (documented CRC 5644). */
export const DSMR5_LINES = [
  '/XMX5DEMO\\2X000-5000',
  '',
  '1-3:0.2.8(50)',
  '0-0:1.0.0(240315101530W)',
  '0-0:96.1.1(4E4C30303031323334353637383930)',
  '1-0:1.8.1(004512.734*kWh)',
  '1-0:1.8.2(003987.120*kWh)',
  '1-0:2.8.1(000812.005*kWh)',
  '1-0:2.8.2(001930.448*kWh)',
  '0-0:96.14.0(0002)',
  '1-0:1.7.0(01.284*kW)',
  '1-0:2.7.0(00.000*kW)',
  '0-0:96.7.21(00004)',
  '0-0:96.7.9(00001)',
  '1-0:99.97.0(1)(0-0:96.7.19)(231102083012W)(0000000431*s)',
  '1-0:32.32.0(00002)',
  '1-0:52.32.0(00001)',
  '1-0:72.32.0(00001)',
  '1-0:32.36.0(00000)',
  '1-0:52.36.0(00000)',
  '1-0:72.36.0(00000)',
  '0-0:96.13.0()',
  '1-0:32.7.0(231.4*V)',
  '1-0:52.7.0(229.8*V)',
  '1-0:72.7.0(232.1*V)',
  '1-0:31.7.0(003*A)',
  '1-0:51.7.0(001*A)',
  '1-0:71.7.0(002*A)',
  '1-0:21.7.0(00.655*kW)',
  '1-0:41.7.0(00.211*kW)',
  '1-0:61.7.0(00.418*kW)',
  '1-0:22.7.0(00.000*kW)',
  '1-0:42.7.0(00.000*kW)',
  '1-0:62.7.0(00.000*kW)',
  '0-1:24.1.0(003)',
  '0-1:96.1.0(4E4C47415330303030303030303031)',
  '0-1:24.2.1(240315101500W)(02871.352*m3)',
  '0-2:24.1.0(007)',
  '0-2:96.1.0(4E4C57415430303030303030303032)',
  '0-2:24.2.1(240315101000W)(00412.077*m3)',
];
export const DSMR5 = withCrc(DSMR5_LINES);

/** C. Belgium (Fluvius), peak demand, uncorrected gas 24.2.3 (documented CRC 5E0D). */
export const BELGIAN_LINES = [
  '/FLU5\\253700000_A',
  '',
  '0-0:96.1.4(50217)',
  '0-0:96.1.1(3153414730303030303030303031)',
  '0-0:1.0.0(240110073012W)',
  '1-0:1.8.1(002310.551*kWh)',
  '1-0:1.8.2(003021.007*kWh)',
  '1-0:2.8.1(000455.230*kWh)',
  '1-0:2.8.2(000120.984*kWh)',
  '0-0:96.14.0(0001)',
  '1-0:1.4.0(01.912*kW)',
  '1-0:1.6.0(240105181500W)(04.733*kW)',
  '0-0:98.1.0(2)(1-0:1.6.0)(1-0:1.6.0)(231201000000W)(231218191500W)(05.102*kW)(240101000000W)(231227173000W)(04.987*kW)',
  '1-0:1.7.0(02.034*kW)',
  '1-0:2.7.0(00.000*kW)',
  '1-0:21.7.0(02.034*kW)',
  '1-0:22.7.0(00.000*kW)',
  '1-0:32.7.0(233.2*V)',
  '1-0:31.7.0(009.14*A)',
  '0-0:96.3.10(1)',
  '0-0:17.0.0(999.9*kW)',
  '1-0:31.4.0(999*A)',
  '0-0:96.13.0()',
  '0-1:24.1.0(003)',
  '0-1:96.1.1(37464C4F30303030303030303031)',
  '0-1:24.4.0(1)',
  '0-1:24.2.3(240110072500W)(04120.377*m3)',
];
export const BELGIAN = withCrc(BELGIAN_LINES);

/** D. DSMR 2.2 NL: no timestamp, no CRC, two-line gas object. */
export const DSMR22 = [
  '/XMX5DEMO2-2',
  '',
  '0-0:96.1.1(12345678901234)',
  '1-0:1.8.1(00812.330*kWh)',
  '1-0:1.8.2(00904.118*kWh)',
  '1-0:2.8.1(00000.000*kWh)',
  '1-0:2.8.2(00000.000*kWh)',
  '0-0:96.14.0(0002)',
  '1-0:1.7.0(0000.41*kW)',
  '1-0:2.7.0(0000.00*kW)',
  '0-0:17.0.0(0999.00*kW)',
  '0-0:96.3.10(1)',
  '0-0:96.13.1()',
  '0-0:96.13.0()',
  '0-1:24.1.0(3)',
  '0-1:96.1.0(123456789012)',
  '0-1:24.3.0(240202130000)(00)(60)(1)(0-1:24.2.1)(m3)',
  '(01277.350)',
  '0-1:24.4.0(1)',
  '!',
  '',
].join('\r\n');

/** A Nordic (Swedish-style) telegram: only totals 1.8.0/2.8.0, no tariff registers. */
export const NORDIC_LINES = [
  '/ELL5\\253833635_A',
  '',
  '0-0:1.0.0(240315101530W)',
  '1-0:1.8.0(00006678.394*kWh)',
  '1-0:2.8.0(00000000.000*kWh)',
  '1-0:3.8.0(00000021.988*kvarh)',
  '1-0:4.8.0(00001020.971*kvarh)',
  '1-0:1.7.0(0001.727*kW)',
  '1-0:2.7.0(0000.000*kW)',
  '1-0:21.7.0(0001.023*kW)',
  '1-0:41.7.0(0000.350*kW)',
  '1-0:61.7.0(0000.353*kW)',
  '1-0:22.7.0(0000.000*kW)',
  '1-0:42.7.0(0000.000*kW)',
  '1-0:62.7.0(0000.000*kW)',
  '1-0:32.7.0(240.3*V)',
  '1-0:52.7.0(240.1*V)',
  '1-0:72.7.0(241.3*V)',
  '1-0:31.7.0(004.2*A)',
  '1-0:51.7.0(001.6*A)',
  '1-0:71.7.0(001.7*A)',
];
export const NORDIC = withCrc(NORDIC_LINES);

/** DSMR 5 telegrams that differ only in their timestamp and meter positions: one per second. */
export function numberedTelegram(n: number, base = Date.UTC(2024, 2, 15, 9, 0, 0)): string {
  // Winter time (W) is UTC+1.
  const at = new Date(base + n * 1000 + 3600_000);
  const pad = (v: number): string => String(v).padStart(2, '0');
  const stamp = `${pad(at.getUTCFullYear() % 100)}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}W`;
  const lines = DSMR5_LINES.map((line) => {
    if (line.startsWith('0-0:1.0.0(')) return `0-0:1.0.0(${stamp})`;
    if (line.startsWith('1-0:1.8.1(')) return `1-0:1.8.1(${(4512.734 + n / 1000).toFixed(3).padStart(10, '0')}*kWh)`;
    return line;
  });
  return withCrc(lines);
}

/** Lines from '/' up to '!' → a telegram without CRC line, as DSMR 2.2/3 meters send. */
export function withoutCrc(lines: string[]): string {
  return `${lines.join('\r\n')}\r\n!\r\n`;
}

/**
 * DSMR 5 lines changed: the line starting with a key is replaced by its value (removed when the
 * value is ''), or, for a key ending in '+', the value is added after that line.
 */
export function dsmr5With(changes: Record<string, string>): string[] {
  const lines: string[] = [];
  for (const line of DSMR5_LINES) {
    const key = Object.keys(changes).find((prefix) => line.startsWith(prefix.replace(/\+$/, '')));
    if (key === undefined) lines.push(line);
    else if (key.endsWith('+')) lines.push(line, changes[key]);
    else if (changes[key] !== '') lines.push(changes[key]);
  }
  return lines;
}

/** Luxembourg-style energy in Wh: DSMR-reader's v1 stores 100000 "kWh" for the meter's 100 kWh. */
export const WH_UNITS = withCrc(
  dsmr5With({
    '1-0:1.8.1(': '1-0:1.8.1(000100000*Wh)',
    '1-0:1.8.2(': '1-0:1.8.2(000200000*Wh)',
    '1-0:2.8.1(': '1-0:2.8.1(000000000*Wh)',
    '1-0:2.8.2(': '1-0:2.8.2(000000000*Wh)',
    '1-0:1.7.0(': '1-0:1.7.0(000000734*W)',
  }),
);

/** No gas meter; a water meter (device type 007) on M-Bus channel 2, which DSMR-reader's v1 stores as gas. */
export const WATER_ONLY = withCrc(dsmr5With({ '0-1:24.1.0(': '', '0-1:96.1.0(': '', '0-1:24.2.1(': '' }));

/** A line that carries `0-0:1.0.0` before the timestamp line: DSMR-reader's v1 then stores its own receive time. */
export const CONFUSING_TIMESTAMP = withCrc(dsmr5With({ '1-3:0.2.8(+': '1-0:99.1.0(7)(0-0:1.0.0)(AB)' }));

/** A register 1-0:1.8.13 before 1-0:1.8.1: DSMR-reader's v1 stores its value as tariff 1. */
export const LONGER_REGISTER = withCrc(dsmr5With({ '0-0:96.1.1(+': '1-0:1.8.13(025605.254*kWh)' }));
