import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseTelegram, TelegramFramer, type FramerEvent } from '../../../src/core/dsmr';
import { expectationOf, fixtures, readFixture } from './fixture-index';

/** Valid fixture telegrams from '/' through the CRC line, each ending in CR LF. */
const pool: Buffer[] = fixtures
  .filter((f) => f.kind === 'telegram' && expectationOf(f) === 'accept')
  .map((f) => {
    const bytes = readFixture(f.file);
    const start = bytes.indexOf(0x2f);
    const bang = bytes.indexOf(0x21, start);
    let end = bang + 1;
    while (end < bytes.length && end - bang <= 4 && /[0-9a-fA-F]/.test(String.fromCharCode(bytes[end]))) end++;
    return Buffer.concat([bytes.subarray(start, end), Buffer.from('\r\n')]);
  });

function kinds(events: FramerEvent[]): string[] {
  return events.map((e) => (e.type === 'telegram' ? 'telegram' : e.error.code));
}

function telegrams(events: FramerEvent[]): Buffer[] {
  return events.flatMap((e) => (e.type === 'telegram' ? [e.raw] : []));
}

function pushAll(framer: TelegramFramer, chunks: Array<Buffer | string>): FramerEvent[] {
  return chunks.flatMap((chunk) => framer.push(chunk));
}

