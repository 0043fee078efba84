/**
 * The life cycle every P1 connection (serial port, TCP socket, replayed file) goes through.
 * Keeping it as data makes stale events harmless: a `close` that arrives after we decided to
 * stop, or an `open` callback for a port we already gave up on, simply has no transition.
 */
export type ConnectionState = 'idle' | 'opening' | 'open' | 'waiting-to-retry' | 'closing';

export type ConnectionEvent =
  /** A first subscriber arrived. */
  | 'start'
  /** The port/socket/file is ready. */
  | 'opened'
  /** Opening failed; try again later. */
  | 'failed'
  /** An open connection went away (unplug, socket drop, silence). */
  | 'lost'
  /** Reopen with other settings (auto baud detection) without waiting. */
  | 'reopen'
  /** The retry timer fired. */
  | 'retry'
  /** The last subscriber left (deploy, node removed). */
  | 'stop'
  /** The port/socket is released. */
  | 'stopped';

const TRANSITIONS: Record<ConnectionState, Partial<Record<ConnectionEvent, ConnectionState>>> = {
  idle: { start: 'opening', stop: 'idle' },
  opening: { opened: 'open', failed: 'waiting-to-retry', stop: 'closing' },
  open: { lost: 'waiting-to-retry', reopen: 'opening', stop: 'closing' },
  'waiting-to-retry': { retry: 'opening', stop: 'closing' },
  closing: { stopped: 'idle' },
};

/** The next state, or `undefined` when the event means nothing in this state (and must be ignored). */
export function nextState(state: ConnectionState, event: ConnectionEvent): ConnectionState | undefined {
  return TRANSITIONS[state][event];
}

/** A state holder that only moves along allowed transitions and tells whether it moved. */
export class ConnectionStateMachine {
  private current: ConnectionState = 'idle';

  get state(): ConnectionState {
    return this.current;
  }

  /** Applies the event; returns the new state, or `undefined` if the event was ignored. */
  apply(event: ConnectionEvent): ConnectionState | undefined {
    const next = nextState(this.current, event);
    if (next !== undefined) this.current = next;
    return next;
  }
}
