import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { TelegramPipeline, formatPower, framedTelegrams, type PipelineOutcome } from '../../../src/core/p1-source/pipeline';
import { p1Status, clockTime } from '../../../src/core/p1-source/status';
import { statusView } from '../../../src/core/runtime/status';
import { nextState, ConnectionStateMachine, type ConnectionState, type ConnectionEvent } from '../../../src/core/p1-source/connection-state';
import { ManualClock } from '../../../testing/manual-clock';
import { SourceError } from '../../../src/core/p1-source/source';
import { fixturePath } from '../../../testing/runtime';

const read = (name: string): Buffer => fs.readFileSync(fixturePath('dsmr', name));
const DSMR5 = read('ndokter_v5-iskra-mt382.txt');
const DSMR42 = read('ndokter_v4.2-kaifa-power-failure-log.txt');
const BELGIAN = read('ndokter_be-emucs-1.7.1-fluvius-peak-gas-water.txt');
const GAS_ON_CHANNEL_2 = read('ndokter_v5-iskra-am550-two-mbus.txt');
const BAD_CRC = read('ndokter_v5-iskra-badcrc-line-removed.txt');
const ENCRYPTED = read('esphome_lu-smarty-encrypted-sagemcom-t210dr.bin');
const LU_PLAIN_POWER = '1-0:1.7.0';

function pushInChunks(pipeline: TelegramPipeline, bytes: Buffer, sizes: number[]): PipelineOutcome[] {
  const outcomes: PipelineOutcome[] = [];
  let offset = 0;
  let i = 0;
  while (offset < bytes.length) {
    const size = sizes[i++ % sizes.length];
    outcomes.push(...pipeline.push(bytes.subarray(offset, offset + size)));
    offset += size;
  }
  return outcomes;
}

