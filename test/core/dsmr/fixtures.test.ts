/**
 * Every fixture in index.json is handled as its `expected` field says. The index is iterated,
 * so a fixture added to the index without a matching behaviour fails here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTelegram, TelegramFramer, isDsmrError, type DsmrError, type ParsedTelegram } from '../../../src/core/dsmr';
import { expectationOf, fixtures, readFixture, type Fixture } from './fixture-index';

function rejects(run: () => unknown, code: string): DsmrError {
  try {
    run();
  } catch (error) {
    assert.ok(isDsmrError(error), `expected a DsmrError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}, but it parsed`);
}

function normalisedCrc(written: string | null | undefined): string | null {
  return written ? written.toUpperCase().padStart(4, '0') : null;
}

function keysOf(f: Fixture): { decryptionKey: string; authenticationKey?: string } {
  assert.ok(f.encryption, `${f.file} has no keys in the index`);
  return f.encryption.authentication_key
    ? { decryptionKey: f.encryption.key, authenticationKey: f.encryption.authentication_key }
    : { decryptionKey: f.encryption.key };
}

/** Checks that apply to every telegram that parses. */
function checkParsed(f: Fixture, telegram: ParsedTelegram): void {
  assert.ok(telegram.header.length > 0, 'header');
  assert.equal(telegram.manufacturer, telegram.header.slice(0, 3));
  assert.ok(Object.keys(telegram.objects).length > 0, 'objects');
  if (f.crc_computed) assert.equal(telegram.crc.computed, f.crc_computed, 'computed CRC');
  if (f.mbus_channels) {
    const channels: Array<{ channel: number; device_type: string }> = f.mbus_channels;
    for (const device of telegram.mbus) {
      const listed = channels.find((c) => c.channel === device.channel);
      assert.ok(listed, `device on channel ${device.channel} is listed in the index`);
      assert.equal(device.deviceType, Number(listed.device_type));
    }
  }
}

const telegramFixtures = fixtures.filter((f) => f.kind === 'telegram');

