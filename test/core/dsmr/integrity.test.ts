/**
 * Nothing forged or damaged gets through the DSMR core: Luxembourg frames must be authenticated,
 * a damaged CRC line does not switch the CRC check off, the telegram is found in what the parser
 * is given, placeholder entries are flagged rather than dropped or dated 2070, and the framer's
 * memory and work stay bounded.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import {
  crc16arc,
  decryptFrame,
  formatCrc,
  isDsmrError,
  parseTelegram,
  MAX_TELEGRAM_BYTES,
  TelegramFramer,
  type DsmrError,
  type FramerEvent,
  type ParseOptions,
} from '../../../src/core/dsmr';
import { fixture, fixtures, readFixture } from './fixture-index';
import { KEY, securityOffset, smartyFrame, wrap } from './smarty-frame';

function refusal(run: () => unknown): DsmrError {
  try {
    run();
  } catch (error) {
    assert.ok(isDsmrError(error), `expected a DsmrError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a refusal, but it parsed');
}

/** A telegram from its lines with a correct CRC. */
function telegram(lines: string[]): string {
  const body = `${lines.join('\r\n')}\r\n!`;
  return `${body}${formatCrc(crc16arc(Buffer.from(body, 'latin1')))}\r\n`;
}

const LU_FRAME = fixture('esphome_lu-smarty-encrypted-sagemcom-t210dr.bin');
const LU_KEYS: ParseOptions = { decryptionKey: LU_FRAME.encryption?.key, authenticationKey: LU_FRAME.encryption?.authentication_key ?? undefined };

