import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TelegramCadence } from '../../../src/core/p1-source/cadence';

function cadenceOf(times: number[]): TelegramCadence {
  const cadence = new TelegramCadence();
  for (const at of times) cadence.telegram(at);
  return cadence;
}

describe('telegram cadence (the silence timeout learned from the meter)', () => {
  it('waits 30 s while the interval is unknown, then 3 intervals, at least 5 s', () => {
    assert.equal(new TelegramCadence().silenceTimeoutMs(), 30_000);
    assert.equal(cadenceOf([0]).silenceTimeoutMs(), 30_000, 'one telegram shows no interval');
    assert.equal(cadenceOf([0, 1000, 2000]).silenceTimeoutMs(), 5_000, 'DSMR 5, every second: at least 5 s');
    assert.equal(cadenceOf([0, 10_000, 20_000]).silenceTimeoutMs(), 30_000, 'DSMR 4 and Luxembourg, every 10 s');
    assert.equal(cadenceOf([0, 5_000]).silenceTimeoutMs(), 15_000);
  });

  it('counts the longest of the last four intervals, so one early telegram does not shorten the wait', () => {
    assert.equal(cadenceOf([0, 10_000, 10_050]).intervalMs, 10_000);
    assert.equal(cadenceOf([0, 10_000, 11_000, 12_000, 13_000, 14_000]).intervalMs, 1000, 'a meter that changed its rhythm is followed');
  });

  it('calls the next telegram late after 2 intervals (at least 3 s), or 15 s while unknown', () => {
    assert.equal(new TelegramCadence().lateAfterMs(), 15_000);
    assert.equal(cadenceOf([0, 1000]).lateAfterMs(), 3_000);
    assert.equal(cadenceOf([0, 10_000]).lateAfterMs(), 20_000);
  });

  it('does not take the gap across a reconnect, or telegrams in one chunk, for the interval', () => {
    const cadence = cadenceOf([0, 1000]);
    cadence.reconnected();
    cadence.telegram(600_000);
    cadence.telegram(600_000);
    assert.equal(cadence.intervalMs, 1000);
    assert.equal(cadence.lastTelegramAt, 600_000);
  });
});