describe('DSMR TelegramFramer', () => {
  it('has a pool of valid telegrams from the fixtures', () => {
    assert.ok(pool.length >= 15, `pool of ${pool.length}`);
    for (const raw of pool) parseTelegram(raw);
  });

  it('yields the same telegrams byte by byte as in one chunk, back to back, strings too', () => {
    const stream = Buffer.concat(pool);
    const whole = new TelegramFramer().push(stream);
    assert.deepEqual(telegrams(whole), pool);
    const framer = new TelegramFramer();
    const bytewise: FramerEvent[] = [];
    for (let i = 0; i < stream.length; i++) bytewise.push(...framer.push(stream.subarray(i, i + 1)));
    assert.deepEqual(telegrams(bytewise), pool);
    assert.deepEqual(telegrams(new TelegramFramer().push(stream.toString('latin1'))), pool);
    assert.equal(framer.stats.telegrams, pool.length);
    assert.equal(framer.stats.errors, 0);
  });

  it('ends a telegram at a byte that cannot belong to the CRC line (no line end)', () => {
    const events = new TelegramFramer().push('/ABC5 x\r\n1-0:1.8.1(1.0*kWh)\r\n!12AB/DEF5\r\n!\r\n');
    assert.deepEqual(telegrams(events).map((raw) => raw.toString('latin1')), ['/ABC5 x\r\n1-0:1.8.1(1.0*kWh)\r\n!12AB', '/DEF5\r\n!\r\n']);
  });

  it('reports a telegram cut off by the next header once, and keeps the next one', () => {
    const [first, second] = pool;
    const framer = new TelegramFramer();
    const events = pushAll(framer, [first.subarray(0, 300), second]);
    assert.deepEqual(kinds(events), ['INCOMPLETE', 'telegram']);
    assert.deepEqual(events[0].raw, first.subarray(0, 300));
    assert.match(events[0].type === 'error' ? events[0].error.message : '', /cut off after 300 bytes/);
    assert.deepEqual(telegrams(events), [second]);
  });

  it('does not restart at a "/" that is not followed by a manufacturer code (text message "test-/-test")', () => {
    const text = readFixture('athombv_iskra-mt-382-no-crc-with-text-message.txt').toString('latin1') + '!\r\n';
    const events = new TelegramFramer().push(text);
    assert.deepEqual(kinds(events), ['telegram']);
    assert.equal(parseTelegram(telegrams(events)[0]).textMessage, 'test-/-test');
  });

  it('skips bytes before the first header and gateway trailers after "!" without errors', () => {
    const easy = readFixture('ndokter_de-easymeter-q3db1024-gateway-trailer.txt');
    const framer = new TelegramFramer();
    const events = pushAll(framer, [pool[0].subarray(200), easy, easy, easy]);
    assert.deepEqual(kinds(events), ['telegram', 'telegram', 'telegram']);
    assert.ok(framer.stats.skippedBytes > pool[0].length - 200);
  });

  it('reports a telegram larger than the maximum once, keeps memory bounded, and recovers', () => {
    const framer = new TelegramFramer({ maxTelegramBytes: 512 });
    const big = Buffer.concat([Buffer.from('/BIG5\r\n\r\n'), Buffer.alloc(5000, '1-0:1.8.1(000001.000*kWh)\r\n'), Buffer.from('!0000\r\n')]);
    const events: FramerEvent[] = [];
    for (let i = 0; i < big.length; i += 100) {
      events.push(...framer.push(big.subarray(i, i + 100)));
      assert.ok(framer.bufferedBytes <= 512, `held ${framer.bufferedBytes}`);
    }
    const small = pool.find((raw) => raw.length < 512);
    assert.ok(small);
    events.push(...framer.push(small));
    assert.deepEqual(kinds(events), ['TOO_LARGE', 'telegram']);
    assert.equal(events[0].raw.length, 512);
    assert.match(events[0].type === 'error' ? events[0].error.message : '', /beyond 512 bytes/);
  });

  it('reports a long run of bytes without any header once (wrong baud rate), holding nothing', () => {
    const framer = new TelegramFramer({ maxTelegramBytes: 1024 });
    const garbage = Buffer.alloc(4096, 0x55);
    const events = pushAll(framer, [garbage, garbage]);
    assert.deepEqual(kinds(events), ['MALFORMED']);
    assert.match(events[0].type === 'error' ? events[0].error.message : '', /baud rate/);
    assert.equal(framer.bufferedBytes, 0);
    assert.deepEqual(telegrams(framer.push(pool[1])), [pool[1]]);
  });

  it('with reportNoise, reports each run of non-blank bytes between telegrams, not blank ones', () => {
    const framer = new TelegramFramer({ reportNoise: true });
    const events = pushAll(framer, [pool[0], 'garbage!!', pool[1], '\r\n\r\n', pool[2]]);
    assert.deepEqual(kinds(events), ['telegram', 'MALFORMED', 'telegram', 'telegram']);
    assert.equal(events[1].raw.toString('latin1'), 'garbage!!');
  });

  it('flush() ends the input: a telegram missing only its line end is emitted, a partial one is an error', () => {
    const framer = new TelegramFramer();
    const withoutLineEnd = pool[0].subarray(0, pool[0].length - 2);
    assert.deepEqual(framer.push(withoutLineEnd), []);
    assert.deepEqual(telegrams(framer.flush()), [withoutLineEnd]);
    framer.push(pool[1].subarray(0, 100));
    assert.equal(framer.bufferedBytes, 100);
    assert.deepEqual(kinds(framer.flush()), ['INCOMPLETE']);
    assert.equal(framer.bufferedBytes, 0);
  });

  it('reset() forgets a partial telegram after a reconnect', () => {
    const framer = new TelegramFramer();
    framer.push(pool[0].subarray(0, 100));
    framer.reset();
    assert.equal(framer.bufferedBytes, 0);
    // The tail of the old telegram arrives first: it is skipped, not glued to the old head.
    const events = pushAll(framer, [pool[0].subarray(100), pool[1]]);
    assert.deepEqual(telegrams(events), [pool[1]]);
    assert.equal(framer.stats.errors, 0);
  });

  it('copies what it holds: a caller reusing its chunk buffer does not corrupt a telegram', () => {
    const framer = new TelegramFramer();
    const chunk = Buffer.from(pool[0].subarray(0, 200));
    framer.push(chunk);
    chunk.fill(0x41);
    assert.deepEqual(telegrams(framer.push(pool[0].subarray(200))), [pool[0]]);
  });

  it('frames encrypted Smarty frames from chunks with noise between them', () => {
    const frame = readFixture('esphome_lu-smarty-encrypted-sagemcom-t210dr.bin');
    const framer = new TelegramFramer({ encrypted: true });
    const stream = Buffer.concat([Buffer.from('noise'), frame, Buffer.from([0xdb, 0x00, 0x01]), frame, frame.subarray(0, 40)]);
    const events: FramerEvent[] = [];
    for (let i = 0; i < stream.length; i += 7) events.push(...framer.push(stream.subarray(i, i + 7)));
    assert.deepEqual(telegrams(events), [frame, frame]);
    assert.equal(framer.bufferedBytes, 40);
    assert.deepEqual(kinds(framer.flush()), ['INCOMPLETE']);
    const telegram = parseTelegram(telegrams(events)[0], { decryptionKey: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    assert.equal(telegram.electricity.deliveredTotal, 6545.766);
  });

  it('property: any chunking of valid telegrams with noise and truncated telegrams between them yields exactly the valid telegrams, in order, with bounded memory', () => {
    type Piece = { kind: 'telegram'; index: number } | { kind: 'noise'; bytes: Uint8Array } | { kind: 'truncated'; index: number; fraction: number };
    const piece: fc.Arbitrary<Piece> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('telegram' as const), index: fc.nat({ max: pool.length - 1 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('noise' as const), bytes: fc.uint8Array({ maxLength: 200 }) }) },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('truncated' as const), index: fc.nat({ max: pool.length - 1 }), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
      },
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 25 }), fc.array(fc.nat(), { maxLength: 60 }), fc.integer({ min: 128, max: 20000 }), (pieces, cutSeeds, maxTelegramBytes) => {
        const parts: Buffer[] = [];
        const expected: Buffer[] = [];
        let oversize = 0;
        let truncated = 0;
        for (const p of pieces) {
          if (p.kind === 'telegram') {
            parts.push(pool[p.index]);
            if (pool[p.index].length <= maxTelegramBytes) expected.push(pool[p.index]);
            else oversize++;
          } else if (p.kind === 'noise') {
            // Noise holds no '/' (it would be a header) and no '!': after a cut-off telegram a
            // '!' would end it, and a telegram without CRC cannot be told from such a fragment.
            parts.push(Buffer.from(p.bytes.filter((b) => b !== 0x2f && b !== 0x21)));
          } else {
            const raw = pool[p.index];
            const bang = raw.indexOf(0x21);
            // At least the header (a '/' and three letters): a lone '/' is not recognisably a telegram.
            parts.push(raw.subarray(0, 4 + Math.floor(p.fraction * (bang - 4))));
            truncated++;
          }
        }
        const stream = Buffer.concat(parts);
        const cuts = [...new Set(cutSeeds.map((seed) => (stream.length > 0 ? seed % stream.length : 0)))].sort((a, b) => a - b);
        const framer = new TelegramFramer({ maxTelegramBytes });
        const events: FramerEvent[] = [];
        let from = 0;
        for (const cut of [...cuts, stream.length]) {
          events.push(...framer.push(stream.subarray(from, cut)));
          from = cut;
          assert.ok(framer.bufferedBytes <= maxTelegramBytes, `held ${framer.bufferedBytes} > ${maxTelegramBytes}`);
        }
        events.push(...framer.flush());
        assert.equal(framer.bufferedBytes, 0);
        assert.deepEqual(telegrams(events), expected);
        const errors = kinds(events).filter((kind) => kind === 'INCOMPLETE' || kind === 'TOO_LARGE');
        assert.equal(errors.length, truncated + oversize, 'one error per truncated or oversized telegram');
      }),
      { numRuns: 300 },
    );
  });
});
