/**
 * What metry-consumption does with its input, without Node-RED: read its settings; gather the
 * one-meter messages of a sequence into batches that share requests; decide the period (node
 * setting, template, or a forced re-export); take the cursors from the input (the user's
 * database) or from the store the node keeps; run the export; and decide what to send — one
 * message per meter and request with `parts`, or one with everything — plus a report and the
 * status. The adapter only wires these to Node-RED.
 */
import type { HttpRequester } from '../http/client';
import { ServiceError } from '../http/errors';
import type { Reading } from '../readings';
import type { Clock } from '../runtime/clock';
import { ConfigError, readChoice, readNumber } from '../runtime/options';
import { StatusView, statusView } from '../runtime/status';
import { MessageBatcher } from './batcher';
import { ExportCursors, InputCursors } from './cursor';
import { ConsumptionExport, ExportEvent, ExportSummary, ReadingsEvent } from './export';
import { exportCosts, parseCostMetrics } from './costs';
import { exportRegisterReadings } from './register-readings';
import { isTreeNode } from './trees';
import { forceRequest, metersFromMessage } from './input';
import { GranularityChoice, toConsumptionMeters } from './plan';
import { parseMetrics } from './types';

export interface ConsumptionSettings {
  /** What to fetch: consumption (the default), costs (`/costs`, month values) or register readings (`/readings`). */
  fetch: 'consumption' | 'costs' | 'readings';
  /** Cost metrics in Metry's names (`retail_total`), for `fetch: costs`. */
  costMetrics: string[];
  granularity: GranularityChoice;
  metrics: string[];
  mode: 'incremental' | 'period';
  output: 'meter' | 'all';
  includeRaw: boolean;
  /** `input`: `msg.lastStored` / a meter's `lastStored` (the user's database); `context`: kept by the node. */
  cursor: 'input' | 'context';
  /** Periods fetched again on every incremental run; absent: the default per granularity. */
  lookBack?: number;
}

/** The node's saved fields this module reads. */
export interface ConsumptionConfig {
  fetch?: unknown;
  costMetrics?: unknown;
  granularity?: unknown;
  metrics?: unknown;
  mode?: unknown;
  output?: unknown;
  includeRaw?: unknown;
  cursor?: unknown;
  lookBack?: unknown;
}

/** Checks the settings at deploy; a bad one is a ConfigError naming the field. */
export function readConsumptionSettings(config: ConsumptionConfig): ConsumptionSettings {
  let metrics: string[];
  try {
    metrics = parseMetrics(config.metrics ?? 'energy');
  } catch (error) {
    throw new ConfigError((error as Error).message, 'Metrics');
  }
  const lookBack = config.lookBack === undefined || config.lookBack === null || String(config.lookBack).trim() === ''
    ? undefined
    : readNumber(config.lookBack, { field: 'Look-back', min: 0, max: 10_000, default: 0, integer: true, unit: 'periods' });
  const fetch = readChoice(config.fetch, 'Fetch', ['consumption', 'costs', 'readings'] as const, 'consumption');
  let costMetrics: string[];
  try {
    costMetrics = parseCostMetrics(config.costMetrics ?? '');
  } catch (error) {
    throw new ConfigError((error as Error).message, 'Cost metrics');
  }
  const mode = readChoice(config.mode, 'Export', ['incremental', 'period'] as const, 'incremental');
  if (fetch !== 'consumption' && mode !== 'period') {
    // consumption_stats says nothing about costs or readings, so there is nothing to start an incremental run from.
    throw new ConfigError(`${fetch === 'costs' ? 'Costs' : 'Register readings'} are fetched for a period: set Export to "period" and give one, e.g. {{lastMonth}} or 202401-202412.`, 'Export');
  }
  return {
    fetch,
    costMetrics,
    granularity: readChoice(config.granularity, 'Granularity', ['month', 'day', 'hour', 'best'] as const, 'month'),
    metrics,
    mode,
    output: readChoice(config.output, 'Output', ['meter', 'all'] as const, 'meter'),
    includeRaw: config.includeRaw === true,
    // Flows from before the database cursor kept theirs in context.
    cursor: readChoice(config.cursor, 'Cursor', ['input', 'context'] as const, 'context'),
    lookBack,
  };
}

/** One input message and how to answer it: output 0 readings, output 1 the report. */
export interface ConsumptionInput {
  msg: Record<string, unknown>;
  send(port: 0 | 1, msg: Record<string, unknown>): void;
}

/** What the controller needs from its node. */
export interface ConsumptionHost {
  /** Taken when a run starts, so a config problem fails that run with a clear error. */
  connection(): { requester: HttpRequester; concurrency: number; baseUrlLength?: number };
  /** The store the node keeps cursors in (context or file), for `cursor: 'context'`. */
  keptCursors(): ExportCursors;
  clock: Clock;
  /** The node's period setting evaluated for a message (TypedInput, template). */
  evaluatePeriod(msg: Record<string, unknown>): Promise<string>;
  newId(): string;
  status(view: StatusView): void;
  warn(text: string): void;
}