describe('DSMR fixtures: every telegram as index.json expects', () => {
  it('covers the whole index', () => {
    assert.equal(fixtures.length, 65);
    const kinds = new Set(fixtures.map((f) => f.kind));
    assert.deepEqual([...kinds].sort(), ['dlms-binary', 'encrypted-frame', 'mbus-binary', 'stream', 'telegram']);
  });

  for (const f of telegramFixtures) {
    const expectation = expectationOf(f);
    it(`${f.file}: ${expectation}`, () => {
      const bytes = readFixture(f.file);
      switch (expectation) {
        case 'accept': {
          const telegram = parseTelegram(bytes);
          checkParsed(f, telegram);
          assert.equal(telegram.crc.valid, f.has_crc ? true : null);
          assert.equal(telegram.crc.expected, normalisedCrc(f.crc_in_telegram));
          // The same bytes as a latin-1 string give the same result.
          assert.deepEqual(parseTelegram(bytes.toString('latin1')), telegram);
          break;
        }
        case 'reject-crc':
        case 'crc-bad-in-source': {
          const error = rejects(() => parseTelegram(bytes), 'CRC_MISMATCH');
          assert.ok(error.raw && error.raw[0] === 0x2f, 'the error carries the telegram bytes');
          assert.match(error.message, /CRC/);
          const telegram = parseTelegram(bytes, { crc: 'off' });
          checkParsed(f, telegram);
          assert.equal(telegram.crc.valid, false);
          assert.equal(telegram.crc.expected, normalisedCrc(f.crc_in_telegram));
          break;
        }
        case 'reject-missing-crc': {
          const error = rejects(() => parseTelegram(bytes), 'CRC_MISMATCH');
          assert.match(error.message, /no CRC after "!"/);
          const telegram = parseTelegram(bytes, { crc: 'off' });
          checkParsed(f, telegram);
          assert.equal(telegram.crc.valid, null);
          break;
        }
        case 'incomplete': {
          rejects(() => parseTelegram(bytes), 'INCOMPLETE');
          rejects(() => parseTelegram(bytes, { crc: 'off' }), 'INCOMPLETE');
          // A stream framer never emits it: at the end of input it is one INCOMPLETE error.
          const framer = new TelegramFramer();
          const events = [...framer.push(bytes), ...framer.flush()];
          assert.deepEqual(events.map((e) => (e.type === 'error' ? e.error.code : e.type)), ['INCOMPLETE']);
          break;
        }
        case 'lf-only': {
          const telegram = parseTelegram(bytes);
          assert.equal(telegram.crc.valid, true);
          assert.equal(telegram.crc.lineEndingsRepaired, true);
          assert.equal(telegram.crc.expected, normalisedCrc(f.crc_in_telegram));
          assert.equal(telegram.version, '50');
          break;
        }
        default:
          assert.fail(`no expectation for ${f.file}`);
      }
    });
  }

  for (const f of fixtures.filter((x) => x.kind === 'encrypted-frame')) {
    const expectation = expectationOf(f);
    it(`${f.file}: ${expectation}`, () => {
      const frame = readFixture(f.file);
      const keys = keysOf(f);
      if (expectation === 'decrypt-accept') {
        const telegram = parseTelegram(frame, keys);
        checkParsed(f, telegram);
        assert.equal(telegram.crc.valid, true);
        assert.equal(telegram.decrypted, true);
        assert.equal(telegram.variant, 'LU');
      } else {
        const error = rejects(() => parseTelegram(frame, keys), 'CRC_MISMATCH');
        // The CRC failure is of the decrypted plaintext: decryption itself worked.
        assert.equal(error.raw?.subarray(0, 5).toString('latin1'), '/Lux5');
        const telegram = parseTelegram(frame, { ...keys, crc: 'off' });
        checkParsed(f, telegram);
        assert.equal(telegram.crc.valid, false);
        assert.equal(telegram.decrypted, true);
      }
      rejects(() => parseTelegram(frame), 'DECRYPTION_FAILED');
      rejects(() => parseTelegram(frame, { ...keys, decryptionKey: '00'.repeat(16) }), 'DECRYPTION_FAILED');
    });
  }

  for (const f of fixtures.filter((x) => x.kind === 'stream')) {
    it(`${f.file}: the framer yields the ${f.expected_complete_telegrams} complete telegrams`, () => {
      const bytes = readFixture(f.file);
      const framer = new TelegramFramer();
      const pushed = framer.push(bytes);
      const valid = (events: typeof pushed) =>
        events.filter((e) => {
          if (e.type !== 'telegram') return false;
          try {
            parseTelegram(e.raw);
            return true;
          } catch {
            return false;
          }
        }).length;
      const flushed = framer.flush();
      if (f.file.startsWith('ndokter_')) {
        // Partial telegram at both ends: push() yields exactly the two whole ones. The last
        // telegram lacks only its final LF; flush() at the end of input recovers it.
        assert.equal(pushed.filter((e) => e.type === 'telegram').length, f.expected_complete_telegrams);
        assert.equal(valid(pushed), f.expected_complete_telegrams);
        assert.equal(valid(flushed), 1);
        assert.ok(framer.stats.skippedBytes > 0, 'the leading partial telegram was skipped');
      } else {
        // Frames without line ends: the last good one ends the input and is emitted by flush().
        assert.equal(valid([...pushed, ...flushed]), f.expected_complete_telegrams);
        const bad = [...pushed, ...flushed].filter((e) => e.type === 'telegram').length - (f.expected_complete_telegrams ?? 0);
        assert.equal(bad, 2, 'the frames with a wrong or short CRC are framed and then fail the CRC check');
      }
      assert.equal(framer.bufferedBytes, 0);
    });
  }

  for (const f of fixtures.filter((x) => x.kind === 'dlms-binary' || x.kind === 'mbus-binary')) {
    it(`${f.file}: binary HAN frame (not P1 text) is rejected as MALFORMED`, () => {
      const bytes = readFixture(f.file);
      rejects(() => parseTelegram(bytes), 'MALFORMED');
      rejects(() => parseTelegram(bytes, { crc: 'off' }), 'MALFORMED');
    });
  }
});
