import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { P1InController, type P1InOutput, type P1Message } from '../../../src/core/p1-source/controller';
import { readP1InOptions, type P1InConfig } from '../../../src/core/p1-source/options';
import { SourceError } from '../../../src/core/p1-source/source';
import type { StatusView } from '../../../src/core/runtime/status';
import { ManualClock } from '../../../testing/manual-clock';
import { fixturePath } from '../../../testing/runtime';

const read = (name: string): Buffer => fs.readFileSync(fixturePath('dsmr', name));
const DSMR5 = read('ndokter_v5-iskra-mt382.txt');
const DSMR42 = read('ndokter_v4.2-kaifa-power-failure-log.txt');
const BAD_CRC = read('ndokter_v5-iskra-badcrc-line-removed.txt');

class Output implements P1InOutput {
  readonly sent: P1Message[] = [];
  readonly errors: Array<{ error: Error; msg: Record<string, unknown> }> = [];
  readonly warnings: string[] = [];
  readonly statuses: Array<StatusView | undefined> = [];
  send(msg: P1Message): void {
    this.sent.push(msg);
  }
  error(error: Error, msg: Record<string, unknown>): void {
    this.errors.push({ error, msg });
  }
  warn(text: string): void {
    this.warnings.push(text);
  }
  status(view: StatusView | undefined): void {
    this.statuses.push(view);
  }
  get shown(): string | undefined {
    const view = this.statuses.at(-1);
    return view && `${view.fill} ${view.key} ${JSON.stringify(view.params ?? {})}`;
  }
}

function controllerFor(config: P1InConfig = {}) {
  const clock = new ManualClock();
  const output = new Output();
  const options = readP1InOptions({ source: 'serial', serialPath: '/dev/ttyUSB0', topic: 'meter', ...config }, {}, () => undefined);
  const controller = new P1InController(options, output, { now: () => clock.now(), timeZone: 'UTC' });
  return { clock, output, controller };
}

describe('dsmr-p1-in controller (without Node-RED)', () => {
  it('sends each valid telegram with its text, and tells the source how many telegrams the bytes finished', () => {
    const { output, controller } = controllerFor();
    controller.onState('opening', {});
    controller.onState('open', { detail: '115200 8N1' });
    assert.equal(output.shown, 'green connected {}');
    assert.equal(controller.onData(DSMR5.subarray(0, 500)), 0);
    assert.equal(controller.onData(Buffer.concat([DSMR5.subarray(500), DSMR42])), 2);
    assert.deepEqual(output.sent.map((m) => [m.topic, m.payload.electricity.currentDelivered]), [['meter', 0.244], ['meter', 2.027]]);
    assert.equal(output.sent[0].telegram, DSMR5.toString('latin1'));
    assert.equal(output.shown, 'green power {"power":"2.027 kW","invalid":0,"skipped":0}');
  });

  it('never sends an invalid telegram: it is an error with the raw bytes, and the status shows it', () => {
    const { output, controller } = controllerFor();
    controller.onState('open', {});
    assert.equal(controller.onData(BAD_CRC), 1, 'a whole telegram, though invalid, shows the meter is alive');
    assert.equal(output.sent.length, 0);
    assert.equal(output.errors[0].error.message.length > 0, true);
    assert.deepEqual(output.errors[0].msg, { topic: 'meter', payload: BAD_CRC, telegram: BAD_CRC.toString('latin1'), errorCode: 'CRC_MISMATCH' });
    assert.equal(output.shown, 'red invalid {"code":"crc","invalid":1}');
    controller.onData(DSMR5);
    assert.equal(output.shown, 'green power-invalid {"power":"0.244 kW","invalid":1,"skipped":0}');
  });

  it('reports a telegram cut off by an unplug as INCOMPLETE with its bytes, and counts it', () => {
    const { output, controller } = controllerFor();
    controller.onState('open', {});
    controller.onData(DSMR5);
    controller.onData(DSMR42.subarray(0, 400));
    controller.onState('waiting-to-retry', { error: new SourceError('Serial port was disconnected', 'unplugged'), retryInMs: 1000 });
    assert.equal(output.sent.length, 1);
    assert.equal(output.errors.length, 1);
    const { error, msg } = output.errors[0];
    assert.equal(msg.errorCode, 'INCOMPLETE');
    assert.deepEqual(msg.payload, DSMR42.subarray(0, 400));
    assert.match(error.message, /cut off after 400 bytes because the connection was lost \(unplugged\)/);
    assert.equal(output.shown, 'red error {"code":"unplugged"}');

    controller.onState('opening', { retrying: true });
    controller.onState('open', {});
    assert.equal(output.shown, 'green connected {}', 'a new connection starts clean');
    controller.onData(DSMR42);
    assert.equal(output.shown, 'green power-invalid {"power":"2.027 kW","invalid":1,"skipped":0}', 'the cut-off telegram stays counted');
  });

  it('a deploy cuts a telegram on purpose: no error', () => {
    const { output, controller } = controllerFor();
    controller.onState('open', {});
    controller.onData(DSMR5.subarray(0, 400));
    controller.onState('closing', {});
    controller.onState('idle', {});
    assert.deepEqual(output.errors, []);
    assert.equal(output.statuses.at(-1), undefined, 'the status is cleared');
  });

  it('shows when the last telegram came once it is late', () => {
    const { output, controller } = controllerFor();
    controller.onState('open', {});
    controller.onData(DSMR5);
    controller.onState('open', { lateSince: Date.UTC(2024, 0, 1, 12, 3, 4) });
    assert.equal(output.shown, 'yellow late {"time":"12:03:04"}');
  });

  it('rate-limits by the clock and counts skipped telegrams without errors', () => {
    const { clock, output, controller } = controllerFor({ rateLimit: '10' });
    controller.onState('open', {});
    for (let second = 0; second < 12; second += 1) {
      controller.onData(DSMR5);
      clock.advance(1000);
    }
    assert.equal(output.sent.length, 2, 'at 0 s and 10 s');
    assert.equal(output.errors.length, 0);
    assert.equal(output.shown, 'green power-skipped {"power":"0.244 kW","invalid":0,"skipped":10}');
  });

  it('passes connection problems and warnings on, and shows a status only when it changed', () => {
    const { output, controller } = controllerFor();
    controller.onProblem(new SourceError('No permission to open serial port', 'no permission'));
    controller.onWarning('shared');
    assert.deepEqual(output.errors[0].msg, { topic: 'meter', errorCode: 'no permission' });
    assert.deepEqual(output.warnings, ['shared']);
    controller.onState('open', {});
    controller.onData(DSMR5);
    controller.onData(DSMR5);
    assert.equal(output.statuses.length, 2, 'connected, then the power; the same power again is not re-sent');
  });
});