describe('telegram pipeline', () => {
  it('turns odd-sized chunks into parsed telegrams with the raw bytes beside them', () => {
    const pipeline = new TelegramPipeline();
    const outcomes = pushInChunks(pipeline, Buffer.concat([DSMR5, DSMR42]), [1, 7, 64, 3, 250]);
    assert.deepEqual(outcomes.map((o) => o.type), ['telegram', 'telegram']);
    const [first, second] = outcomes as Array<Extract<PipelineOutcome, { type: 'telegram' }>>;
    assert.deepEqual(first.raw, DSMR5);
    assert.equal(first.telegram.electricity.currentDelivered, 0.244);
    assert.equal(first.telegram.electricity.deliveredTariff1, 4.426);
    assert.equal(second.telegram.electricity.currentDelivered, 2.027);
    assert.equal(formatPower(first.telegram), '0.244 kW');
    assert.deepEqual(pipeline.counts, { telegrams: 2, invalid: 0, skipped: 0 });
  });

  it('passes Belgian capacity fields and gas found on channel 2 through unchanged', () => {
    const pipeline = new TelegramPipeline();
    const outcomes = pushInChunks(pipeline, Buffer.concat([BELGIAN, GAS_ON_CHANNEL_2]), [33, 2, 501]) as Array<Extract<PipelineOutcome, { type: 'telegram' }>>;
    assert.deepEqual(outcomes.map((o) => o.type), ['telegram', 'telegram']);
    assert.deepEqual(outcomes[0].telegram.capacity?.currentAverageDemand, { value: 2.351, unit: 'kW' });
    assert.deepEqual(outcomes[0].telegram.mbus.map((m) => [m.channel, m.kind]), [[1, 'gas'], [2, 'water']]);
    assert.equal(outcomes[1].telegram.gas?.channel, 2);
    assert.equal(outcomes[1].telegram.gas?.value, 246.138);
  });

  it('never passes a telegram with a wrong CRC as data: it is an invalid outcome with the raw bytes', () => {
    const pipeline = new TelegramPipeline();
    const outcomes = pipeline.push(Buffer.concat([BAD_CRC, DSMR5]));
    assert.deepEqual(outcomes.map((o) => o.type), ['invalid', 'telegram']);
    const invalid = outcomes[0] as Extract<PipelineOutcome, { type: 'invalid' }>;
    assert.equal(invalid.error.code, 'CRC_MISMATCH');
    assert.deepEqual(invalid.raw, BAD_CRC);
    assert.deepEqual(pipeline.counts, { telegrams: 1, invalid: 1, skipped: 0 });
  });

  it('accepts the same telegram with CRC checking off', () => {
    const pipeline = new TelegramPipeline({ parse: { crc: 'off' } });
    assert.deepEqual(pipeline.push(BAD_CRC).map((o) => o.type), ['telegram']);
  });

  it('rate-limits to one telegram per window, counting the rest as skipped, not as errors', () => {
    const timers = new ManualClock();
    const pipeline = new TelegramPipeline({ rateLimitMs: 10000, now: () => timers.now() });
    const types: string[] = [];
    for (let second = 0; second < 25; second += 1) {
      types.push(...pipeline.push(DSMR5).map((o) => o.type));
      timers.advance(1000);
    }
    assert.equal(types.filter((t) => t === 'telegram').length, 3, 'at 0 s, 10 s and 20 s');
    assert.deepEqual(pipeline.counts, { telegrams: 3, invalid: 0, skipped: 22 });
  });

  it('decrypts Luxembourg frames with the key from the credentials', () => {
    const pipeline = new TelegramPipeline({ parse: { decryptionKey: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', authenticationKey: '00112233445566778899AABBCCDDEEFF' } });
    const outcomes = pushInChunks(pipeline, ENCRYPTED, [17, 5]);
    assert.deepEqual(outcomes.map((o) => o.type), ['telegram']);
    const telegram = (outcomes[0] as Extract<PipelineOutcome, { type: 'telegram' }>).telegram;
    assert.ok(telegram.objects[LU_PLAIN_POWER], 'the decrypted telegram has its power line');
    assert.equal(telegram.crc.valid, true);
    const text = (outcomes[0] as Extract<PipelineOutcome, { type: 'telegram' }>).text;
    assert.ok(text.toString('latin1').startsWith('/EST5'), 'the plaintext telegram travels beside the parsed one');
    assert.ok(text.toString('latin1').includes('1-0:1.7.0('));
  });

  it('reports a telegram cut off by a lost connection as INCOMPLETE with its bytes, never drops it silently', () => {
    const pipeline = new TelegramPipeline();
    assert.deepEqual(pipeline.push(DSMR5.subarray(0, 300)), []);
    const outcomes = pipeline.flush('the connection was lost (unplugged)');
    assert.deepEqual(outcomes.map((o) => o.type), ['invalid']);
    const invalid = outcomes[0] as Extract<PipelineOutcome, { type: 'invalid' }>;
    assert.equal(invalid.error.code, 'INCOMPLETE');
    assert.equal(invalid.error.message, 'A telegram was cut off after 300 bytes because the connection was lost (unplugged); it was not sent.');
    assert.deepEqual(invalid.raw, DSMR5.subarray(0, 300));
    assert.equal(invalid.framed, false);
    assert.deepEqual(pipeline.counts, { telegrams: 0, invalid: 1, skipped: 0 });
    // The next connection starts clean.
    assert.deepEqual(pipeline.push(DSMR5).map((o) => o.type), ['telegram']);
    assert.deepEqual(pipeline.flush('the connection was lost'), [], 'nothing held, nothing reported');
  });

  it('delivers a telegram that lacked only its final line end when the connection ends', () => {
    const pipeline = new TelegramPipeline();
    assert.deepEqual(pipeline.push(DSMR5.subarray(0, DSMR5.length - 2)), []);
    assert.deepEqual(pipeline.flush('the connection was lost').map((o) => o.type), ['telegram']);
  });

  it('counts whole telegrams, valid or not, as the meter\'s sign of life; cut-offs and noise do not count', () => {
    const pipeline = new TelegramPipeline();
    assert.equal(framedTelegrams(pipeline.push(Buffer.concat([BAD_CRC, DSMR5]))), 2);
    assert.equal(framedTelegrams(pipeline.push(DSMR5.subarray(0, 100))), 0);
    assert.equal(framedTelegrams(pipeline.push(DSMR5)), 1, 'the cut-off one is an error, the whole one counts');
  });

  it('reports a wrong key as a decryption error, not as data', () => {
    const pipeline = new TelegramPipeline({ parse: { decryptionKey: 'BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' } });
    const outcomes = pipeline.push(ENCRYPTED);
    assert.deepEqual(outcomes.map((o) => o.type), ['invalid']);
    assert.equal((outcomes[0] as Extract<PipelineOutcome, { type: 'invalid' }>).error.code, 'DECRYPTION_FAILED');
  });
});

describe('connection state machine', () => {
  it('allows only the documented transitions', () => {
    const walk = (events: ConnectionEvent[]): Array<ConnectionState | undefined> => {
      const machine = new ConnectionStateMachine();
      return events.map((event) => machine.apply(event));
    };
    assert.deepEqual(walk(['start', 'opened', 'lost', 'retry', 'failed', 'retry', 'opened', 'stop', 'stopped']), [
      'opening',
      'open',
      'waiting-to-retry',
      'opening',
      'waiting-to-retry',
      'opening',
      'open',
      'closing',
      'idle',
    ]);
    assert.equal(nextState('closing', 'lost'), undefined, 'an unplug during a deploy is not a fault');
    assert.equal(nextState('closing', 'retry'), undefined);
    assert.equal(nextState('idle', 'opened'), undefined);
    assert.equal(nextState('open', 'reopen'), 'opening');
  });
});

describe('status line', () => {
  const counts = { telegrams: 0, invalid: 0, skipped: 0 };
  const timeZone = 'UTC';
  it('follows the connection first, then a late telegram, then shows the power and the counts', () => {
    assert.deepEqual(p1Status({ state: 'opening', info: {}, counts, timeZone }), statusView('connecting'));
    assert.deepEqual(p1Status({ state: 'opening', info: { retrying: true }, counts, timeZone }), { kind: 'retrying', fill: 'yellow', shape: 'ring', key: 'retrying' });
    assert.deepEqual(p1Status({ state: 'waiting-to-retry', info: { error: new SourceError('x', 'unplugged') }, counts, timeZone }), {
      kind: 'error',
      fill: 'red',
      shape: 'ring',
      key: 'error',
      params: { code: 'unplugged' },
    });
    assert.equal(p1Status({ state: 'waiting-to-retry', info: {}, counts, timeZone })!.key, 'disconnected');
    assert.deepEqual(p1Status({ state: 'open', info: { detecting: true, detail: '9600 7E1' }, counts, timeZone }), statusView('connecting', 'detecting', { settings: '9600 7E1' }));
    assert.deepEqual(p1Status({ state: 'open', info: {}, counts, timeZone }), { kind: 'connected', fill: 'green', shape: 'dot', key: 'connected' });
    assert.deepEqual(p1Status({ state: 'open', info: {}, counts: { telegrams: 4, invalid: 1, skipped: 2 }, lastPower: '1.234 kW', timeZone }), {
      kind: 'connected',
      fill: 'green',
      shape: 'dot',
      key: 'power-invalid-skipped',
      params: { power: '1.234 kW', invalid: 1, skipped: 2 },
    });
    assert.deepEqual(p1Status({ state: 'open', info: {}, counts: { telegrams: 4, invalid: 3, skipped: 0 }, lastPower: '1.234 kW', lastInvalidCode: 'crc', timeZone }), {
      kind: 'error',
      fill: 'red',
      shape: 'ring',
      key: 'invalid',
      params: { code: 'crc', invalid: 3 },
    });
    const late = p1Status({ state: 'open', info: { lateSince: Date.UTC(2024, 0, 1, 12, 3, 4) }, counts, lastPower: '0.244 kW', timeZone });
    assert.deepEqual(late, { kind: 'warning', fill: 'yellow', shape: 'ring', key: 'late', params: { time: '12:03:04' } });
    assert.equal(p1Status({ state: 'closing', info: {}, counts, timeZone }), undefined);
  });

  it('shows the time of a late telegram in the given zone', () => {
    assert.equal(clockTime(Date.UTC(2024, 6, 1, 10, 0, 5), 'Europe/Amsterdam'), '12:00:05');
    assert.equal(clockTime(Date.UTC(2024, 0, 1, 23, 59, 59), 'UTC'), '23:59:59');
  });
});
