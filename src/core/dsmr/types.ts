/** The shapes the DSMR core returns. Units are as the meter wrote them unless a field says otherwise. */

export interface ParseOptions {
  /**
   * 'strict' (default): a telegram whose CRC does not match, whose CRC line is damaged, or that
   * lacks the CRC its version requires (DSMR 4+, e-MUCS, Smarty) is rejected. 'off': never checked.
   */
  crc?: 'strict' | 'off';
  /**
   * Luxembourg Smarty AES-128-GCM key (32 hex characters or 16 bytes), asked from the grid
   * operator. With a key, only encrypted and authenticated frames (security byte 0x30, tag
   * verified) are accepted; plain telegrams and 0x10/0x20 frames are DECRYPTION_FAILED.
   */
  decryptionKey?: string | Buffer;
  /**
   * Optional authentication key (32 hex characters or 16 bytes). When given, the GCM additional
   * data is 0x30 followed by this key; when omitted, the frame is tried with the standard Smarty
   * key 00112233445566778899AABBCCDDEEFF and with no additional data (both occur).
   */
  authenticationKey?: string | Buffer;
}

export interface ObisValue {
  value: number | string | null;
  unit?: string;
  timestamp?: string;
}

export interface ObisEntry {
  /** Numbers as numbers, hex text decoded to a string, lists for profile lines (see README). */
  value: number | string | null | Array<unknown>;
  unit?: string;
  /** ISO-8601 with offset. */
  timestamp?: string;
  /** Every bracketed value of a line that holds more than one. */
  values?: ObisValue[];
  /** The text as written when `value` is a decoded form of it (hex text). */
  raw?: string;
}

export type MbusKind = 'gas' | 'heat' | 'cooling' | 'water' | 'electricity' | 'other';

export interface MbusDevice {
  /** n of 0-n:24.1.0 */
  channel: number;
  /** EN 13757-3 device type: 3 gas, 4 heat, 7 water, ... */
  deviceType: number;
  kind: MbusKind;
  equipmentId?: string;
  /** ISO with offset: when the meter captured `value` (not the telegram time). */
  timestamp?: string;
  value?: number;
  unit?: string;
  /** 0-n:24.4.0 when present (1 = open). */
  valvePosition?: number;
}

export interface PhaseValues {
  /** V */
  voltage?: number;
  /** A */
  current?: number;
  /** kW */
  powerDelivered?: number;
  /** kW */
  powerReturned?: number;
}

export interface PowerFailure {
  /** ISO with offset: when power came back; as written when that is no real time (a placeholder). */
  end: string;
  durationSeconds: number;
  /**
   * True for an entry that holds no event: a placeholder time (2000-01-01 such as 000101000001W,
   * 1970-01-01, or an impossible date) or a duration of 2147483647 s or more. Kept, in the
   * meter's order, so that nothing the meter wrote is lost.
   */
  placeholder?: true;
}

export interface CapacityValue {
  value: number;
  unit: string;
}

export interface PeakHistoryEntry {
  value: number;
  unit: string;
  /** When the peak happened. */
  timestamp?: string;
  /** YYYY-MM of the peak. */
  month?: string;
  /** The row's own date as the meter wrote it (the start of the period after the month). */
  periodTimestamp?: string;
}

export interface ElectricityValues {
  equipmentId?: string;
  /** kWh. Which tariff is day/night depends on the country: see README. */
  deliveredTariff1?: number;
  deliveredTariff2?: number;
  /** Hungarian E.ON and others with four tariffs. */
  deliveredTariff3?: number;
  deliveredTariff4?: number;
  returnedTariff1?: number;
  returnedTariff2?: number;
  returnedTariff3?: number;
  returnedTariff4?: number;
  deliveredTotal?: number;
  returnedTotal?: number;
  /** kW */
  currentDelivered?: number;
  currentReturned?: number;
  tariffIndicator?: number;
  phases: { l1: PhaseValues; l2: PhaseValues; l3: PhaseValues };
  powerFailures?: number;
  longPowerFailures?: number;
  powerFailureLog?: PowerFailure[];
  voltageSags?: { l1?: number; l2?: number; l3?: number };
  voltageSwells?: { l1?: number; l2?: number; l3?: number };
}

export type DsmrVariant = 'NL' | 'BE' | 'LU' | 'SE' | 'AT' | 'DE' | 'IE' | 'HU' | 'unknown';

export interface ParsedTelegram {
  /** Identification line without '/', e.g. 'ISk5\2MT382-1000'. */
  header: string;
  /** First three characters of the header. */
  manufacturer: string;
  /** 1-3:0.2.8 (NL/LU) or 0-0:96.1.4 (BE) as written, e.g. '50'. */
  version?: string;
  variant?: DsmrVariant;
  /** 0-0:1.0.0 as ISO-8601 with offset. */
  timestamp?: string;
  /** Every OBIS line keyed by its reference as written. */
  objects: Record<string, ObisEntry>;
  electricity: ElectricityValues;
  mbus: MbusDevice[];
  gas?: MbusDevice;
  capacity?: {
    currentAverageDemand?: CapacityValue;
    monthPeak?: CapacityValue & { timestamp?: string };
    peakHistory?: PeakHistoryEntry[];
  };
  textMessage?: string;
  crc: {
    expected: string | null;
    computed: string;
    valid: boolean | null;
    /** True when the CRC only matched with each LF counted as CR LF (CRs stripped in transit). */
    lineEndingsRepaired?: boolean;
  };
  /** Lines inside the telegram that are not OBIS lines, kept as written. */
  unparsedLines?: string[];
  /** True when the telegram came out of an encrypted frame. */
  decrypted?: boolean;
  /**
   * Bytes before the telegram's '/' that were not part of it (the tail of the telegram before,
   * line noise); absent when the input starts with the telegram.
   */
  skippedBytes?: number;
}