/** Messages of a sequence gathered into one request batch, and how long to wait for the rest. */
const BATCH_SIZE = 100;
const BATCH_IDLE_MS = 200;

interface Progress {
  sequence?: string;
  done: number;
  total?: number;
}

export class ConsumptionController {
  private readonly batcher: MessageBatcher<ConsumptionInput>;
  private readonly progress: Progress = { done: 0 };

  constructor(
    private readonly settings: ConsumptionSettings,
    private readonly host: ConsumptionHost,
  ) {
    this.batcher = new MessageBatcher<ConsumptionInput>({
      maxSize: BATCH_SIZE,
      idleMs: BATCH_IDLE_MS,
      clock: host.clock,
      run: (inputs) => this.export(inputs, (inputs[0].msg.parts as { id: string }).id),
    });
  }

  /** Resolves when the message's export is done; rejects with the error to report on it. */
  receive(input: ConsumptionInput): Promise<void> {
    const parts = input.msg.parts as { id?: string; count?: number } | undefined;
    const payload = input.msg.payload;
    const single = payload !== undefined && payload !== null && !Array.isArray(payload);
    // One meter per message from a sequence (metry-meters, one message per meter): gathered so
    // they still share /consumptions/multi requests.
    if (parts?.id && single && !forceRequest(input.msg.force)) return this.batcher.add(parts.id, input, parts.count);
    return this.export([input]);
  }

  /** Ends messages still gathering without exporting them (the node closes); returns how many. */
  close(): number {
    return this.batcher.discardAll();
  }

  /** The period a message asks for; undefined means incremental. */
  private async periodFor(msg: Record<string, unknown>): Promise<string | undefined> {
    const force = forceRequest(msg.force);
    if (force?.period !== undefined && force.period !== null && String(force.period).trim() !== '') return String(force.period).trim();
    if (this.settings.mode !== 'period' && !force) return undefined;
    const period = (await this.host.evaluatePeriod(msg)).trim();
    if (period === '' && !force) {
      throw new ServiceError('The node is set to an explicit period but the period is empty. Enter one, e.g. 202403 or 20240101-20240131.', { code: 'CONFIG', service: 'metry' });
    }
    return period === '' ? undefined : period;
  }

  /** The database cursor of every message of the batch, checked before any request. */
  private inputCursors(inputs: ConsumptionInput[], meters: unknown[]): InputCursors {
    const cursors = new InputCursors(inputs.map((i) => i.msg.lastStored), meters);
    // An empty list is a database with nothing stored yet; no list at all is a flow not wired for it.
    if (cursors.meters === 0 && inputs.every((i) => i.msg.lastStored === undefined)) {
      this.host.warn('Cursor is set to "from the input" but the message has no msg.lastStored: every meter is exported from its first value. Put the last stored periods from your database into msg.lastStored, or set Cursor to "kept by the node".');
    }
    return cursors;
  }

  private showProgress(): void {
    const { done, total } = this.progress;
    this.host.status(total ? statusView('working', 'progress', { done, total }) : statusView('working', 'progressOpen', { done }));
  }

  /** Exports the meters of one message, or of a batch of one-meter messages of a sequence. */
  private async export(inputs: ConsumptionInput[], sequence?: string): Promise<void> {
    const first = inputs[0].msg;
    if (sequence === undefined || sequence !== this.progress.sequence) Object.assign(this.progress, { sequence, done: 0, total: undefined });
    const owner = new Map<string, ConsumptionInput>();
    const items = inputs.flatMap((input) => {
      const meters = metersFromMessage(input.msg.payload, forceRequest(input.msg.force));
      for (const meter of toConsumptionMeters(meters)) owner.set(meter.id, input);
      return meters;
    });
    const period = await this.periodFor(first);
    if (this.settings.fetch !== 'consumption') return this.exportSeries(inputs, items, owner, period, sequence);
    const cursors = period !== undefined ? undefined : this.settings.cursor === 'input' ? this.inputCursors(inputs, items) : this.host.keptCursors();
    const connection = this.host.connection();
    const exporter = new ConsumptionExport(connection.requester, {
      granularity: this.settings.granularity,
      metrics: this.settings.metrics,
      period,
      force: !!forceRequest(first.force),
      cursors,
      lookBack: this.settings.lookBack,
      now: this.host.clock.now(),
      concurrency: connection.concurrency,
      baseUrlLength: connection.baseUrlLength,
      includeRaw: this.settings.includeRaw,
      // Metry documents /consumptions/multi for meter ids only: tree nodes are asked for one by one.
      useMulti: !items.some(isTreeNode),
      onProgress: () => {
        this.progress.done += 1;
        this.showProgress();
      },
    });
    const announced = inputs.map((i) => (i.msg.parts as { count?: number } | undefined)?.count).find((c) => typeof c === 'number');
    this.progress.total = sequence === undefined ? items.length : announced ?? this.progress.total;
    this.host.status(statusView('working'));
    const notices = await this.deliver(exporter.run(items), inputs, owner, sequence);
    this.report(exporter.summary, notices, inputs[inputs.length - 1], sequence);
  }

