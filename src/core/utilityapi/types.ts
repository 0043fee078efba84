/**
 * The parts of UtilityAPI's v2 objects this package reads. UtilityAPI documents its objects as
 * extensible, so every type here is open: unknown attributes pass through untouched.
 */

/** `{type, msg, ts, …}`; the wording of `msg` changes over time, so code keys on `type` only. */
export interface MeterNote {
  type: string;
  msg?: string;
  ts?: string;
  [extra: string]: unknown;
}

export interface Meter {
  uid: string;
  authorization_uid?: string;
  status?: string;
  status_message?: string;
  status_ts?: string;
  is_activated?: boolean;
  notes?: MeterNote[];
  utility?: string;
  interval_count?: number;
  bill_count?: number;
  [extra: string]: unknown;
}

/** A page of GET /meters. */
export interface MeterListing {
  meters: Meter[];
  next?: string | null;
}

/** The answer to POST /meters/historical-collection. */
export interface HistoricalCollectionResponse {
  success?: boolean;
  meters?: unknown[];
  collection_duration?: number;
}

export interface IntervalDatapoint {
  type?: string;
  unit?: string;
  value?: number | string | null;
}

export interface IntervalReading {
  start: string;
  end: string;
  kwh?: number | string | null;
  datapoints?: IntervalDatapoint[];
}

/** One Interval object: a block of readings of one meter. */
export interface IntervalBlock {
  uid?: string;
  meter_uid?: string;
  authorization_uid?: string;
  utility?: string;
  readings?: IntervalReading[];
  [extra: string]: unknown;
}

export interface IntervalListing {
  intervals: IntervalBlock[];
  next?: string | null;
}