describe('DSMR integrity: Luxembourg frames must be authenticated', () => {
  const plain = readFixture('ndokter_lu-sagemcom-t210dr-plain.txt');

  it('refuses a 0x10 frame (plain telegram, made-up tag) built without the key', () => {
    const forged = smartyFrame(plain, { security: 0x10 });
    const error = refusal(() => parseTelegram(forged, { decryptionKey: KEY }));
    assert.equal(error.code, 'DECRYPTION_FAILED');
    assert.match(error.message, /not authenticated/);
  });

  it('refuses the real 0x30 fixture frames with their security byte changed to 0x20 or 0x10', () => {
    const real = fixtures.filter((f) => f.kind === 'encrypted-frame' && (f.encryption as { security_byte?: string } | undefined)?.security_byte === '0x30');
    assert.ok(real.length >= 3, `${real.length} fixture frames`);
    for (const f of real) {
      const keys = { decryptionKey: f.encryption?.key, authenticationKey: f.encryption?.authentication_key ?? undefined };
      const frame = readFixture(f.file);
      assert.equal(frame[securityOffset(frame)], 0x30);
      parseTelegram(frame, { ...keys, crc: 'off' }); // the frame itself is fine
      for (const security of [0x20, 0x10]) {
        const changed = Buffer.from(frame);
        changed[securityOffset(changed)] = security;
        const error = refusal(() => parseTelegram(changed, keys));
        assert.equal(error.code, 'DECRYPTION_FAILED', `${f.file} as 0x${security.toString(16)}`);
        assert.match(error.message, /not authenticated/);
      }
    }
  });

  it('refuses a reading flipped blindly in an unauthenticated 0x20 frame (5017.12 kWh → 905017.12 kWh, CRC fixed up)', () => {
    const frame = readFixture(LU_FRAME.file);
    const real = decryptFrame(frame, LU_KEYS);
    const text = real.toString('latin1');
    assert.ok(text.includes('1-0:1.8.1(005017120*Wh)'));
    // The attacker knows the layout, not the key: XOR the difference into the CTR keystream.
    const bang = text.indexOf('!');
    const body = text.slice(0, bang + 1).replace('1-0:1.8.1(005017120*Wh)', '1-0:1.8.1(905017120*Wh)');
    const forgedText = Buffer.from(`${body}${formatCrc(crc16arc(Buffer.from(body, 'latin1')))}${text.slice(bang + 5)}`, 'latin1');
    const at = securityOffset(frame);
    const ciphertext = Buffer.from(frame.subarray(at + 5, frame.length - 12));
    for (let i = 0; i < ciphertext.length; i++) ciphertext[i] ^= real[i] ^ forgedText[i];
    const forged = wrap(Buffer.concat([Buffer.from([0x20]), frame.subarray(at + 1, at + 5), ciphertext]), '82', frame.subarray(2, 2 + frame[1]));
    // It is a working forgery: AES-CTR with the real key gives the changed reading with a valid CRC.
    const iv = Buffer.concat([frame.subarray(2, 10), frame.subarray(at + 1, at + 5), Buffer.from([0, 0, 0, 2])]);
    const decipher = createDecipheriv('aes-128-ctr', Buffer.from(LU_KEYS.decryptionKey as string, 'hex'), iv);
    const revealed = parseTelegram(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
    assert.equal(revealed.electricity.deliveredTariff1, 905017.12);
    assert.equal(revealed.crc.valid, true);

    const error = refusal(() => parseTelegram(forged, LU_KEYS));
    assert.equal(error.code, 'DECRYPTION_FAILED');
    assert.match(error.message, /not authenticated/);
  });

  it('says "wrong key or tampered frame" for a wrong key and for a changed byte of a 0x30 frame, never "baud rate"', () => {
    const frame = readFixture(LU_FRAME.file);
    const tampered = Buffer.from(frame);
    tampered[securityOffset(tampered) + 20] ^= 0x08;
    for (const [input, options] of [
      [frame, { ...LU_KEYS, decryptionKey: 'B'.repeat(32) }],
      [tampered, LU_KEYS],
    ] as const) {
      const error = refusal(() => parseTelegram(input, options));
      assert.equal(error.code, 'DECRYPTION_FAILED');
      assert.match(error.message, /wrong key or tampered frame/);
      assert.doesNotMatch(error.message, /baud/);
    }
  });

  it('with a key set, refuses a plain telegram: it was not authenticated', () => {
    const error = refusal(() => parseTelegram(plain, { decryptionKey: KEY }));
    assert.equal(error.code, 'DECRYPTION_FAILED');
    assert.match(error.message, /not authenticated/);
    assert.equal(parseTelegram(plain).electricity.deliveredTariff1, 5017.12, 'without a key it is an ordinary telegram');
  });
});

describe('DSMR integrity: a damaged CRC line does not switch the CRC check off', () => {
  // One changed reading each, which only the CRC can tell.
  const requiringCrc: Array<[file: string, from: string, to: string]> = [
    ['ndokter_v5-iskra-mt382.txt', '1-0:1.7.0(00.244*kW)', '1-0:1.7.0(09.244*kW)'],
    ['ndokter_v4.2-kaifa-power-failure-log.txt', '1-0:1.8.1(001581.123*kWh)', '1-0:1.8.1(001581.923*kWh)'],
    ['ndokter_be-emucs-1.7.1-fluvius-peak-gas-water.txt', '1-0:1.8.1(000000.034*kWh)', '1-0:1.8.1(000900.034*kWh)'],
    ['ndokter_lu-sagemcom-t210dr-plain.txt', '1-0:1.8.1(005017120*Wh)', '1-0:1.8.1(905017120*Wh)'],
  ];
  const damage: Array<[name: string, crcLine: (digits: string) => string]> = [
    ['!X234 (a digit damaged)', (d) => `X${d.slice(1)}`],
    ['! alone (the digits lost)', () => ''],
    ['! 1234 (shifted by a space)', (d) => ` ${d}`],
    ['a fifth digit', (d) => `${d}0`],
    ['a non-hex byte among the digits', (d) => `${d.slice(0, 2)}Z${d.slice(3)}`],
    ['digits followed by something other than the line end', (d) => `${d}\t`],
  ];

  for (const [file, from, to] of requiringCrc) {
    it(`${file}: every damaged CRC line is CRC_MISMATCH in strict mode`, () => {
      const text = readFixture(file).toString('latin1');
      assert.ok(text.includes(from), from);
      const match = /!([0-9A-Fa-f]{4})(\r?\n)?$/.exec(text);
      assert.ok(match, 'the fixture ends with a four-digit CRC line');
      for (const [name, crcLine] of damage) {
        const damaged: string = `${text.slice(0, match.index).replace(from, to)}!${crcLine(match[1])}\r\n`;
        const error = refusal(() => parseTelegram(damaged));
        assert.equal(error.code, 'CRC_MISMATCH', `${name}: ${error.message}`);
        assert.match(error.message, /CRC/);
        // With the check off the changed reading is read, and nothing claims it was verified.
        assert.equal(parseTelegram(damaged, { crc: 'off' }).crc.valid, null, name);
      }
    });
  }

  it('a decrypted frame whose telegram has no CRC is CRC_MISMATCH', () => {
    const text = readFixture('ndokter_lu-sagemcom-t210dr-plain.txt').toString('latin1');
    const withoutCrc = Buffer.from(`${text.slice(0, text.indexOf('!') + 1)}\r\n`, 'latin1');
    assert.equal(refusal(() => parseTelegram(smartyFrame(withoutCrc), { decryptionKey: KEY })).code, 'CRC_MISMATCH');
  });

  it('DSMR 2.2 and 3 telegrams, which have no CRC, still parse in strict mode', () => {
    for (const file of ['ndokter_v2.2-iskra-mt382.txt', 'ndokter_v3-iskra-mt382.txt', 'athombv_dsmr-2.2-kfm-1.txt', 'athombv_dsmr-3.0-spec-example.txt']) {
      const t = parseTelegram(readFixture(file));
      assert.equal(t.crc.valid, null, file);
      assert.equal(t.crc.expected, null, file);
    }
  });

  it('a telegram with a version line 1-3:0.2.8 or 0-0:96.1.4 and a bare "!" is refused, the same lines without them parse', () => {
    const lines = ['/ABC5 test', '', '0-0:1.0.0(240315101530W)', '1-0:1.8.1(000001.000*kWh)', '!'];
    for (const version of ['1-3:0.2.8(50)', '0-0:96.1.4(50217)', '1-3:0.2.8(40)']) {
      const withVersion = [...lines.slice(0, 2), version, ...lines.slice(2)].join('\r\n');
      assert.equal(refusal(() => parseTelegram(withVersion)).code, 'CRC_MISMATCH', version);
    }
    assert.equal(parseTelegram(lines.join('\r\n')).electricity.deliveredTariff1, 1);
  });
});

describe('DSMR integrity: parseTelegram finds the last complete telegram in its input', () => {
  const previous = readFixture('ndokter_v4.2-kaifa-power-failure-log.txt');
  const whole = readFixture('ndokter_v5-iskra-mt382.txt');
  const expected = parseTelegram(whole);

  it("parses a buffer that starts with the previous telegram's tail (its !XXXX line included) to the telegram after it", () => {
    const tail = previous.subarray(previous.length - 300);
    assert.match(tail.toString('latin1'), /!6796\r\n$/);
    for (const input of [Buffer.concat([tail, whole]), Buffer.concat([tail, whole]).toString('latin1')]) {
      const t = parseTelegram(input);
      const { skippedBytes, ...rest } = t;
      assert.equal(skippedBytes, 300);
      assert.deepEqual(rest, expected);
    }
  });

  it('of two whole telegrams parses the second; a whole telegram followed by the start of the next parses to the whole one', () => {
    assert.equal(parseTelegram(Buffer.concat([previous, whole])).skippedBytes, previous.length);
    assert.equal(parseTelegram(Buffer.concat([previous, whole])).header, expected.header);
    const t = parseTelegram(Buffer.concat([whole, previous.subarray(0, 200)]));
    assert.deepEqual(t, expected);
  });

  it('reports a header without any "!" after it as INCOMPLETE, with the bytes from that header', () => {
    const cut = Buffer.concat([previous.subarray(previous.length - 100), whole.subarray(0, 400)]);
    const error = refusal(() => parseTelegram(cut));
    assert.equal(error.code, 'INCOMPLETE');
    assert.deepEqual(error.raw, whole.subarray(0, 400));
  });
});

describe('DSMR integrity: placeholders are kept and flagged, not dropped or dated 2070', () => {
  it('keeps every power-failure log entry in order and flags each placeholder by the same rule', () => {
    const t = parseTelegram(
      telegram([
        '/ISK5\\2M550T-1012',
        '',
        '1-3:0.2.8(50)',
        '1-0:99.97.0(4)(0-0:96.7.19)(190326095015W)(0000002014*s)(000101000001W)(2147483647*s)(700101000000W)(0000000010*s)(200101120000W)(2147483647*s)',
      ]),
    );
    assert.deepEqual(t.electricity.powerFailureLog, [
      { end: '2019-03-26T09:50:15+01:00', durationSeconds: 2014 },
      { end: '000101000001W', durationSeconds: 2147483647, placeholder: true },
      { end: '700101000000W', durationSeconds: 10, placeholder: true },
      { end: '2020-01-01T12:00:00+01:00', durationSeconds: 2147483647, placeholder: true },
    ]);
  });

  it('gives an M-Bus reading captured at 000101000000 or 700101… no timestamp, and no device', () => {
    const t = parseTelegram(
      telegram([
        '/ISK5\\2M550T-1012',
        '',
        '1-3:0.2.8(50)',
        '0-1:24.1.0(003)',
        '0-1:96.1.0(4730303339303031393336393930363139)',
        '0-1:24.2.1(000101000000W)(00012.345*m3)',
        '0-2:24.1.0(003)',
        '0-2:96.1.0(4730303339303031393336393930363139)',
        '0-2:24.2.1(700101010000W)(00001.000*m3)',
        '0-3:24.1.0(003)',
        '0-3:96.1.0(4730303339303031393336393930363139)',
        '0-3:24.2.1(240315101500W)(00002.000*m3)',
      ]),
    );
    assert.deepEqual(t.objects['0-1:24.2.1'], { value: 12.345, unit: 'm3' });
    assert.deepEqual(t.objects['0-2:24.2.1'], { value: 1, unit: 'm3' });
    assert.deepEqual(t.mbus.map((device) => [device.channel, device.timestamp]), [[3, '2024-03-15T10:15:00+01:00']]);
    // A real meter's dead channel: 0-1:24.2.1(700101010000W)(00000000).
    assert.deepEqual(parseTelegram(readFixture('ndokter_v5-iskra-am550-two-mbus.txt')).objects['0-1:24.2.1'], { value: 0 });
  });
});

describe('DSMR integrity: the framer is bounded in memory and in work', () => {
  it('refuses a maxTelegramBytes above 64 KiB with a RangeError that names the limit, and accepts 64 KiB', () => {
    assert.equal(MAX_TELEGRAM_BYTES, 65536);
    assert.throws(() => new TelegramFramer({ maxTelegramBytes: MAX_TELEGRAM_BYTES + 1 }), (e: unknown) => e instanceof RangeError && /65536/.test(e.message));
    assert.throws(() => new TelegramFramer({ maxTelegramBytes: 1e9 }), RangeError);
    assert.equal(new TelegramFramer({ maxTelegramBytes: MAX_TELEGRAM_BYTES }).maxTelegramBytes, MAX_TELEGRAM_BYTES);
  });

  /** Bytes copied by Buffer.concat and Buffer.from(buffer) while `run` runs. */
  function bytesCopied(run: () => void): number {
    const { concat, from } = Buffer;
    let copied = 0;
    Buffer.concat = ((list: readonly Uint8Array[], length?: number) => {
      const result = concat(list, length);
      copied += result.length;
      return result;
    }) as typeof Buffer.concat;
    Buffer.from = ((...args: Parameters<typeof from>) => {
      const result = (from as (...a: unknown[]) => Buffer)(...args);
      if (args[0] instanceof Uint8Array) copied += result.length;
      return result;
    }) as typeof Buffer.from;
    try {
      run();
    } finally {
      Buffer.concat = concat;
      Buffer.from = from;
    }
    return copied;
  }

  it('copies each byte of a 60 KiB telegram pushed one byte at a time a bounded number of times, not once per push', () => {
    const lines = ['/BIG5 test', ''];
    while (lines.join('\r\n').length < 60 * 1024) lines.push(`1-0:1.8.1(${String(lines.length).padStart(6, '0')}.000*kWh)`);
    const big = Buffer.from(telegram(lines), 'latin1');
    const framer = new TelegramFramer({ maxTelegramBytes: MAX_TELEGRAM_BYTES });
    const events: FramerEvent[] = [];
    const copied = bytesCopied(() => {
      for (let i = 0; i < big.length; i++) events.push(...framer.push(big.subarray(i, i + 1)));
    });
    assert.deepEqual(events.map((e) => e.type), ['telegram']);
    assert.deepEqual(events[0].raw, big);
    assert.ok(copied <= 3 * big.length, `${copied} bytes copied for a ${big.length}-byte telegram`);
  });

  it('does the same for an encrypted frame pushed one byte at a time', () => {
    const frame = wrap(Buffer.concat([Buffer.from([0x30]), Buffer.alloc(60 * 1024, 0x41)]));
    const framer = new TelegramFramer({ maxTelegramBytes: MAX_TELEGRAM_BYTES, encrypted: true });
    const events: FramerEvent[] = [];
    const copied = bytesCopied(() => {
      for (let i = 0; i < frame.length; i++) events.push(...framer.push(frame.subarray(i, i + 1)));
    });
    assert.deepEqual(events.map((e) => e.type), ['telegram']);
    assert.deepEqual(events[0].raw, frame);
    assert.ok(copied <= 4 * frame.length, `${copied} bytes copied for a ${frame.length}-byte frame`);
  });
});