  /** Costs or register readings of the message's meters for its period, sent as consumption is. */
  private async exportSeries(inputs: ConsumptionInput[], items: unknown[], owner: Map<string, ConsumptionInput>, period: string | undefined, sequence?: string): Promise<void> {
    if (period === undefined) throw new ConfigError('Costs and register readings need a period: set Export to "period".', 'Export');
    const { requester } = this.host.connection();
    const now = this.host.clock.now();
    const events =
      this.settings.fetch === 'costs'
        ? exportCosts(requester, items, { metrics: this.settings.costMetrics, period, now })
        : exportRegisterReadings(requester, items, { metrics: this.settings.metrics, period, now });
    const summary: ExportSummary = { meters: owner.size, requests: 0, readings: 0, skipped: [], upToDate: 0, notices: 0, firstExport: 0 };
    this.progress.total = owner.size;
    this.host.status(statusView('working'));
    const counted = async function* (this: ConsumptionController): AsyncGenerator<ExportEvent> {
      for await (const event of events) {
        if (event.type === 'readings') summary.readings += event.readings.length;
        else if (event.type === 'skipped') summary.skipped.push(event);
        this.progress.done += 1;
        this.showProgress();
        yield event;
      }
    }.call(this);
    const notices = await this.deliver(counted, inputs, owner, sequence);
    this.report(summary, notices, inputs[inputs.length - 1], sequence);
  }

  /** Sends readings as the export yields them; returns the notices for the report. */
  private async deliver(events: AsyncIterable<ExportEvent>, inputs: ConsumptionInput[], owner: Map<string, ConsumptionInput>, sequence: string | undefined): Promise<ExportEvent[]> {
    const notices: ExportEvent[] = [];
    const all: Reading[] = [];
    const raw: unknown[] = [];
    const partsId = this.host.newId();
    // One message is held back so the last one can carry `parts.count`.
    let held: { input: ConsumptionInput; msg: Record<string, unknown> } | undefined;
    let index = 0;
    for await (const event of events) {
      if (event.type !== 'readings') {
        notices.push(event);
        if (event.type === 'skipped') this.host.warn(`Skipped Metry meter ${event.meterId}${event.mappedId ? ` (${event.mappedId})` : ''}: ${event.reason}`);
        continue;
      }
      if (this.settings.output === 'all') {
        for (const reading of event.readings) all.push(reading);
        if (event.raw) raw.push(event.raw);
        continue;
      }
      const input = owner.get(event.meter.id) ?? inputs[0];
      if (held) held.input.send(0, held.msg);
      held = { input, msg: readingsMessage(input.msg, event, { id: partsId, index, type: 'array' }) };
      index += 1;
    }
    if (held) {
      (held.msg.parts as Record<string, unknown>).count = index;
      held.input.send(0, held.msg);
    }
    if (this.settings.output === 'all') {
      const last = inputs[inputs.length - 1];
      last.send(0, { ...batchBase(last.msg, sequence !== undefined), payload: all, ...(this.settings.includeRaw ? { raw } : {}) });
    }
    return notices;
  }

  private report(summary: ExportSummary, notices: ExportEvent[], last: ConsumptionInput, sequence: string | undefined): void {
    const payload = { ...summary, notices: notices.filter((n) => n.type === 'notice' && n.kind !== 'up-to-date') };
    last.send(1, { ...batchBase(last.msg, sequence !== undefined), payload });
    const params = { readings: summary.readings, meters: summary.meters, skipped: summary.skipped.length };
    this.host.status(summary.skipped.length > 0 ? statusView('warning', 'doneSkipped', params) : statusView('success', 'done', params));
  }
}

/**
 * The input message without what this node consumed: `lastStored` (possibly thousands of rows,
 * which Node-RED would clone for every message on a fan-out).
 */
function outgoing(msg: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...msg };
  delete rest.lastStored;
  return rest;
}

/** A message standing for a whole batch must not pretend to be part of the input sequence. */
function batchBase(msg: Record<string, unknown>, batch: boolean): Record<string, unknown> {
  const base = outgoing(msg);
  if (batch) delete base.parts;
  return base;
}

function readingsMessage(msg: Record<string, unknown>, event: ReadingsEvent, parts: Record<string, unknown>): Record<string, unknown> {
  const { id, mappedId, name, ean } = event.meter;
  const out: Record<string, unknown> = { ...outgoing(msg), payload: event.readings, meter: { id, mappedId, name, ean }, granularity: event.granularity, period: event.period, parts };
  if (event.raw) out.raw = event.raw;
  return out;
}
