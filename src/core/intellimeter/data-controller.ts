/**
 * The intellimeter-data node without Node-RED: runs the configured operation for a message or a
 * poll, remembers the newest readings so a poll never repeats one, and says what to show. The
 * adapter only evaluates the node's inputs and turns these calls into messages and statuses.
 */
import type { Clock } from '../runtime/clock';
import { StatusView, statusView } from '../runtime/status';
import type { IntellimeterApi } from './api';
import { DataSettings, OperationInput, OperationResult, runOperation } from './operation';
import { NewReadingsFilter, Poller, SeenState } from './poller';

/** Where the newest time stamps are kept between restarts (node context); either call may throw. */
export interface SeenMemory {
  get(): unknown;
  set(state: SeenState): void;
}

export interface DataControllerOptions {
  api: IntellimeterApi;
  settings: DataSettings;
  clock: Clock;
  /** With `persist`: the node's context. */
  memory?: SeenMemory;
  status(view: StatusView): void;
  /** A warning, by catalog key under `intellimeter-data.warn.`. */
  warn(key: 'skipped' | 'memory', params: Record<string, string | number>): void;
}

/** What a result puts on the message: the readings (and the records left out) or the meter information. */
export function resultFields(result: OperationResult): Record<string, unknown> {
  if (result.kind === 'point') return { payload: result.point };
  return result.problems.length > 0 ? { payload: result.readings, skipped: result.problems } : { payload: result.readings };
}

export class DataController {
  private readonly filter: NewReadingsFilter;
  private memory?: SeenMemory;
  private poller?: Poller;
  private lastPollError?: string;

  constructor(private readonly options: DataControllerOptions) {
    this.memory = options.settings.persist ? options.memory : undefined;
    this.filter = new NewReadingsFilter(this.remember((memory) => memory.get()));
  }

  /** One run of the operation, for a message or a poll; its errors are the caller's. */
  async run(input: OperationInput = {}): Promise<OperationResult> {
    const { settings, clock } = this.options;
    this.options.status(statusView('working', 'requesting'));
    const result = await runOperation(this.options.api, settings, input, clock.now(), this.filter);
    const time = new Date(clock.now()).toTimeString().slice(0, 5);
    if (result.kind === 'point') {
      this.options.status(statusView('success', 'point', { time }));
      return result;
    }
    this.remember((memory) => memory.set(this.filter.snapshot()));
    if (result.problems.length > 0) this.options.warn('skipped', { count: result.problems.length, problems: result.problems.slice(0, 5).join('; ') });
    const filtered = settings.onlyNew && result.readings.length < result.received;
    this.options.status(statusView('success', filtered ? 'new' : 'readings', { count: result.readings.length, time }));
    return result;
  }

  /**
   * Polls on the configured interval. A poll that found nothing new sends nothing, so a stored
   * series gets each reading once. A failing poll shows its status every time but is reported
   * only when its text changes, so the same outage every few minutes does not flood the log.
   */
  startPolling(send: (result: OperationResult) => void, failed: (error: unknown, report: boolean) => void): void {
    const { settings, clock } = this.options;
    if (settings.pollMs <= 0 || this.poller) return;
    this.poller = new Poller({
      intervalMs: settings.pollMs,
      clock,
      poll: async () => {
        const result = await this.run();
        this.lastPollError = undefined;
        if (result.kind !== 'readings' || result.readings.length > 0) send(result);
      },
      onError: (error) => {
        const text = error instanceof Error ? error.message : String(error);
        failed(error, text !== this.lastPollError);
        this.lastPollError = text;
      },
    });
    this.poller.start();
  }

  /** Stops polling; resolves when a poll in flight has ended. */
  async stop(): Promise<void> {
    await this.poller?.stop();
  }

  /** Uses the memory; a context store without synchronous access throws, and then the state lives in memory only. */
  private remember<T>(use: (memory: SeenMemory) => T): T | undefined {
    if (!this.memory) return undefined;
    try {
      return use(this.memory);
    } catch (error) {
      this.memory = undefined;
      this.options.warn('memory', { error: error instanceof Error ? error.message : String(error) });
      return undefined;
    }
  }
}
