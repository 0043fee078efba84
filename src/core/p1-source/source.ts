import type { ConnectionState } from './connection-state';

/** What a source tells about itself besides the bare state, for the node's status line. */
export interface SourceStateInfo {
  /** Why the connection is down (set with `waiting-to-retry`). */
  error?: Error;
  /** Human-readable line settings in use, e.g. `115200 8N1`, `192.168.1.20:23`. */
  detail?: string;
  /** True while an `auto` serial port is still looking for the right speed. */
  detecting?: boolean;
  /** The next attempt happens after this many milliseconds (set with `waiting-to-retry`). */
  retryInMs?: number;
  /** True once a previous attempt failed, so `opening` is a retry. */
  retrying?: boolean;
  /**
   * Set while the connection is open but the meter's next telegram is overdue: when the last
   * telegram arrived (ms since the epoch), so the status can say so before the line is reopened.
   */
  lateSince?: number;
}

/** Callbacks a source calls; none of them may throw back into the source. */
export interface SourceListener {
  /**
   * Raw bytes as they arrived; whole telegrams are made by the framer downstream. Returns how
   * many complete telegrams (valid or not) these bytes finished, so the source learns how often
   * the meter sends and notices a silent line within a few of its intervals.
   */
  onData(chunk: Buffer): number | void;
  onState(state: ConnectionState, info: SourceStateInfo): void;
  /** A problem worth telling the user. Each distinct text is reported once until data flows again. */
  onProblem(error: Error): void;
  /** Something odd but harmless (e.g. two nodes asking one port for different speeds). */
  onWarning?(text: string): void;
}

/** A running source of P1 bytes. */
export interface P1Source {
  readonly state: ConnectionState;
  /** Releases the port/socket/timers; resolves once they are really released. */
  close(): Promise<void>;
}

/** An error of a P1 source with a short code for the node status. */
export class SourceError extends Error {
  readonly code: string;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SourceError';
    this.code = code;
  }
}

/**
 * Reports each distinct problem text once, until `reset()` (called when data flows again), so a
 * port that stays unplugged does not fill the log with the same line every few seconds.
 */
export class ProblemReporter {
  private readonly seen = new Set<string>();

  constructor(private readonly report: (error: Error) => void) {}

  problem(error: Error): void {
    if (this.seen.has(error.message)) return;
    this.seen.add(error.message);
    this.report(error);
  }

  reset(): void {
    this.seen.clear();
  }
}

/** Calls a listener method without letting its failure escape into a timer or event handler. */
export function safely(action: () => void): void {
  try {
    action();
  } catch {
    // A listener's own bug must never stop the connection; the adapter reports its own errors.
  }
}
