/**
 * Runs a consumption export: takes meters (a list or a stream of pages), plans the fewest
 * requests, sends them with bounded concurrency, converts the answers to readings and yields
 * them per meter and request, so memory stays flat however many meters there are. Meters Metry
 * refuses (403: removed or revoked by the user; 404: no such meter) are skipped and reported;
 * any other failure ends the export with the shared error policy's error.
 */
import type { HttpRequester } from '../http/client';
import { ServiceError } from '../http/errors';
import type { Reading } from '../readings';
import { SlotTexts, convertEntry } from './convert';
import { isMeterGone, notListed, skipFor } from './entries';
import type { ExportCursors } from './cursor';
import { MeterFinder } from './meter-finder';
import { PeriodRange, parsePeriodExpression } from './periods';
import {
  BatchLimits,
  ConsumptionMeter,
  MeterNeed,
  MetricCursors,
  PlanNotice,
  PlanSettings,
  PlannedRequest,
  meterGranularity,
  meterTimezone,
  planMeter,
  planRequests,
  toConsumptionMeters,
} from './plan';
import { MetryConsumptionEntry, MetryConsumptionEnvelope } from './types';

export interface ExportOptions extends PlanSettings, BatchLimits {
  /** Where each series was stored up to; required for incremental export (no `period`). */
  cursors?: ExportCursors;
  /** Forced re-export: fetch `period` again and leave every cursor as it is. */
  force?: boolean;
  /** Requests in flight at once; the client's own limits apply on top. */
  concurrency?: number;
  /** Meters planned together; bounds memory when meters arrive as a stream. */
  chunkSize?: number;
  includeRaw?: boolean;
  signal?: AbortSignal;
  /** Meters in the whole run, when the caller knows, for progress. */
  totalMeters?: number;
  onProgress?: (progress: ExportProgress) => void;
}

export interface ExportProgress {
  metersDone: number;
  metersTotal?: number;
  requests: number;
}

export interface ReadingsEvent {
  type: 'readings';
  meter: ConsumptionMeter;
  granularity: string;
  metrics: string[];
  period: string;
  readings: Reading[];
  raw?: MetryConsumptionEntry;
}

export interface SkippedMeter {
  meterId: string;
  mappedId?: string;
  name?: string;
  status?: number;
  code: string;
  reason: string;
}

export interface SkippedEvent extends SkippedMeter {
  type: 'skipped';
}

export interface NoticeEvent extends Omit<PlanNotice, 'meter'> {
  type: 'notice';
  meterId: string;
  mappedId?: string;
}

export type ExportEvent = ReadingsEvent | SkippedEvent | NoticeEvent;

export interface ExportSummary {
  meters: number;
  requests: number;
  readings: number;
  skipped: SkippedMeter[];
  upToDate: number;
  notices: number;
  /** Incremental meters without any stored period: exported from Metry's first value. */
  firstExport: number;
}

type MemberOutcome = { need: MeterNeed; entry: MetryConsumptionEntry } | { need: MeterNeed; skip: SkippedMeter };

interface MeterProgress {
  pending: number;
  lastWithValue: Record<string, number>;
  failed: boolean;
}

/** True for errors that concern one meter only; the rest of the export goes on. */
async function* fromAny<T>(items: AsyncIterable<T> | Iterable<T>): AsyncGenerator<T> {
  yield* items as AsyncIterable<T>;
}

export class ConsumptionExport {
  readonly summary: ExportSummary = { meters: 0, requests: 0, readings: 0, skipped: [], upToDate: 0, notices: 0, firstExport: 0 };
  private readonly options: ExportOptions;
  private readonly parsedPeriod?: PeriodRange[];
  private readonly skippedIds = new Set<string>();
  private readonly slots = new SlotTexts();
  private readonly finder: MeterFinder;
  private metersDone = 0;

  constructor(private readonly requester: HttpRequester, options: ExportOptions) {
    this.options = options;
    this.finder = new MeterFinder(requester, { signal: options.signal, onPage: () => (this.summary.requests += 1) });
    if (options.metrics.length === 0) {
      throw new ServiceError('No metrics are selected. Choose at least one, e.g. energy.', { code: 'CONFIG', service: 'metry' });
    }
    if (options.period !== undefined) this.parsedPeriod = parsePeriodExpression(options.period);
    else if (options.force) throw new ServiceError('A forced export needs a period (msg.force.period or the node\'s period), e.g. 202403 or 20240101-20240131.', { code: 'CONFIG', service: 'metry' });
    else if (!options.cursors) throw new ServiceError('Incremental export needs a cursor store.', { code: 'CONFIG', service: 'metry' });
  }

