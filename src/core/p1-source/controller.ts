/**
 * What one dsmr-p1-in node does with its source, decided without Node-RED: bytes go through the
 * pipeline (framer → parser → rate limit); a valid telegram becomes a message, an invalid one an
 * error with its raw bytes for a Catch node, never data; connection problems become errors too;
 * and the status line follows. The adapter only wires these outputs to the node.
 */
import type { ParsedTelegram } from '../dsmr';
import type { StatusView } from '../runtime/status';
import { hostTimeZone } from '../time-zone';
import type { ConnectionState } from './connection-state';
import type { P1InOptions } from './options';
import { formatPower, framedTelegrams, TelegramPipeline, type PipelineOutcome } from './pipeline';
import type { SourceListener, SourceStateInfo } from './source';
import { p1Status } from './status';

/** The message sent for each valid telegram. */
export interface P1Message {
  topic: string;
  payload: ParsedTelegram;
  /** The telegram text from `/` through the CRC line, one character per byte (decrypted for Luxembourg). */
  telegram: string;
}

export interface P1InOutput {
  send(msg: P1Message): void;
  /** An error for Catch nodes, with the message properties that go along. */
  error(error: Error, msg: Record<string, unknown>): void;
  warn(text: string): void;
  /** The status to show; undefined clears it. Called only when it changed. */
  status(view: StatusView | undefined): void;
}

export interface P1InControllerDeps {
  /** For the rate limit. */
  now: () => number;
  /** Where the time of a late telegram is shown; default the host's zone. */
  timeZone?: string;
}

export class P1InController implements SourceListener {
  private readonly pipeline: TelegramPipeline;
  private readonly timeZone: string;
  private state: ConnectionState = 'idle';
  private info: SourceStateInfo = {};
  private lastPower: string | undefined;
  private lastInvalidCode: string | undefined;
  private shown: string | undefined;

  constructor(
    private readonly options: P1InOptions,
    private readonly output: P1InOutput,
    deps: P1InControllerDeps,
  ) {
    this.pipeline = new TelegramPipeline({ maxTelegramBytes: options.maxTelegramBytes, parse: options.parse, rateLimitMs: options.rateLimitMs, now: deps.now });
    this.timeZone = deps.timeZone ?? hostTimeZone();
  }

  onData(chunk: Buffer): number {
    const outcomes = this.pipeline.push(chunk);
    for (const outcome of outcomes) this.deliver(outcome);
    this.render();
    return framedTelegrams(outcomes);
  }

  onState(state: ConnectionState, info: SourceStateInfo): void {
    if (this.state === 'open' && state !== 'open') this.connectionEnded(state, info);
    // Let the status show the new connection until its first telegram.
    if (state === 'open' && this.state !== 'open') this.lastPower = this.lastInvalidCode = undefined;
    this.state = state;
    this.info = info;
    this.render();
  }

  onProblem(error: Error): void {
    this.output.error(error, { topic: this.options.topic, errorCode: (error as { code?: string }).code });
  }

  onWarning(text: string): void {
    this.output.warn(text);
  }

  /** A telegram cut off by the end of a connection is reported, except on a deploy, which cuts it on purpose. */
  private connectionEnded(state: ConnectionState, info: SourceStateInfo): void {
    if (state === 'closing' || state === 'idle') {
      this.pipeline.reset();
      return;
    }
    const code = (info.error as { code?: unknown } | undefined)?.code;
    const why = state === 'opening' ? 'the port was reopened' : `the connection was lost (${typeof code === 'string' ? code : 'error'})`;
    for (const outcome of this.pipeline.flush(why)) this.deliver(outcome);
  }

  private deliver(outcome: PipelineOutcome): void {
    const topic = this.options.topic;
    if (outcome.type === 'telegram') {
      this.lastPower = formatPower(outcome.telegram) ?? this.lastPower;
      this.lastInvalidCode = undefined;
      this.output.send({ topic, payload: outcome.telegram, telegram: outcome.text.toString('latin1') });
    } else if (outcome.type === 'invalid') {
      this.lastInvalidCode = outcome.error.statusText ?? outcome.error.code.toLowerCase();
      // The raw bytes go along so a Catch node can store or inspect what the meter really sent.
      this.output.error(outcome.error, { topic, payload: outcome.raw, telegram: outcome.raw.toString('latin1'), errorCode: outcome.error.code });
    }
  }

  private render(): void {
    const view = p1Status({ state: this.state, info: this.info, counts: this.pipeline.counts, lastPower: this.lastPower, lastInvalidCode: this.lastInvalidCode, timeZone: this.timeZone });
    const shown = JSON.stringify(view ?? null);
    if (shown === this.shown) return;
    this.shown = shown;
    this.output.status(view);
  }
}