  /** Yields events as requests complete; cursors move only after the caller has taken a meter's readings. */
  async *run(meters: AsyncIterable<unknown> | Iterable<unknown>): AsyncGenerator<ExportEvent> {
    const chunkSize = Math.max(1, this.options.chunkSize ?? 500);
    let chunk: unknown[] = [];
    for await (const item of fromAny(meters)) {
      chunk.push(item);
      if (chunk.length >= chunkSize) {
        yield* this.runChunk(chunk);
        chunk = [];
      }
    }
    if (chunk.length > 0) yield* this.runChunk(chunk);
  }

  private get incremental(): boolean {
    return this.options.period === undefined;
  }

  private async *runChunk(items: unknown[]): AsyncGenerator<ExportEvent> {
    // The same meter twice in one request batch would be fetched and delivered twice.
    const unique = new Map(toConsumptionMeters(items).map((meter) => [meter.id, meter] as const));
    const meters = [...unique.values()];
    this.summary.meters += meters.length;
    const needsMetadata = (m: ConsumptionMeter): boolean => !m.timezone || (this.incremental && !m.stats);
    const ready = meters.filter((meter) => !needsMetadata(meter));
    const bare = meters.filter(needsMetadata);
    const found = await this.finder.find(bare.map((meter) => meter.id));
    for (const meter of bare) {
      const listed = found.get(meter.id);
      if (listed) {
        // A reference `_id` resolves to its root: keep one entry per root.
        if (!ready.some((m) => m.id === listed.id)) ready.push({ ...listed, mappedId: meter.mappedId ?? listed.mappedId });
        else {
          this.summary.meters -= 1;
          this.meterFinished();
        }
        continue;
      }
      const event = this.skip(notListed(meter));
      if (event) yield event;
      this.meterFinished();
    }

    const progress = new Map<string, MeterProgress>();
    const needs: MeterNeed[] = [];
    for (const meter of ready) {
      const cursors = this.incremental ? await this.loadCursors(meter) : {};
      if (this.incremental && Object.values(cursors).every((c) => c === undefined)) this.summary.firstExport += 1;
      const plan = planMeter(meter, this.options, cursors, this.parsedPeriod);
      for (const notice of plan.notices) {
        this.summary.notices += 1;
        if (notice.kind === 'up-to-date') this.summary.upToDate += 1;
        yield { type: 'notice', kind: notice.kind, reason: notice.reason, meterId: meter.id, mappedId: meter.mappedId };
      }
      if (plan.needs.length === 0) {
        this.meterFinished();
        continue;
      }
      if (!progress.has(meter.id)) progress.set(meter.id, { pending: 0, lastWithValue: {}, failed: false });
      needs.push(...plan.needs);
    }

    const requests = planRequests(needs, this.options);
    // A need may be split into several requests: a meter is done when all of its requests are.
    for (const request of requests) for (const member of request.members) progress.get(member.need.meter.id)!.pending += 1;

    for await (const outcomes of this.pool(requests, (request, signal) => this.fetch(request, signal))) {
      for (const outcome of outcomes) {
        const meter = outcome.need.meter;
        const state = progress.get(meter.id)!;
        if ('skip' in outcome) {
          state.failed = true;
          const event = this.skip(outcome.skip);
          if (event) yield event;
        } else if (!state.failed) {
          const converted = convertEntry(outcome.entry, {
            meterId: meter.id,
            mappedId: meter.mappedId,
            granularity: outcome.need.granularity,
            metrics: outcome.need.metrics,
            timezone: outcome.need.timezone,
            metricStarts: outcome.need.metricStarts,
            lastSlot: outcome.need.range.last,
            slots: this.slots,
          });
          for (const [metric, last] of Object.entries(converted.lastWithValue)) {
            state.lastWithValue[metric] = Math.max(state.lastWithValue[metric] ?? last, last);
          }
          this.summary.readings += converted.readings.length;
          const event: ReadingsEvent = {
            type: 'readings',
            meter,
            granularity: outcome.need.granularity,
            metrics: outcome.need.metrics,
            period: outcome.period,
            readings: converted.readings,
          };
          if (this.options.includeRaw) event.raw = outcome.entry;
          yield event;
        }
        state.pending -= 1;
        if (state.pending === 0) {
          if (!state.failed && this.incremental) await this.saveCursors(outcome.need, state.lastWithValue);
          this.meterFinished();
        }
      }
    }
    if (this.incremental) await this.options.cursors!.flush?.();
  }

  private meterFinished(): void {
    this.metersDone += 1;
    this.options.onProgress?.({ metersDone: this.metersDone, metersTotal: this.options.totalMeters, requests: this.summary.requests });
  }

  private skip(skipped: SkippedMeter): SkippedEvent | undefined {
    if (this.skippedIds.has(skipped.meterId)) return undefined;
    this.skippedIds.add(skipped.meterId);
    this.summary.skipped.push(skipped);
    return { type: 'skipped', ...skipped };
  }

  private async loadCursors(meter: ConsumptionMeter): Promise<MetricCursors> {
    const granularity = meterGranularity(meter, this.options);
    const located = { id: meter.id, timezone: meterTimezone(meter, this.options.fallbackTimezone) };
    const cursors: MetricCursors = {};
    for (const metric of this.options.metrics) cursors[metric] = await this.options.cursors!.lastStored(located, granularity, metric);
    return cursors;
  }

  private async saveCursors(need: MeterNeed, lastWithValue: Record<string, number>): Promise<void> {
    for (const [metric, last] of Object.entries(lastWithValue)) await this.options.cursors!.delivered?.(need.meter.id, need.granularity, metric, last);
  }

  private async fetch(request: PlannedRequest, signal: AbortSignal): Promise<(MemberOutcome & { period: string })[]> {
    const period = request.period;
    const tag = (outcomes: MemberOutcome[]): (MemberOutcome & { period: string })[] => outcomes.map((o) => ({ ...o, period }));
    if (request.members.length === 1) return tag([await this.fetchOne(request, request.members[0].need, signal)]);
    const ids = request.members.map((m) => m.need.meter.id);
    try {
      const entries = await this.get(`/consumptions/multi/${request.granularity}/${period}`, { meters: ids.join(','), metrics: request.metrics.join(',') }, signal, 'fetching consumption of several meters');
      const byId = new Map(entries.map((entry) => [entry.meter_id, entry]));
      return tag(request.members.map(({ need }) => this.outcomeFor(need, byId.get(need.meter.id))));
    } catch (error) {
      if (!isMeterGone(error)) throw error;
      // Metry refuses the whole batch when one meter is gone: ask per meter to find which.
      const outcomes: MemberOutcome[] = [];
      for (const { need } of request.members) outcomes.push(await this.fetchOne(request, need, signal));
      return tag(outcomes);
    }
  }

  private async fetchOne(request: PlannedRequest, need: MeterNeed, signal: AbortSignal): Promise<MemberOutcome> {
    try {
      const path = `/consumptions/${encodeURIComponent(need.meter.id)}/${request.granularity}/${request.period}`;
      const entries = await this.get(path, { metrics: request.metrics.join(',') }, signal, 'fetching consumption');
      return this.outcomeFor(need, entries.find((entry) => entry.meter_id === need.meter.id) ?? (entries.length === 1 ? entries[0] : undefined));
    } catch (error) {
      if (isMeterGone(error)) return { need, skip: skipFor(need.meter, error) };
      throw error;
    }
  }

  private outcomeFor(need: MeterNeed, entry: MetryConsumptionEntry | undefined): MemberOutcome {
    if (entry) return { need, entry };
    return {
      need,
      skip: { meterId: need.meter.id, mappedId: need.meter.mappedId, name: need.meter.name, code: 'INVALID_RESPONSE', reason: 'Metry answered without data for this meter; it is tried again next time.' },
    };
  }

  private async get(path: string, query: Record<string, string>, signal: AbortSignal, what: string): Promise<MetryConsumptionEntry[]> {
    this.summary.requests += 1;
    const response = await this.requester.request<MetryConsumptionEnvelope>({ path, query, signal, what, responseType: 'json' });
    const data = response.data?.data;
    if (Array.isArray(data)) return data;
    if (data && typeof data === 'object') return [data];
    throw new ServiceError(`Metry sent a consumption answer without data (${what}). Check that the base URL points at the Metry API (…/api/v2).`, { code: 'INVALID_RESPONSE', service: 'metry' });
  }

  /**
   * Runs `worker` over `items` with at most `concurrency` at once and yields results as they
   * complete. A failure stops new work, aborts the rest and is rethrown.
   */
  private async *pool<T, R>(items: readonly T[], worker: (item: T, signal: AbortSignal) => Promise<R>): AsyncGenerator<R> {
    const controller = new AbortController();
    const signal = this.options.signal ? AbortSignal.any([this.options.signal, controller.signal]) : controller.signal;
    const limit = Math.max(1, this.options.concurrency ?? 4);
    type Settled = { key: number; ok: true; value: R } | { key: number; ok: false; error: unknown };
    const inFlight = new Map<number, Promise<Settled>>();
    let next = 0;
    const launch = (): void => {
      while (inFlight.size < limit && next < items.length && !signal.aborted) {
        const key = next;
        next += 1;
        inFlight.set(
          key,
          worker(items[key], signal).then(
            (value): Settled => ({ key, ok: true, value }),
            (error: unknown): Settled => ({ key, ok: false, error }),
          ),
        );
      }
    };
    try {
      launch();
      while (inFlight.size > 0) {
        const settled = await Promise.race(inFlight.values());
        inFlight.delete(settled.key);
        if (!settled.ok) throw settled.error;
        launch();
        yield settled.value;
      }
    } finally {
      if (inFlight.size > 0) {
        controller.abort(new Error('export stopped'));
        await Promise.allSettled(inFlight.values());
      }
    }
  }
}
